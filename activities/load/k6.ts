import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { Context } from '@temporalio/activity';
import type { ProjectPaths } from '../../src/config/paths';
import { toolPath } from '../../src/dev/tools';
import { HEARTBEAT_EVERY_MS } from '../heartbeat';

interface K6Run {
  k6: ChildProcess;
  exited: Promise<number | null>;
  /** The last lines k6 wrote to stderr, for an error message. */
  stderr(): string;
}

function startK6(
  paths: ProjectPaths,
  script: string,
  env: Record<string, string>,
  args: string[] = [],
): K6Run {
  const k6 = spawn(
    toolPath(paths, 'k6'),
    ['run', '--quiet', '--no-usage-report', '--no-color', ...args, path.join(paths.root, 'k6', script)],
    { env: { ...process.env, ...env, K6_NO_USAGE_REPORT: 'true' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  k6.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    k6.once('error', reject);
    k6.once('exit', (c) => resolve(c));
  });
  return { k6, exited, stderr: () => stderr.trim().split('\n').slice(-5).join(' | ') };
}

/** 99: thresholds crossed. Ours are bookkeeping thresholds, so a 99 still carries valid figures. */
function checkExit(code: number | null, run: K6Run, script: string, what: string): void {
  if (code !== 0 && code !== 99)
    throw new Error(`k6 ${script} (${what}) exited with ${code}: ${run.stderr()}`);
}

/**
 * Runs one k6 script to completion and returns what its handleSummary wrote to SUMMARY_FILE.
 * Heartbeats every second while k6 runs, so a worker that dies mid-step is noticed within the activity's
 * heartbeat timeout and the step is re-run from scratch on another attempt (its half-measured figures
 * are never returned, so nothing is double-counted). A cancelled activity kills its k6.
 */
export async function runK6<T>(
  paths: ProjectPaths,
  script: string,
  env: Record<string, string>,
  what: string,
  /** What the activity has measured so far: every heartbeat carries it, so a retry resumes from it. */
  progress: object = {},
): Promise<T> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'stowage-k6-'));
  const summaryFile = path.join(dir, 'summary.json');
  const run = startK6(paths, script, { ...env, SUMMARY_FILE: summaryFile });
  const ctx = Context.current();
  const startedAt = Date.now();
  const beat = setInterval(
    () => ctx.heartbeat({ ...progress, what, elapsedMs: Date.now() - startedAt }),
    HEARTBEAT_EVERY_MS,
  );
  const onCancel = () => run.k6.kill('SIGKILL');
  ctx.cancellationSignal.addEventListener('abort', onCancel);
  try {
    const code = await run.exited;
    ctx.cancellationSignal.throwIfAborted();
    checkExit(code, run, script, what);
    return JSON.parse(await fs.readFile(summaryFile, 'utf8')) as T;
  } finally {
    clearInterval(beat);
    ctx.cancellationSignal.removeEventListener('abort', onCancel);
    if (run.k6.exitCode === null) run.k6.kill('SIGKILL');
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** How often a followed k6 run's output is read. */
const FOLLOW_EVERY_MS = 250;

/**
 * Runs one k6 script while following its live samples (`--out json`): every FOLLOW_EVERY_MS the new
 * output goes to `onOutput`, then `poll` says whether the measurement is complete, in which case k6 is
 * stopped at once (what was measured is the caller's, not k6's end-of-test summary). Returns when `poll`
 * says so or k6 has ended and `poll` has seen all of its output (`ended` true). The caller heartbeats.
 * A cancelled activity kills its k6.
 */
export async function followK6(
  paths: ProjectPaths,
  script: string,
  env: Record<string, string>,
  what: string,
  onOutput: (chunk: string) => void,
  poll: (ended: boolean) => boolean,
): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'stowage-k6-'));
  const out = path.join(dir, 'samples.json');
  await fs.writeFile(out, '');
  // Fewer tags make each sample line shorter: k6 writes one per metric per request.
  const run = startK6(paths, script, env, [
    '--system-tags',
    'expected_response,scenario',
    '--out',
    `json=${out}`,
  ]);
  const ctx = Context.current();
  const onCancel = () => run.k6.kill('SIGKILL');
  ctx.cancellationSignal.addEventListener('abort', onCancel);
  const file = await fs.open(out, 'r');
  const buffer = Buffer.alloc(1 << 20);
  const text = new StringDecoder('utf8'); // a read may end inside a character
  let offset = 0;
  const drain = async () => {
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, offset);
      if (bytesRead === 0) return;
      offset += bytesRead;
      onOutput(text.write(buffer.subarray(0, bytesRead)));
    }
  };
  let code: number | null | undefined;
  void run.exited.then(
    (c) => (code = c),
    () => (code = null),
  );
  try {
    for (;;) {
      const ended = code !== undefined;
      await drain();
      ctx.cancellationSignal.throwIfAborted();
      if (ended) checkExit(code!, run, script, what);
      if (poll(ended) || ended) return;
      await new Promise((r) => setTimeout(r, FOLLOW_EVERY_MS));
    }
  } finally {
    ctx.cancellationSignal.removeEventListener('abort', onCancel);
    if (run.k6.exitCode === null) run.k6.kill('SIGKILL');
    await file.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}
