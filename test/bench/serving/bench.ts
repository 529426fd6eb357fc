/**
 * Serving benchmark (not a test: it measures, it asserts nothing). Two questions, on this machine:
 *
 * 1. Throughput at equal P90 (the SLO, 100 ms): the Stowage model server (micro-batching, padding cut)
 *    against a server written like the post's (python-tracer/bench/baseline_server.py), same models, same
 *    core (both pinned to one core with one torch thread; k6 pinned to another).
 * 2. Does the adaptive sweep (geometric ramp + bisection, ≤ 8 steps) find the knee a 20-step linear sweep
 *    finds, within ±5%?
 *
 *   make bench   (or: npx tsc -p tsconfig.json && node dist/test/bench/serving/bench.js)
 * BENCH_STEP_SECONDS (default 6), BENCH_SERVER_CPU / BENCH_K6_CPU (default 1 / 0), BENCH_PART: all
 * (default), server (question 1 only) or sweep (question 2 only, with a second adaptive run after the
 * linear one: on a shared machine the run-to-run spread is the yardstick for the ±5%).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectPaths } from '../../../src/config/paths';
import { freePort } from '../../../src/dev/ports';
import { kneeOf, type Slo } from '../../../src/domain/knee';
import type { StepFigures } from '../../../src/domain/step-figures';
import { adaptive, buildTracedModels, k6Steps, type Target } from './harness';

const paths = projectPaths();
const STEP_SECONDS = Number(process.env.BENCH_STEP_SECONDS ?? 6);
const SERVER_CPU = process.env.BENCH_SERVER_CPU ?? '1';
const K6_CPU = process.env.BENCH_K6_CPU ?? '0';
const SLO: Slo = { p90Ms: 100, maxErrorRate: 0.001 };
const MODELS = ['bench-0', 'bench-1', 'bench-2', 'bench-3'];

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-bench-'));

async function buildModels(): Promise<string> {
  // A small BERT (4 layers, hidden 256) traced at the post's sequence length, 128 tokens.
  const folders = await buildTracedModels(path.join(work, 'artifacts'), MODELS, [
    '--hidden',
    '256',
    '--layers',
    '4',
    '--sequence-length',
    '128',
  ]);
  const file = path.join(work, 'models.json');
  fs.writeFileSync(
    file,
    JSON.stringify({ models: MODELS.map((modelId) => ({ modelId, path: folders[modelId] })) }),
  );
  return file;
}

async function startServer(args: string[], port: number): Promise<ChildProcess> {
  const child = spawn(
    'taskset',
    ['-c', SERVER_CPU, paths.python, ...args, '--port', String(port), '--threads', '1'],
    {
      cwd: paths.pythonTracer,
      stdio: ['ignore', 'ignore', fs.openSync(path.join(work, `server-${port}.log`), 'a')],
    },
  );
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited, see ${work}/server-${port}.log`);
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`)
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) return child;
    if (Date.now() > deadline) throw new Error('server not ready');
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

/** The k6 target of a server on `port`, k6 pinned to its own core. */
const target = (port: number): Target => ({
  url: `http://127.0.0.1:${port}`,
  models: MODELS,
  work,
  stepSeconds: STEP_SECONDS,
  k6Cpus: K6_CPU,
});

async function main(): Promise<void> {
  const lines: string[] = [];
  const log = (s: string) => {
    lines.push(s);
    console.log(s);
  };
  log(
    `# Serving benchmark (${new Date().toISOString()}, ${os.cpus().length} cores: server on cpu ${SERVER_CPU}, k6 on cpu ${K6_CPU}, ${STEP_SECONDS}s steps, SLO P90 ≤ ${SLO.p90Ms} ms)`,
  );
  const models = await buildModels();
  const variants = [
    { name: 'post-style baseline', args: ['bench/baseline_server.py', '--models', models] },
    {
      name: 'stowage, no batching',
      args: ['-m', 'stowage_tracer', 'serve', '--models', models, '--max-batch', '1'],
    },
    {
      name: 'stowage (batch ≤ 8, 2 ms window)',
      args: [
        '-m',
        'stowage_tracer',
        'serve',
        '--models',
        models,
        '--max-batch',
        '8',
        '--batch-window-ms',
        '2',
      ],
    },
  ];
  const part = process.env.BENCH_PART ?? 'all';
  const chosen = part === 'sweep' ? variants.slice(-1) : variants;
  const results: Record<string, unknown>[] = [];
  let linear: Record<string, unknown> | undefined;
  for (const [i, variant] of chosen.entries()) {
    log(`## ${variant.name}`);
    const port = await freePort();
    const server = await startServer(variant.args, port);
    try {
      const found = await adaptive(target(port), SLO, log);
      results.push({
        variant: variant.name,
        knee: found.knee,
        steps: found.steps.length,
        reason: found.reason,
      });
      if (i === chosen.length - 1 && found.knee && part !== 'server') {
        // The reference: 20 evenly spaced rates up to 1.5× the adaptive knee, one k6 run.
        const top = found.knee.achievedRate * 1.5;
        const rates = Array.from({ length: 20 }, (_, k) => Math.round((top * (k + 1) * 100) / 20) / 100);
        const steps = await k6Steps(target(port), rates);
        const knee = kneeOf(steps, SLO);
        const diff = knee ? (found.knee.achievedRate - knee.achievedRate) / knee.achievedRate : null;
        log(
          `  linear 20-step sweep to ${top.toFixed(0)} req/s: knee ${knee?.achievedRate.toFixed(1)} req/s @ P90 ${knee?.p90Ms?.toFixed(1)} ms; adaptive differs by ${diff === null ? '—' : (diff * 100).toFixed(1)}%`,
        );
        linear = { rates, knee, adaptiveDifference: diff, steps };
        if (part === 'sweep') {
          log('  adaptive again, after the linear sweep:');
          const again = await adaptive(target(port), SLO, log);
          const diff2 =
            knee && again.knee ? (again.knee.achievedRate - knee.achievedRate) / knee.achievedRate : null;
          log(
            `  second adaptive knee differs from the linear one by ${diff2 === null ? '—' : (diff2 * 100).toFixed(1)}%`,
          );
          linear = { ...linear, again: again.knee, againDifference: diff2 };
        }
      }
    } finally {
      await stopServer(server);
    }
  }
  const [base, , best] = results as { knee?: StepFigures }[];
  if (part !== 'sweep' && base.knee && best?.knee) {
    log(
      `\nstowage / baseline throughput at P90 ≤ ${SLO.p90Ms} ms: ${(best.knee.achievedRate / base.knee.achievedRate).toFixed(2)}×`,
    );
  }
  const outDir = path.join(paths.state, 'bench');
  fs.mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, `serving-${Date.now()}.json`);
  fs.writeFileSync(
    out,
    JSON.stringify({ slo: SLO, stepSeconds: STEP_SECONDS, results, linear, log: lines }, null, 2),
  );
  log(`figures: ${out}`);
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
