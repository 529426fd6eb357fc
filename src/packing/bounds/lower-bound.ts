import type { HighsSolver } from '../highs/worker';
import { OPTIMAL } from '../highs/worker';
import { ModelBuilder } from '../highs/model-builder';
import { demandClasses, type Prepared } from '../prepare';

/**
 * Lower bounds on the optimal $/hour. Every one is a relaxation of the packing problem, so it is a proof,
 * never an estimate: an instance cannot hold more than its capacity in any dimension, more than a
 * dual-feasible-function weight of 1 per device, or more models than its K_t smallest ones; and any cost
 * is a sum of whole instance prices.
 */

/** Dual feasible functions f with Σ f(a) ≤ 1 whenever Σ a ≤ 1 (Martello–Toth ε and Fekete–Schepers u^k). */
function dffFamily(full: boolean): ((a: number) => number)[] {
  const eps = full ? [0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1] : [0.5];
  const fs = full ? [2, 3, 4] : [2];
  // Thresholds lean conservative by 1e-6 because feasibility itself allows a 1e-9 relative excess.
  const mt = eps.map((e) => (a: number) => (a > 1 - e + 1e-6 ? 1 : a < e ? 0 : a));
  return [(a: number) => a, ...mt, ...fs.map(feketeSchepers)];
}

/** Fekete–Schepers u^k: a share a counts as ⌊(k+1)a⌋/k, so k+1 models of a share above 1/(k+1) cannot share a device. */
const feketeSchepers = (k: number) => (a: number) => Math.max(0, Math.floor((k + 1) * a - 1e-6) / k);

/** Most of the extra Fekete–Schepers rows per type and dimension, and the largest k among them. */
const FS_ROWS = 4;
const FS_MAX_K = 60;

/**
 * The u^k that matter for these models: k = ⌊1/a⌋ for their most common shares a, where u^k counts a
 * model as exactly one k-th of a device. Fleets are a few architectures in many copies, so memory and
 * host shares come in a few sizes that fill a device to 80–95% at best; volume rows miss that
 * rounding, these rows see it (with one size alone they are exact). u^2 is always a row.
 */
function commonFsOrders(shares: number[]): number[] {
  // A dimension of many distinct shares (compute, from per-copy traffic) has no common size to round:
  // its rows would only slow the LP down.
  if (new Set(shares).size > EXACT_DIMENSION_VALUES) return [];
  const frequency = new Map<number, number>();
  for (const a of shares) {
    if (!(a > 0)) continue;
    const k = Math.floor(1 / a + 1e-9);
    if (k >= 3 && k <= FS_MAX_K) frequency.set(k, (frequency.get(k) ?? 0) + 1);
  }
  return [...frequency.entries()]
    .sort((x, y) => y[1] - x[1] || x[0] - y[0])
    .slice(0, FS_ROWS)
    .map(([k]) => k);
}

/** Per-type relaxation rows: coefficient of model i, and the right-hand side per instance. */
interface Row {
  coef: (i: number) => number;
  perInstance: number;
}

function typeRows(p: Prepared, t: number, maxCount: number, full: boolean, models: number[]): Row[] {
  const ty = p.types[t];
  const rows: Row[] = [{ coef: () => 1, perInstance: maxCount }];
  const share = {
    mem: (i: number) => p.mem[i * p.T + t] / ty.memory,
    cpu: (i: number) => p.cpu[i * p.T + t] / ty.compute,
    host: (i: number) => p.host[i * p.T + t] / ty.host,
  };
  const runnable = models.filter((i) => !Number.isNaN(p.mem[i * p.T + t]));
  const dims = [
    { share: share.mem, perInstance: ty.devices },
    { share: share.cpu, perInstance: ty.devices },
    ...(Number.isFinite(ty.host) ? [{ share: share.host, perInstance: 1 }] : []),
  ];
  for (const dim of dims) {
    const common = commonFsOrders(runnable.map(dim.share)).map(feketeSchepers);
    for (const f of [...dffFamily(full), ...common])
      rows.push({ coef: (i) => f(dim.share(i)), perInstance: dim.perInstance });
  }
  return rows;
}

/** Most models an instance of type t can hold: the smallest demands, per device and on the host. */
export function maxModelsPerInstance(p: Prepared, t: number, models: number[]): number {
  const ty = p.types[t];
  const runnable = models.filter((i) => !Number.isNaN(p.mem[i * p.T + t]));
  const countSmallest = (values: number[], cap: number) => {
    values.sort((a, b) => a - b);
    let sum = 0;
    let k = 0;
    for (const v of values) {
      sum += v;
      if (sum > cap * (1 + 1e-9) + 1e-12) break;
      k++;
    }
    return k;
  };
  const perDevice = Math.min(
    countSmallest(
      runnable.map((i) => p.mem[i * p.T + t]),
      ty.memory,
    ),
    countSmallest(
      runnable.map((i) => p.cpu[i * p.T + t]),
      ty.compute,
    ),
  );
  const host = Number.isFinite(ty.host)
    ? countSmallest(
        runnable.map((i) => p.host[i * p.T + t]),
        ty.host,
      )
    : Infinity;
  return Math.max(1, Math.min(perDevice * ty.devices, host, runnable.length));
}

/**
 * min Σ price_t x_t with Σ K_t x_t ≥ n over integers, x_t ≤ available_t: exact when all models are alike
 * (the post's scenario, quotas included). A bounded knapsack over the types, one at a time. Returns the
 * cost and the instance counts that reach it, a plan the heuristics can try; Infinity when even every
 * available instance holds fewer than n models.
 */
export function cardinalityPlan(
  p: Prepared,
  models: number[],
  perInstance: number[],
): { cost: number; counts: number[] } {
  const n = models.length;
  const counts = new Array<number>(p.T).fill(0);
  if (n === 0) return { cost: 0, counts };
  let best = new Float64Array(n + 1).fill(Infinity);
  best[0] = 0;
  // taken[t][c]: instances of type t in the best cover of c models by types 0..t.
  const taken: Int32Array[] = [];
  for (let t = 0; t < p.T; t++) {
    const k = Math.max(1, perInstance[t]);
    const price = p.types[t].price;
    const cur = best.slice();
    const took = new Int32Array(n + 1);
    if (p.types[t].available >= Math.ceil(n / k)) {
      // Unlimited in effect: O(n).
      for (let c = 1; c <= n; c++) {
        const from = Math.max(0, c - k);
        const v = cur[from] + price;
        if (v < cur[c] - 1e-12) {
          cur[c] = v;
          took[c] = took[from] + 1;
        }
      }
    } else {
      // A quota: its instances as 0/1 items of 1, 2, 4, … instances (binary splitting), O(n log quota).
      let left = p.types[t].available;
      for (let piece = 1; left > 0; piece *= 2) {
        const s = Math.min(piece, left);
        left -= s;
        for (let c = n; c >= 1; c--) {
          const from = Math.max(0, c - s * k);
          const v = cur[from] + s * price;
          if (v < cur[c] - 1e-12) {
            cur[c] = v;
            took[c] = took[from] + s;
          }
        }
      }
    }
    taken.push(took);
    best = cur;
  }
  let c = n;
  for (let t = p.T - 1; t >= 0; t--) {
    counts[t] = taken[t][c];
    c = Math.max(0, c - counts[t] * Math.max(1, perInstance[t]));
  }
  return { cost: best[n], counts };
}

export function cardinalityBound(p: Prepared, models: number[], perInstance: number[]): number {
  return cardinalityPlan(p, models, perInstance).cost;
}

/** The least power of ten that makes every price a whole number, 0 when none up to 10⁶ does. */
export function priceScale(p: Prepared): number {
  for (const s of [1, 10, 100, 1000, 10_000, 100_000, 1_000_000])
    if (p.types.every((t) => Math.abs(t.price * s - Math.round(t.price * s)) < 1e-6)) return s;
  return 0;
}

/** The least cost of whole instances that is ≥ value (costs are sums of prices), when prices allow. */
export function roundUpToAchievable(p: Prepared, value: number): number {
  if (value <= 0) return 0;
  const scale = priceScale(p);
  if (scale === 0) return value;
  const prices = [...new Set(p.types.map((t) => Math.round(t.price * scale)))];
  const target = Math.ceil(value * scale - 1e-6);
  const top = target + Math.max(...prices);
  if (top > 50_000_000) return value;
  const reach = new Uint8Array(top + 1);
  reach[0] = 1;
  for (let c = 1; c <= top; c++) {
    for (const q of prices) {
      if (q <= c && reach[c - q]) {
        reach[c] = 1;
        break;
      }
    }
    if (c >= target && reach[c]) return c / scale;
  }
  return value;
}

/** Shaves float noise off a computed relaxation value so that rounding never overshoots the truth. */
export const safe = (v: number): number => v - 1e-7 * Math.max(1, Math.abs(v));

/** When every model runs on one type only, the relaxation separates per type and needs no solver. */
function separableBound(p: Prepared, models: number[], perInstance: number[]): number {
  const byType: number[][] = p.types.map(() => []);
  for (const i of models) {
    for (let t = 0; t < p.T; t++) if (!Number.isNaN(p.mem[i * p.T + t])) byType[t].push(i);
  }
  let total = 0;
  byType.forEach((ms, t) => {
    if (ms.length === 0) return;
    let need = 0;
    for (const row of typeRows(p, t, perInstance[t], true, ms)) {
      let sum = 0;
      for (const i of ms) sum += row.coef(i);
      need = Math.max(need, sum / row.perInstance);
    }
    total += p.types[t].price * Math.ceil(safe(need));
  });
  return total;
}

/**
 * The multiple-choice LP: a fraction y[i][t] of each model on each type it runs on, x[t] instances of
 * each type, every relaxation row per type. Solved by HiGHS; its optimum is a lower bound because every
 * integer packing is one of its solutions. Its y is also the best guide there is to which type each
 * model should go to (`share`: model i's fraction on type t at [i * T + t]).
 */
async function lpBound(
  solver: HighsSolver,
  p: Prepared,
  models: number[],
  perInstance: number[],
  timeLimitSec: number,
): Promise<{ value: number; share?: Float64Array }> {
  // Models with identical demands are one column with a multiplicity: exact for the LP, and the
  // post's thousands of copies of one model become a handful of columns.
  const classes = demandClasses(p, models);
  const b = new ModelBuilder();
  const rowsOf = p.types.map((_, t) => typeRows(p, t, perInstance[t], false, models));
  const rowIds = rowsOf.map((rows) => rows.map(() => b.row(-Infinity, 0)));
  for (let t = 0; t < p.T; t++) {
    b.col(
      p.types[t].price,
      0,
      p.types[t].available,
      false,
      rowIds[t],
      rowsOf[t].map((r) => -r.perInstance),
    );
  }
  const columns: { members: number[]; count: number; t: number; col: number }[] = [];
  for (const { model: i, count, members } of classes) {
    const assign = b.row(count, count);
    for (let t = 0; t < p.T; t++) {
      if (Number.isNaN(p.mem[i * p.T + t])) continue;
      const col = b.col(
        0,
        0,
        count,
        false,
        [assign, ...rowIds[t]],
        [1, ...rowsOf[t].map((row) => row.coef(i))],
      );
      columns.push({ members, count, t, col });
    }
  }
  const result = await solver.solve({ model: b.build(false), timeLimitSec });
  if (result.status !== OPTIMAL || !Number.isFinite(result.objective)) return { value: 0 };
  let share: Float64Array | undefined;
  if (result.colValue) {
    share = new Float64Array(p.n * p.T);
    for (const { members, count, t, col } of columns)
      for (const i of members) share[i * p.T + t] = result.colValue[col] / count;
  }
  return { value: safe(result.objective), share };
}

/** Σ_i min_t price_t · (w · share of the instance), valid for any convex weights w over dimensions. */
function weightedVolumeBound(p: Prepared, models: number[]): number {
  let best = 0;
  const steps = 10;
  for (let a = 0; a <= steps; a++) {
    for (let c = 0; a + c <= steps; c++) {
      const w = [a / steps, c / steps, (steps - a - c) / steps];
      let sum = 0;
      for (const i of models) {
        let cheapest = Infinity;
        for (let t = 0; t < p.T; t++) {
          const k = i * p.T + t;
          if (Number.isNaN(p.mem[k])) continue;
          const ty = p.types[t];
          const share =
            (w[0] * p.mem[k]) / (ty.memory * ty.devices) +
            (w[1] * p.cpu[k]) / (ty.compute * ty.devices) +
            (Number.isFinite(ty.host) ? (w[2] * p.host[k]) / ty.host : 0);
          cheapest = Math.min(cheapest, ty.price * share);
        }
        sum += cheapest;
      }
      best = Math.max(best, sum);
    }
  }
  return safe(best);
}

export interface BoundReport {
  value: number;
  method: string;
  /** The multiple-choice LP's split of each model over the types, where that LP was solved. */
  share?: Float64Array;
}

/** Largest multiple-choice LP the bound solves with HiGHS within a packing time budget. */
export const MAX_LP_PAIRS = 200_000;
/** Above this many (model, type) pairs the LP runs on demands rounded down to a geometric grid. */
const EXACT_LP_PAIRS = 4_000;
/** The grid's ratio: demands lose under 1%, so the LP's value does too, and thousands of fine-tunes of a
 * few architectures whose traffic differs by a few percent collapse into a few hundred classes. */
const LP_GRID_RATIO = 1.01;

/** A dimension with at most this many distinct demands stays exact in the rounded LP. */
const EXACT_DIMENSION_VALUES = 64;

/**
 * The problem with demands rounded DOWN to a power of `ratio`: a relaxation (every packing of the
 * problem is one of it), so any lower bound on it is one on the problem. Only dimensions with many
 * distinct demands are rounded: memory and host memory come per architecture, in a few sizes that fill
 * devices nearly full, where 1% less of each would cost the bound most of its last percent, while the
 * per-copy traffic makes compute the dimension with thousands of values.
 */
function roundedDown(p: Prepared, models: number[], ratio: number): Prepared {
  const log = Math.log(ratio);
  const down = (v: number) => (v > 0 ? Math.min(v, ratio ** Math.floor(Math.log(v) / log)) : v);
  const rounded = (values: Float64Array) => {
    const distinct = new Set<number>();
    for (const i of models) {
      for (let t = 0; t < p.T; t++) distinct.add(values[i * p.T + t]);
      if (distinct.size > EXACT_DIMENSION_VALUES) return values.map(down);
    }
    return values;
  };
  return { ...p, mem: rounded(p.mem), cpu: rounded(p.cpu), host: rounded(p.host) };
}

export async function lowerBound(
  solver: HighsSolver,
  p: Prepared,
  models: number[],
  timeLimitSec: number,
): Promise<BoundReport> {
  if (models.length === 0) return { value: 0, method: 'empty' };
  const perInstance = p.types.map((_, t) => maxModelsPerInstance(p, t, models));
  const card = cardinalityBound(p, models, perInstance);
  let pairs = 0;
  let multi = false;
  for (const i of models) {
    let k = 0;
    for (let t = 0; t < p.T; t++) if (!Number.isNaN(p.mem[i * p.T + t])) k++;
    pairs += k;
    if (k > 1) multi = true;
  }
  let relaxed: number;
  let method: string;
  let share: Float64Array | undefined;
  if (!multi) {
    relaxed = separableBound(p, models, perInstance);
    method = 'volume+DFF per type';
  } else if (pairs <= MAX_LP_PAIRS) {
    const relaxedP = pairs <= EXACT_LP_PAIRS ? p : roundedDown(p, models, LP_GRID_RATIO);
    const lp = await lpBound(solver, relaxedP, models, perInstance, timeLimitSec);
    share = lp.share;
    relaxed = roundUpToAchievable(p, Math.max(lp.value, weightedVolumeBound(p, models)));
    method = 'multiple-choice LP (HiGHS)';
  } else {
    relaxed = roundUpToAchievable(p, weightedVolumeBound(p, models));
    method = 'weighted volume';
  }
  return card > relaxed
    ? { value: card, method: 'cardinality knapsack', share }
    : { value: relaxed, method, share };
}
