/**
 * The capacity model against measurement: each input runs through the whole pipeline (`stowage demo`,
 * the embedded stack) from a fresh calibration, then again on the calibration the first run corrected.
 * Prints, per run, the plan from forward timing alone, the calibrated plan, the measured knee and their
 * ratios, and the two runs' knees side by side. A benchmark: it prints figures, it asserts nothing.
 *
 *   node dist/test/bench/capacity/bench.js [input.json ...]   (default: the demo and the bert-base set)
 *   CAPACITY_RUNS=3 for more runs per input.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CapacityCheck } from '../../../src/capacity/check';
import { projectPaths } from '../../../src/config/paths';
import { makeTinyModels } from '../../../src/dev/tiny-models';

const paths = projectPaths();
const inputs = process.argv.slice(2).length
  ? process.argv.slice(2)
  : ['examples/pipeline.local.json', 'examples/pipeline.bert-base.json'];
const runs = Number(process.env.CAPACITY_RUNS ?? 2);

async function ensureBertBase(): Promise<void> {
  const out = path.join(paths.artifacts, 'sources');
  if (fs.existsSync(path.join(out, 'bert-base-qa-5', 'config.json'))) return;
  process.stdout.write('generating 6 bert-base-size models (random weights) …\n');
  await makeTinyModels(paths, { out, count: 6, prefix: 'bert-base-qa', size: 'bert-base' });
}

interface Row {
  input: string;
  run: number;
  knee: number | null;
  p90: number | null;
  check: CapacityCheck | null;
  load: string;
  seconds: number;
}

function runOnce(input: string, run: number): Row {
  const started = Date.now();
  const out = execFileSync(path.join(paths.root, 'bin/stowage'), ['demo', input, '--json'], {
    cwd: paths.root,
    maxBuffer: 64 * 2 ** 20,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const { workflowId, result } = JSON.parse(out.toString().trim().split('\n').at(-1)!) as {
    workflowId: string;
    result: { kneeRequestsPerSecond?: number; p90AtKneeMs?: number };
  };
  const checkFile = path.join(paths.artifacts, 'runs', workflowId, 'capacity-check.json');
  return {
    input,
    run,
    knee: result.kneeRequestsPerSecond ?? null,
    p90: result.p90AtKneeMs ?? null,
    check: fs.existsSync(checkFile)
      ? (JSON.parse(fs.readFileSync(checkFile, 'utf8')) as CapacityCheck)
      : null,
    load: os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' '),
    seconds: Math.round((Date.now() - started) / 1000),
  };
}

const f = (n: number | null | undefined, d = 1) => (n === null || n === undefined ? '—' : n.toFixed(d));

async function main(): Promise<void> {
  if (inputs.some((i) => i.includes('bert-base'))) await ensureBertBase();
  const rows: Row[] = [];
  for (const input of inputs) {
    // From a fresh calibration: the first run probes, the next ones plan on what the first measured.
    fs.rmSync(path.join(paths.artifacts, 'calibration'), { recursive: true, force: true });
    for (let run = 1; run <= runs; run++) rows.push(runOnce(input, run));
  }
  console.log(
    '\ninput                          run  devices  forward-only plan  planned  measured knee  measured/planned  measured/forward-only  verdict          P90 at knee  load avg       s',
  );
  for (const r of rows) {
    const c = r.check;
    const forwardOnly = c?.devices.reduce((n, d) => n + d.forwardOnlyRps, 0) ?? null;
    console.log(
      [
        path.basename(r.input).padEnd(30),
        String(r.run).padStart(3),
        String(c?.devices.length ?? '—').padStart(8),
        f(forwardOnly).padStart(18),
        f(c?.plannedRps).padStart(8),
        f(c?.measuredRps ?? r.knee).padStart(14),
        f(c?.ratio, 2).padStart(17),
        f(c && forwardOnly ? (c.measuredRps ?? 0) / forwardOnly : null, 2).padStart(22),
        (c?.verdict ?? '—').padEnd(16),
        f(r.p90).padStart(11),
        r.load.padStart(14),
        String(r.seconds).padStart(6),
      ].join(' '),
    );
  }
  for (const input of inputs) {
    const knees = rows.filter((r) => r.input === input && r.knee !== null).map((r) => r.knee!);
    if (knees.length > 1) {
      const spread = (Math.max(...knees) - Math.min(...knees)) / Math.min(...knees);
      console.log(
        `${path.basename(input)}: knees ${knees.map((k) => k.toFixed(1)).join(', ')} req/s, spread ${(spread * 100).toFixed(1)}%`,
      );
    }
  }
}

void main();
