import type { HighsSolver } from './highs-worker';
import { ModelBuilder } from './linear-model';
import type { DemandClass, Prepared } from './prepare';
import type { Packing } from './state';

/**
 * The pattern LP (Gilmore–Gomory) by column generation: a pattern is what one device of a type can hold
 * (the host cap applied to the device alone, a relaxation for multi-device instances), priced at the
 * type's price per device; the LP covers every model at least once. It couples memory, compute and host
 * in a way no per-dimension bound can, so it proves optimality where volume and dual-feasible-function
 * bounds leave a gap of several instances.
 *
 * The bound is Farley's: for any duals π ≥ 0 of the restricted LP and the exact best pattern value z_t
 * on each type, Σ π / max_t(z_t / cost_t) is a lower bound, so stopping at the deadline still leaves a
 * proof. Pricing is an exact branch and bound; when it runs out of nodes it falls back to a relaxation's
 * value for z_t, which keeps the bound valid but weak.
 */

/** Branch-and-bound nodes one pricing problem may visit before its bound falls back to a relaxation. */
const PRICING_NODES = 200_000;
/** Improving patterns added per type and iteration: fewer iterations of the master LP. */
const COLUMNS_PER_TYPE = 200;

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
}

/** The pattern LP bound over `classes` (from `demandClasses`), started from the incumbent's devices. */
export async function patternBound(
  solver: HighsSolver,
  p: Prepared,
  classes: DemandClass[],
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
    classes.forEach((c, k) => c.members.forEach((i) => classOf.set(i, k)));
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
  classes.forEach((c, k) => {
    for (let t = 0; t < p.T; t++) {
      const copies = maxCopies(p, c.model, t, c.count);
      if (copies > 0) add({ type: t, counts: new Map([[k, copies]]) });
    }
  });
  let best = 0;
  while (Date.now() < deadline) {
    const b = new ModelBuilder();
    const rows = classes.map((c) => b.row(c.count, Infinity));
    for (const pat of patterns) {
      const at: number[] = [];
      const vals: number[] = [];
      for (const [k, n] of pat.counts) {
        at.push(rows[k]);
        vals.push(n);
      }
      b.col(perDevice[pat.type], 0, Infinity, false, at, vals);
    }
    const lp = await solver.solve({ model: b.build(false), timeLimitSec: (deadline - Date.now()) / 1000 });
    if (!lp.rowDual) break;
    const pi = classes.map((_, k) => Math.max(0, lp.rowDual![k]));
    const total = classes.reduce((s, c, k) => s + c.count * pi[k], 0);
    let worstRatio = 1;
    let added = 0;
    for (let t = 0; t < p.T; t++) {
      const priced = price(p, classes, pi, t, perDevice[t]);
      worstRatio = Math.max(worstRatio, priced.upper / perDevice[t]);
      for (const pat of priced.improving) if (add({ type: t, counts: pat })) added++;
    }
    best = Math.max(best, total / worstRatio);
    if (worstRatio <= 1 + 1e-9) return { value: best, converged: true };
    if (added === 0) break;
  }
  return { value: best, converged: false };
}

/** Copies of model i one device of type t takes on its own, at most `count`. */
function maxCopies(p: Prepared, i: number, t: number, count: number): number {
  const k = i * p.T + t;
  if (Number.isNaN(p.mem[k])) return 0;
  const ty = p.types[t];
  const cap = (load: number, limit: number) => (load > 0 ? Math.floor((limit * (1 + 1e-9)) / load) : count);
  return Math.min(count, cap(p.mem[k], ty.memory), cap(p.cpu[k], ty.compute), cap(p.host[k], ty.host));
}

/**
 * The most valuable device pattern on type t under duals π: exact branch and bound over the classes in
 * decreasing value per unit of summed size, pruned by fractional knapsacks on that summed size and on
 * each dimension (any feasible pattern satisfies all of them). Returns an upper bound on the best value
 * (exact when the search finished) and the improving patterns found.
 */
function price(
  p: Prepared,
  classes: DemandClass[],
  pi: number[],
  t: number,
  cost: number,
): { upper: number; improving: Map<number, number>[] } {
  const ty = p.types[t];
  const hostCap = Number.isFinite(ty.host) ? ty.host : Infinity;
  const items: { k: number; m: number; c: number; h: number; size: number; value: number; max: number }[] =
    [];
  classes.forEach((cl, k) => {
    if (pi[k] <= 1e-12) return;
    const max = maxCopies(p, cl.model, t, cl.count);
    if (max === 0) return;
    const at = cl.model * p.T + t;
    const m = p.mem[at] / ty.memory;
    const c = p.cpu[at] / ty.compute;
    const h = Number.isFinite(hostCap) ? p.host[at] / hostCap : 0;
    items.push({ k, m, c, h, size: m + c + h, value: pi[k], max });
  });
  items.sort((a, b) => b.value / Math.max(b.size, 1e-12) - a.value / Math.max(a.size, 1e-12));
  // Pruning bounds: the fractional knapsack on the summed size and on each dimension alone (any feasible
  // pattern satisfies all of them); on shapes like [.2,.6]² the single dimensions prune the most.
  const dims = (['size', 'm', 'c', 'h'] as const).filter((d) => d !== 'h' || Number.isFinite(hostCap));
  const capacity = { size: Number.isFinite(hostCap) ? 3 : 2, m: 1, c: 1, h: 1 };
  const byDim = dims.map((d) =>
    items
      .map((_, j) => j)
      .sort(
        (x, y) =>
          items[y].value / Math.max(items[y][d], 1e-12) - items[x].value / Math.max(items[x][d], 1e-12),
      ),
  );
  const fractionalIn = (dim: number, from: number, room: number): number => {
    const d = dims[dim];
    let v = 0;
    for (const j of byDim[dim]) {
      if (j < from) continue;
      const it = items[j];
      if (it[d] <= 1e-12) {
        v += it.value * it.max;
        continue;
      }
      if (room <= 1e-12) break;
      const take = Math.min(it.max, room / it[d]);
      v += take * it.value;
      room -= take * it[d];
    }
    return v;
  };
  const upperFrom = (from: number, m: number, c: number, h: number): number => {
    const used = { size: m + c + h, m, c, h };
    return Math.min(...dims.map((d, k) => fractionalIn(k, from, capacity[d] - used[d])));
  };
  const root = upperFrom(0, 0, 0, 0);
  let bestValue = 0;
  let nodes = 0;
  let aborted = false;
  const chosen = new Array<number>(items.length).fill(0);
  const found: { value: number; counts: Map<number, number> }[] = [];
  const tol = 1 + 1e-9;
  const search = (j: number, m: number, c: number, h: number, value: number) => {
    if (++nodes > PRICING_NODES) {
      aborted = true;
      return;
    }
    if (value > bestValue + 1e-12 && value > cost + 1e-9) {
      const counts = new Map<number, number>();
      for (let x = 0; x < j; x++) if (chosen[x] > 0) counts.set(items[x].k, chosen[x]);
      found.push({ value, counts });
    }
    if (value > bestValue) bestValue = value;
    if (j >= items.length) return;
    if (value + upperFrom(j, m, c, h) <= Math.max(bestValue, cost) + 1e-12) return;
    const it = items[j];
    let most = it.max;
    if (it.m > 0) most = Math.min(most, Math.floor((1 * tol - m) / it.m + 1e-12));
    if (it.c > 0) most = Math.min(most, Math.floor((1 * tol - c) / it.c + 1e-12));
    if (it.h > 0) most = Math.min(most, Math.floor((1 * tol - h) / it.h + 1e-12));
    for (let n = Math.max(0, most); n >= 0 && !aborted; n--) {
      chosen[j] = n;
      search(j + 1, m + n * it.m, c + n * it.c, h + n * it.h, value + n * it.value);
    }
    chosen[j] = 0;
  };
  search(0, 0, 0, 0, 0);
  // Many columns per iteration converge in far fewer master solves: besides the best patterns, one
  // greedy pattern around each class (the class first, then the others by value per size).
  items.forEach((seed, s) => {
    const load = { m: 0, c: 0, h: 0 };
    let value = 0;
    const counts = new Map<number, number>();
    const take = (it: (typeof items)[number]) => {
      let n = 0;
      while (n < it.max && load.m + it.m <= tol && load.c + it.c <= tol && load.h + it.h <= tol) {
        load.m += it.m;
        load.c += it.c;
        load.h += it.h;
        n++;
      }
      if (n === 0) return;
      counts.set(it.k, n);
      value += n * it.value;
    };
    take(seed);
    items.forEach((it, j) => j !== s && take(it));
    if (value > cost + 1e-9) found.push({ value, counts });
  });
  found.sort((a, b) => b.value - a.value);
  return {
    upper: aborted ? Math.max(bestValue, root) : bestValue,
    improving: found.slice(0, COLUMNS_PER_TYPE).map((f) => f.counts),
  };
}
