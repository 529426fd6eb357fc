import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import type { ProjectPaths } from '../../src/config/paths';
import { toolPath } from '../../src/dev/tools';
import { HEARTBEAT_EVERY_MS } from '../heartbeat';

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
): Promise<T> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'stowage-k6-'));
  const summaryFile = path.join(dir, 'summary.json');
  const k6 = spawn(
    toolPath(paths, 'k6'),
    ['run', '--quiet', '--no-usage-report', '--no-color', path.join(paths.root, 'k6', script)],
    {
      env: { ...process.env, ...env, SUMMARY_FILE: summaryFile, K6_NO_USAGE_REPORT: 'true' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  k6.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const ctx = Context.current();
  const startedAt = Date.now();
  const beat = setInterval(
    () => ctx.heartbeat({ what, elapsedMs: Date.now() - startedAt }),
    HEARTBEAT_EVERY_MS,
  );
  const onCancel = () => k6.kill('SIGKILL');
  ctx.cancellationSignal.addEventListener('abort', onCancel);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      k6.once('error', reject);
      k6.once('exit', (c) => resolve(c));
    });
    ctx.cancellationSignal.throwIfAborted();
    // 99: thresholds crossed. Ours are bookkeeping thresholds, so a 99 still carries valid figures.
    if (code !== 0 && code !== 99) {
      throw new Error(
        `k6 ${script} (${what}) exited with ${code}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`,
      );
    }
    return JSON.parse(await fs.readFile(summaryFile, 'utf8')) as T;
  } finally {
    clearInterval(beat);
    ctx.cancellationSignal.removeEventListener('abort', onCancel);
    if (k6.exitCode === null) k6.kill('SIGKILL');
    await fs.rm(dir, { recursive: true, force: true });
  }
}
