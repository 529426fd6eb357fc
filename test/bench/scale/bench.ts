/**
 * The whole pipeline at several model counts: `stowage demo --models N --json` on a fresh state with graph
 * reuse, again on the same state (every trace cached), and on a fresh state with graph reuse switched off
 * (STOWAGE_GRAPH_REUSE=0). Prints each stage's wall time, traces per minute, the largest history (events,
 * bytes) and the peak RSS of each kind of process, sampled every second.
 *   npx tsc && node dist/test/bench/scale/bench.js [N ...]        (default 24; the machine's load is printed)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../../src/dev/ports';
import { STOWAGE_BIN } from '../../support/cli';

interface DemoDocument {
  stages: Record<string, { seconds: number | null; done: number }>;
  histories: {
    mostEvents: { workflowId: string; events: number };
    mostBytes: { workflowId: string; bytes: number };
  };
  result: { modelsServed: number; kneeRequestsPerSecond?: number };
  generateSeconds: number;
}

const ROLES: [string, RegExp][] = [
  ['temporal', /temporal server/],
  ['tracer', /stowage_tracer worker/],
  ['model servers', /stowage_tracer serve/],
  ['k6', /\bk6\b/],
  ['demo + TS worker', /bin\/stowage demo/],
];

/** Peak RSS (MiB) per role over the process tree under `root`; model servers summed at each sample. */
function sampleTree(root: number, peaks: Map<string, number>): void {
  const children = new Map<number, number[]>();
  const info = new Map<number, { rss: number; cmd: string }>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const rss = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1] ?? 0);
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      info.set(Number(entry), { rss: rss / 1024, cmd });
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while being read.
    }
  }
  const now = new Map<string, number>();
  const walk = (pid: number) => {
    const p = info.get(pid);
    const role = p && ROLES.find(([, re]) => re.test(p.cmd))?.[0];
    if (p && role) now.set(role, (now.get(role) ?? 0) + p.rss);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(root);
  for (const [role, mib] of now) peaks.set(role, Math.max(peaks.get(role) ?? 0, mib));
}

async function demo(
  models: number,
  state: string,
  env: NodeJS.ProcessEnv,
): Promise<{ doc: DemoDocument; seconds: number; peaks: Map<string, number> }> {
  const args = ['demo', '--models', String(models), '--json', '--port', String(await freePort())];
  args.push('--ui-port', String(await freePort()));
  const started = performance.now();
  const child = spawn(process.execPath, [STOWAGE_BIN, ...args], {
    env: { ...process.env, STOWAGE_STATE_DIR: state, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const peaks = new Map<string, number>();
  const timer = setInterval(() => sampleTree(child.pid!, peaks), 1000);
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  const code = await new Promise<number | null>((r) => child.once('close', r));
  clearInterval(timer);
  if (code !== 0)
    throw new Error(`stowage demo --models ${models} exited with ${code}:\n${stdout.slice(-2000)}`);
  const doc = JSON.parse(stdout.trim().split('\n').pop()!) as DemoDocument;
  return { doc, seconds: (performance.now() - started) / 1000, peaks };
}

function line(n: number, run: string, r: Awaited<ReturnType<typeof demo>>): string {
  const s = (name: string) => r.doc.stages[name]?.seconds?.toFixed(1) ?? '-';
  const trace = r.doc.stages.trace;
  const perMin = trace?.seconds ? ((trace.done / trace.seconds) * 60).toFixed(0) : '-';
  const h = r.doc.histories;
  const rss = [...r.peaks].map(([role, mib]) => `${role} ${mib.toFixed(0)}`).join(', ');
  return [
    n,
    run,
    r.doc.generateSeconds.toFixed(1),
    s('build'),
    s('trace'),
    s('pack'),
    s('deploy'),
    s('test'),
    s('report'),
    r.seconds.toFixed(1),
    perMin,
    `${h.mostEvents.events} ev / ${(h.mostBytes.bytes / 1024).toFixed(0)} KiB`,
    rss,
  ].join(' | ');
}

async function main(): Promise<void> {
  const counts = process.argv.slice(2).map(Number);
  console.log(
    `scale bench, load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs at the start`,
  );
  console.log(
    'N | run | generate s | build | trace | pack | deploy | test | report | total s | traces/min | largest history | peak RSS MiB',
  );
  for (const n of counts.length > 0 ? counts : [24]) {
    const state = fs.mkdtempSync(path.join(os.tmpdir(), `stowage-scale-${n}-`));
    const fresh = fs.mkdtempSync(path.join(os.tmpdir(), `stowage-scale-${n}-full-`));
    try {
      console.log(line(n, 'graph reuse', await demo(n, state, {})));
      console.log(line(n, 'all cached', await demo(n, state, {})));
      console.log(line(n, 'full traces', await demo(n, fresh, { STOWAGE_GRAPH_REUSE: '0' })));
    } finally {
      fs.rmSync(state, { recursive: true, force: true });
      fs.rmSync(fresh, { recursive: true, force: true });
    }
    console.log(`load average ${os.loadavg()[0].toFixed(1)} after N = ${n}`);
  }
}

void main();
