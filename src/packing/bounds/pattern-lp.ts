import type { DeviceSet } from '../device-sets';
import type { ColumnBlock, HighsSolver } from '../highs/worker';
import { ModelBuilder } from '../highs/model-builder';
import type { DemandClass, Prepared } from '../prepare';
import type { Packing } from '../state';
import {
  exactPricing,
  gridPricing,
  scanPricing,
  type Pricing,
  type PricingItem,
  type Shape,
} from './pricing';

/**
 * The pattern LP (Gilmore–Gomory) by column generation: a pattern is what one device of a type can hold
 * (the host cap applied to the device alone, a relaxation for multi-device instances), priced at the
 * type's price per device; the LP covers every model at least once. It couples memory, compute and host
 * in a way no per-dimension bound can, so it proves optimality where volume and dual-feasible-function
 * bounds leave a gap of several instances.
 *
 * The bound is Farley's: for any duals π ≥ 0 of the restricted LP and the exact best pattern value z_t
 * on each type, Σ π / max_t(z_t / cost_t) is a lower bound, so stopping at the deadline still leaves a
 * proof. Pricing (`pricing.ts`) is an exact branch and bound, a dynamic program on the grid relaxation,
 * or a scan of known device sets; when the branch and bound runs out of nodes it falls back to a
 * relaxation's value for z_t, which keeps the bound valid but weak. The master LP stays in the HiGHS
 * worker, so each iteration only adds columns and re-solves from the last basis.
 */

interface Pattern {
  type: number;
  /** Class index → copies. */
  counts: Map<number, number>;
}

export interface PatternBoundResult {
  /** Proven lower bound on $/hour before rounding to whole instances. */
  value: number;
  /** True when pricing proved the LP optimal (the bound is the LP value itself). */
  converged: boolean;
  /** The optimal LP's row duals (row k is class k) when converged: they price any device set. */
  duals?: number[];
}

/** The rows of a pattern LP: classes of models that share one shape per type (undefined: cannot run). */
interface Rows {
  counts: number[];
  members: number[][];
  shapes: (Shape | undefined)[][];
}

/** The pattern LP bound over `classes` (from `demandClasses`), started from the incumbent's devices. */
export async function patternBound(
  solver: HighsSolver,
  p: Prepared,
  classes: DemandClass[],
  deadline: number,
  incumbent?: Packing,
): Promise<PatternBoundResult> {
  const shapes = classes.map((cl) => p.types.map((_, t) => shapeOn(p, cl.model, t, cl.count)));
  const rows = { counts: classes.map((c) => c.count), members: classes.map((c) => c.members), shapes };
  return columnGeneration(
    solver,
    p,
    rows,
    (t) => (items, cost) => exactPricing(items, p, t, cost),
    deadline,
    incumbent,
  );
}

/**
 * The exact pattern LP where every maximal device set of the models is known (`maximalDeviceSets`): one
 * row per model, and pricing is a scan of the sets, which is exact however many distinct models there
 * are. On [.2,.6]² at 200 models it converges in about 0.4 s to 84.4, where the grid LP gives 82.75.
 */
export async function setPatternBound(
  solver: HighsSolver,
  p: Prepared,
  models: number[],
  sets: DeviceSet[],
  deadline: number,
  incumbent?: Packing,
): Promise<PatternBoundResult> {
  const rowOf = new Map(models.map((i, k) => [i, k]));
  const rows: Rows = {
    counts: models.map(() => 1),
    members: models.map((i) => [i]),
    shapes: models.map((i) => p.types.map((_, t) => shapeOn(p, i, t, 1))),
  };
  const setsOn = p.types.map((_, t) =>
    sets.filter((s) => s.type === t).map((s) => s.models.map((i) => rowOf.get(i)!)),
  );
  return columnGeneration(
    solver,
    p,
    rows,
    (t) => (items, cost) => scanPricing(items, setsOn[t], cost),
    deadline,
    incumbent,
  );
}

/**
 * The pattern LP of a relaxation for problems with too many distinct models for the exact one: sizes
 * rounded down to a grid of `grid` steps per device dimension and host memory dropped. Every real
 * packing is feasible for the relaxation, so its LP is still a proven lower bound, a little below the
 * exact pattern LP; rounding merges models into a few hundred classes, and pricing becomes an exact
 * dynamic program over the grid.
 */
export async function gridPatternBound(
  solver: HighsSolver,
  p: Prepared,
  models: number[],
  grid: number,
  deadline: number,
  incumbent?: Packing,
): Promise<PatternBoundResult> {
  const byKey = new Map<string, number>();
  const rows: Rows = { counts: [], members: [], shapes: [] };
  for (const i of models) {
    const cells = p.types.map((ty, t) =>
      Number.isNaN(p.mem[i * p.T + t])
        ? undefined
        : [
            Math.floor((p.mem[i * p.T + t] / ty.memory) * grid),
            Math.floor((p.cpu[i * p.T + t] / ty.compute) * grid),
          ],
    );
    const key = cells.map((c) => (c ? c.join(',') : '-')).join(';');
    let k = byKey.get(key);
    if (k === undefined) {
      k = rows.counts.length;
      byKey.set(key, k);
      rows.counts.push(0);
      rows.members.push([]);
      rows.shapes.push(cells.map((c) => (c ? { m: c[0] / grid, c: c[1] / grid, h: 0, max: 0 } : undefined)));
    }
    rows.counts[k]++;
    rows.members[k].push(i);
  }
  rows.shapes.forEach((perType, k) =>
    perType.forEach((s) => s && (s.max = maxCopies(rows.counts[k], [s.m, s.c]))),
  );
  return columnGeneration(
    solver,
    p,
    rows,
    () => (items, cost) => gridPricing(items, grid, cost),
    deadline,
    incumbent,
  );
}

/** Column generation with Farley's bound at every iteration; `pricingFor(t)` prices type t exactly. */
async function columnGeneration(
  solver: HighsSolver,
  p: Prepared,
  rows: Rows,
  pricingFor: (t: number) => Pricing,
  deadline: number,
  incumbent?: Packing,
): Promise<PatternBoundResult> {
  const perDevice = p.types.map((t) => t.price / t.devices);
  const patterns: Pattern[] = [];
  const seen = new Set<string>();
  const add = (pattern: Pattern) => {
    const key = `${pattern.type}|${[...pattern.counts].sort((a, b) => a[0] - b[0]).join(';')}`;
    if (seen.has(key) || pattern.counts.size === 0) return false;
    seen.add(key);
    patterns.push(pattern);
    return true;
  };
  // Start from the incumbent's devices, and one pattern per class and type so every row is coverable.
  if (incumbent) {
    const classOf = new Map<number, number>();
    rows.members.forEach((members, k) => members.forEach((i) => classOf.set(i, k)));
    for (const bin of incumbent.bins) {
      for (const device of bin.items) {
        const counts = new Map<number, number>();
        for (const i of device) {
          const k = classOf.get(i);
          if (k !== undefined) counts.set(k, (counts.get(k) ?? 0) + 1);
        }
        add({ type: bin.type, counts });
      }
    }
  }
  rows.shapes.forEach((perType, k) =>
    perType.forEach((s, t) => s && s.max > 0 && add({ type: t, counts: new Map([[k, s.max]]) })),
  );
  const pricing = p.types.map((_, t) => pricingFor(t));
  const b = new ModelBuilder();
  rows.counts.forEach((count) => b.row(count, Infinity));
  for (const pat of patterns) b.col(perDevice[pat.type], 0, Infinity, false, ...entries(pat));
  let sent = patterns.length;
  // Like a master LP without duals, one HiGHS cannot load leaves this bound out, not the packing.
  const master = await solver.openLp(b.build(false)).catch(() => undefined);
  if (!master) return { value: 0, converged: false };
  let best = 0;
  try {
    let added: ColumnBlock | undefined;
    while (Date.now() < deadline) {
      const lp = await master.solve(added, (deadline - Date.now()) / 1000);
      if (!lp.rowDual) break;
      const pi = rows.counts.map((_, k) => Math.max(0, lp.rowDual![k]));
      const total = rows.counts.reduce((s, count, k) => s + count * pi[k], 0);
      let worstRatio = 1;
      for (let t = 0; t < p.T; t++) {
        const items: PricingItem[] = [];
        rows.shapes.forEach((perType, k) => {
          const s = perType[t];
          if (s && s.max > 0 && pi[k] > 1e-12) items.push({ ...s, k, value: pi[k] });
        });
        const priced = pricing[t](items, perDevice[t]);
        worstRatio = Math.max(worstRatio, priced.upper / perDevice[t]);
        for (const counts of priced.improving) add({ type: t, counts });
      }
      best = Math.max(best, total / worstRatio);
      if (worstRatio <= 1 + 1e-9) return { value: best, converged: true, duals: pi };
      if (patterns.length === sent) break;
      added = columnBlock(patterns.slice(sent), perDevice);
      sent = patterns.length;
    }
  } finally {
    await master.close();
  }
  return { value: best, converged: false };
}

/** A pattern's column entries: its classes' rows (row k is class k) and copies. */
function entries(pat: Pattern): [number[], number[]] {
  return [[...pat.counts.keys()], [...pat.counts.values()]];
}

function columnBlock(patterns: Pattern[], perDevice: number[]): ColumnBlock {
  const starts = [0];
  const indices: number[] = [];
  const values: number[] = [];
  for (const pat of patterns) {
    const [at, copies] = entries(pat);
    indices.push(...at);
    values.push(...copies);
    starts.push(indices.length);
  }
  return {
    cost: Float64Array.from(patterns, (pat) => perDevice[pat.type]),
    lower: new Float64Array(patterns.length),
    upper: new Float64Array(patterns.length).fill(1e30),
    starts: Int32Array.from(starts),
    indices: Int32Array.from(indices),
    values: Float64Array.from(values),
  };
}

/** Model i's size on type t as fractions of a device (host 0 where uncapped); undefined where it cannot run. */
function shapeOn(p: Prepared, i: number, t: number, count: number): Shape | undefined {
  const at = i * p.T + t;
  if (Number.isNaN(p.mem[at])) return undefined;
  const ty = p.types[t];
  const m = p.mem[at] / ty.memory;
  const c = p.cpu[at] / ty.compute;
  const h = Number.isFinite(ty.host) ? p.host[at] / ty.host : 0;
  return { m, c, h, max: maxCopies(count, [m, c, h]) };
}

/** Copies of one shape a device takes on its own, at most `count` (sizes as fractions of a device). */
function maxCopies(count: number, sizes: number[]): number {
  return Math.min(count, ...sizes.map((x) => (x > 0 ? Math.floor((1 + 1e-9) / x) : count)));
}
