/**
 * Packing benchmark (`make bench`): every family drawn from many seeds (BENCH_SEEDS, 10 by default) per
 * size, each instance packed with the default time budget. Per family and size it prints the mean and the
 * WORST gap to the packer's proven lower bound, the mean and worst ratio to the greedy a user would
 * hand-roll (each model on the type of its cheapest price-weighted share, first-fit decreasing per type),
 * time, optimum hits where the optimum is known by construction, and OR-Tools CP-SAT at the same budget
 * on the first two seeds up to 200 models. No assertions: figures for the notes.
 * BENCH_ONLY=ct,structured,mixed,post,100k picks families; BENCH_SIZES=40,200,3000 the CT sizes,
 * BENCH_STRUCTURED_SIZES=200,500 those of the structured families (triplets: the nearest multiple of 3);
 * BENCH_ROWS=1 prints every instance; BENCH_LP_SECONDS=s adds the pattern LP bound of each CT instance
 * of 200–3,000 models (computed outside the packer's budget: exact over the maximal device sets up to
 * 400 models where they are enumerable, the grid relaxation otherwise) and the gap to it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  checkPlacement,
  defaultTimeLimitMs,
  pack,
  type PackingProblem,
  type Placement,
} from '../../../src/packing';
import { cheapestShareFfd } from '../../../src/packing/heuristics/assignment';
import { downgrade } from '../../../src/packing/improve/downgrade';
import { roundUpToAchievable, safe } from '../../../src/packing/bounds/lower-bound';
import { HighsSolver } from '../../../src/packing/highs/worker';
import { gridPatternBound, setPatternBound } from '../../../src/packing/bounds/pattern-lp';
import { maximalDeviceSets } from '../../../src/packing/device-sets';
import { prepare } from '../../../src/packing/prepare';
import { startFromPrevious } from '../../../src/packing/repack';
import {
  mixedCatalogProblem,
  perfectSplitItems,
  randomCatalogProblem,
  seeded,
  tripletItems,
  unitBinProblem,
} from '../../unit/packing/fixtures';

const root = path.resolve(__dirname, '../../../..');
const python = path.join(root, '.stowage/bench-venv/bin/python');
const ORTOOLS_MAX_MODELS = 200;

type Pair = [number, number];

/** Caprara–Toth (2001)-style classes: uniform ranges, correlated and anti-correlated dimensions. */
const classes: Record<string, (r: () => number) => Pair> = {
  'CT uniform [.02,.2]': (r) => [0.02 + 0.18 * r(), 0.02 + 0.18 * r()],
  'CT uniform [.1,.4]': (r) => [0.1 + 0.3 * r(), 0.1 + 0.3 * r()],
  'CT uniform [.2,.6]': (r) => [0.2 + 0.4 * r(), 0.2 + 0.4 * r()],
  'CT correlated': (r) => {
    const a = 0.1 + 0.3 * r();
    return [a, Math.min(1, Math.max(0.01, a + 0.1 * (r() - 0.5)))];
  },
  'CT anti-correlated': (r) => {
    const a = 0.1 + 0.3 * r();
    return [a, Math.min(1, Math.max(0.01, 0.5 - a + 0.1 * (r() - 0.5)))];
  },
};

function ortools(
  problem: PackingProblem,
  seconds: number,
  upper: number,
): { cost: number | null; seconds: number } | undefined {
  if (!existsSync(python) || problem.models.length > ORTOOLS_MAX_MODELS) return undefined;
  const out = spawnSync(python, [path.join(root, 'test/bench/packing/ortools_pack.py')], {
    input: JSON.stringify({ problem, timeLimitSec: seconds, upperBoundCost: upper }),
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (out.status !== 0) return { cost: null, seconds: NaN };
  return JSON.parse(out.stdout.trim().split('\n').pop()!);
}

/** Maximal device sets the exact reference LP may enumerate (about 400,000 at 400 models of [.2,.6]²). */
const REFERENCE_MAX_SETS = 2_000_000;

/**
 * The instance's pattern LP (a proven bound), or the packer's bound when that is higher: exact over the
 * maximal device sets where they are few enough, else its grid relaxation.
 */
async function referenceLp(
  problem: PackingProblem,
  placement: Placement,
  seconds: number,
): Promise<{ lp: number; converged: boolean }> {
  const p = prepare(problem);
  const solver = new HighsSolver();
  try {
    // The packer's own devices are the first columns, as inside the packer.
    const incumbent = startFromPrevious(p, placement);
    const deadline = Date.now() + seconds * 1000;
    const sets =
      p.placeable.length <= 400 ? maximalDeviceSets(p, p.placeable, REFERENCE_MAX_SETS) : undefined;
    const result = sets
      ? await setPatternBound(solver, p, p.placeable, sets, deadline, incumbent)
      : await gridPatternBound(solver, p, p.placeable, 100, deadline, incumbent);
    const lp = roundUpToAchievable(p, safe(result.value));
    return { lp: Math.max(placement.lowerBoundPerHour, lp), converged: result.converged };
  } finally {
    await solver.close();
  }
}

const fmt = (x: number | null | undefined, d = 3) =>
  x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d);
const pad = (s: string, w: number) => s.padEnd(w);

interface Row {
  family: string;
  /** The size the family was drawn at (structured instances land near it). */
  n: number;
  bound: number;
  cost: number;
  ms: number;
  greedy: number;
  or?: { cost: number | null; seconds: number };
  optimum?: number;
  lp?: { lp: number; converged: boolean };
}

const rows: Row[] = [];
const seeds = Number(process.env.BENCH_SEEDS ?? 10);
const printRows = process.env.BENCH_ROWS === '1';

function greedy(problem: PackingProblem): number {
  const pk = cheapestShareFfd(prepare(problem));
  downgrade(pk);
  return pk.cost();
}

async function measure(
  family: string,
  problem: PackingProblem,
  seed: number,
  optimum?: number,
  size = problem.models.length,
): Promise<Row> {
  const n = problem.models.length;
  const budget = defaultTimeLimitMs(n);
  const placement = await pack({ ...problem, timeLimitMs: budget });
  const violations = checkPlacement(problem, placement);
  if (violations.length > 0) throw new Error(`${family} n=${n}: infeasible placement: ${violations[0]}`);
  const base = greedy(problem);
  const row: Row = {
    family,
    n: size,
    bound: placement.lowerBoundPerHour,
    cost: placement.costPerHour,
    ms: placement.stats.elapsedMs,
    greedy: base,
    or: seed <= 2 ? ortools(problem, budget / 1000, base) : undefined,
    optimum,
  };
  const lpSeconds = Number(process.env.BENCH_LP_SECONDS ?? 0);
  if (lpSeconds > 0 && family.startsWith('CT') && n >= 200 && n <= 3000)
    row.lp =
      row.cost > row.bound + 1e-9
        ? await referenceLp(problem, placement, lpSeconds)
        : { lp: row.bound, converged: true };
  rows.push(row);
  if (printRows)
    process.stdout.write(
      `  ${family} n=${n} seed=${seed}: ${fmt(row.cost)} bound ${fmt(row.bound)} greedy ${fmt(base)}` +
        `${row.or?.cost ? ` CP-SAT ${fmt(row.or.cost)}` : ''}${row.lp ? ` LP ${fmt(row.lp.lp)}` : ''} ${row.ms} ms` +
        `${optimum !== undefined ? ` optimum ${optimum}` : ''} | ${placement.stats.algorithm}\n`,
    );
  return row;
}

const gap = (r: Row) => (r.bound > 0 ? (r.cost - r.bound) / r.bound : 0);
const avg = (xs: number[]) => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const widths = [24, 7, 6, 9, 9, 9, 9, 8, 8, 9, 10];

function printGroup(family: string, n: number): void {
  const group = rows.filter((r) => r.family === family && r.n === n);
  const ratios = group.map((r) => r.cost / r.greedy);
  const withOpt = group.filter((r) => r.optimum !== undefined);
  const orRows = group.filter((r) => r.or?.cost);
  const lpRows = group.filter((r) => r.lp);
  const cells = [
    family,
    String(n),
    String(group.length),
    pct(avg(group.map(gap))),
    pct(Math.max(...group.map(gap))),
    fmt(avg(ratios), 4),
    fmt(Math.max(...ratios), 4),
    String(Math.round(avg(group.map((r) => r.ms)))),
    String(Math.max(...group.map((r) => r.ms))),
    withOpt.length > 0
      ? `${withOpt.filter((r) => Math.abs(r.cost - r.optimum!) < 1e-9).length}/${withOpt.length}`
      : '',
    orRows.length > 0
      ? `${orRows.filter((r) => r.cost <= r.or!.cost! + 1e-9).length}/${orRows.length} ≤`
      : '',
  ];
  const lp =
    lpRows.length > 0 ? ` gap/LP mean ${pct(avg(lpRows.map((r) => (r.cost - r.lp!.lp) / r.lp!.lp)))}` : '';
  process.stdout.write(`${cells.map((c, j) => pad(c, widths[j])).join(' ')}${lp}\n`);
}

async function family(
  name: string,
  sizes: number[],
  make: (n: number, seed: number) => { problem: PackingProblem; optimum?: number },
): Promise<void> {
  for (const n of sizes) {
    for (let seed = 1; seed <= seeds; seed++) {
      const { problem, optimum } = make(n, seed);
      await measure(name, problem, seed, optimum, n);
    }
    printGroup(name, n);
  }
}

/** The catalog the issue's user tried: one- and four-device Inferentia and GPU types. */
function fourTypeCatalog(n: number, seed: number): PackingProblem {
  const base = randomCatalogProblem(n, seed);
  return { ...base, instanceTypes: base.instanceTypes.filter((t) => t.name !== 'inf1.2xlarge') };
}

async function main(): Promise<void> {
  const header = [
    'family',
    'n',
    'seeds',
    'gap mean',
    'gap worst',
    'us/greedy',
    'worst',
    'ms mean',
    'ms max',
    'optimum',
    'vs CP-SAT',
  ];
  process.stdout.write(`${header.map((h, j) => pad(h, widths[j])).join(' ')}\n`);
  if (!existsSync(python)) process.stdout.write('(OR-Tools venv missing: CP-SAT columns skipped)\n');
  const sizes = (process.env.BENCH_SIZES ?? '40,200,3000').split(',').map(Number);
  const only = process.env.BENCH_ONLY?.split(',');
  const run = (f: string) => !only || only.includes(f);
  if (run('ct'))
    for (const [name, gen] of Object.entries(classes))
      await family(name, sizes, (n, seed) => {
        const r = seeded(1000 * seed + n);
        return { problem: unitBinProblem(Array.from({ length: n }, () => gen(r))) };
      });
  if (run('structured')) {
    const structured = (process.env.BENCH_STRUCTURED_SIZES ?? '200,500').split(',').map(Number);
    await family('perfect fills', structured, (n, seed) => {
      const bins = Math.round(n / 3);
      return { problem: unitBinProblem(perfectSplitItems(bins, seeded(77 + seed + n))), optimum: bins };
    });
    await family(
      'triplets',
      structured.map((n) => 3 * Math.round(n / 3)),
      (n, seed) => {
        const bins = n / 3;
        return { problem: unitBinProblem(tripletItems(bins, seeded(91 + seed + n))), optimum: bins };
      },
    );
  }
  if (run('mixed')) {
    await family('mixed inf+gpu', [200, 3000], (n, seed) => ({
      problem: mixedCatalogProblem(n, 7919 * seed + n),
    }));
    await family('mixed inf+gpu+cpu', [200, 3000], (n, seed) => ({
      problem: mixedCatalogProblem(n, 7919 * seed + n, { processors: 3 }),
    }));
    await family('mixed + quotas', [200, 3000], (n, seed) => ({
      problem: mixedCatalogProblem(n, 7919 * seed + n, { processors: 3, quotas: true }),
    }));
    await family('1- and 4-device inf/gpu', [3000], (n, seed) => ({
      problem: fourTypeCatalog(n, 100 + seed),
    }));
  }
  if (run('post')) {
    const post = JSON.parse(
      readFileSync(path.join(root, 'examples/packing/post-3040-bert-base.json'), 'utf8'),
    ) as PackingProblem;
    await measure('post 3,040 bert-base', post, 1);
    printGroup('post 3,040 bert-base', 3040);
    const capped = {
      ...post,
      instanceTypes: post.instanceTypes.map((t) =>
        t.name === 'inf1.2xlarge' ? { ...t, available: 100 } : t,
      ),
    };
    await measure('post, inf1.2xlarge ≤ 100', capped, 1, 46.19);
    printGroup('post, inf1.2xlarge ≤ 100', 3040);
  }
  if (process.env.BENCH_SKIP_100K !== '1' && run('100k')) {
    const r = seeded(100_000);
    await measure(
      'CT uniform [.1,.4]',
      unitBinProblem(Array.from({ length: 100_000 }, () => classes['CT uniform [.1,.4]'](r))),
      3,
    );
    printGroup('CT uniform [.1,.4]', 100_000);
  }
}

void main();
