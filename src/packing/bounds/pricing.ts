import type { Prepared } from '../prepare';

/**
 * Pricing problems of the pattern LPs (`pattern-lp.ts`): under the master LP's duals, the most valuable
 * pattern one device of a type can hold, and a few hundred improving ones to add as columns. Each
 * returns an upper bound on the best value, which Farley's bound needs even when the search stops early.
 */

/** Branch-and-bound nodes one pricing problem may visit before its bound falls back to a relaxation. */
const PRICING_NODES = 200_000;
/** Improving patterns added per type and iteration: fewer iterations of the master LP. */
const COLUMNS_PER_TYPE = 200;

/** A class's size on one type as fractions of a device (host 0 where uncapped), and copies a device takes. */
export interface Shape {
  m: number;
  c: number;
  h: number;
  max: number;
}

/** A class priced under the current duals, as the pricing problems see it. */
export interface PricingItem extends Shape {
  k: number;
  value: number;
}

/** An upper bound on the best pattern's value, and improving patterns (class → copies) to add as columns. */
export interface Priced {
  upper: number;
  improving: Map<number, number>[];
}

/** Prices one type under the duals carried by `items`; `cost` is what a pattern must be worth to improve. */
export type Pricing = (items: PricingItem[], cost: number) => Priced;

/**
 * The most valuable device pattern on type t under duals π: exact branch and bound over the classes in
 * decreasing value per unit of summed size, pruned by fractional knapsacks on that summed size and on
 * each dimension (any feasible pattern satisfies all of them). Returns an upper bound on the best value
 * (exact when the search finished) and the improving patterns found.
 */
export function exactPricing(priced: PricingItem[], p: Prepared, t: number, cost: number): Priced {
  const hostCapped = Number.isFinite(p.types[t].host);
  const items = priced
    .map((it) => ({ ...it, size: it.m + it.c + it.h }))
    .sort((a, b) => b.value / Math.max(b.size, 1e-12) - a.value / Math.max(a.size, 1e-12));
  // Pruning bounds: the fractional knapsack on the summed size and on each dimension alone (any feasible
  // pattern satisfies all of them); on shapes like [.2,.6]² the single dimensions prune the most.
  const dims = (['size', 'm', 'c', 'h'] as const).filter((d) => d !== 'h' || hostCapped);
  const capacity = { size: hostCapped ? 3 : 2, m: 1, c: 1, h: 1 };
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
  const found: Found[] = [];
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
    if (it.m > 0) most = Math.min(most, Math.floor((FULL - m) / it.m + 1e-12));
    if (it.c > 0) most = Math.min(most, Math.floor((FULL - c) / it.c + 1e-12));
    if (it.h > 0) most = Math.min(most, Math.floor((FULL - h) / it.h + 1e-12));
    for (let n = Math.max(0, most); n >= 0 && !aborted; n--) {
      chosen[j] = n;
      search(j + 1, m + n * it.m, c + n * it.c, h + n * it.h, value + n * it.value);
    }
    chosen[j] = 0;
  };
  search(0, 0, 0, 0, 0);
  found.push(...greedyPatterns(items, cost));
  return {
    upper: aborted ? Math.max(bestValue, root) : bestValue,
    improving: mostValuable(found).map((f) => f.counts),
  };
}

/**
 * Pricing on the grid relaxation: an exact 0-1 knapsack over (memory, compute) cells, copies split in
 * powers of two. Besides the best pattern, the best ones that leave a little room in one dimension
 * (backtracked from cells below the full one) and the greedy patterns go in as columns.
 */
export function gridPricing(items: PricingItem[], grid: number, cost: number): Priced {
  const side = grid + 1;
  const pieces: { k: number; copies: number; wm: number; wc: number; value: number }[] = [];
  for (const it of items) {
    const wm = Math.round(it.m * grid);
    const wc = Math.round(it.c * grid);
    for (let left = it.max, copies = 1; left > 0; left -= copies, copies *= 2) {
      const n = Math.min(copies, left);
      pieces.push({ k: it.k, copies: n, wm: n * wm, wc: n * wc, value: n * it.value });
    }
  }
  const best = new Float64Array(side * side);
  const took = new Uint8Array(pieces.length * side * side);
  pieces.forEach((pc, j) => {
    const at = j * side * side;
    for (let x = grid; x >= pc.wm; x--) {
      for (let y = grid; y >= pc.wc; y--) {
        const v = best[(x - pc.wm) * side + (y - pc.wc)] + pc.value;
        if (v > best[x * side + y] + 1e-12) {
          best[x * side + y] = v;
          took[at + x * side + y] = 1;
        }
      }
    }
  });
  const backtrack = (x: number, y: number): Found => {
    const counts = new Map<number, number>();
    let value = 0;
    for (let j = pieces.length - 1; j >= 0; j--) {
      const pc = pieces[j];
      if (!took[j * side * side + x * side + y]) continue;
      counts.set(pc.k, (counts.get(pc.k) ?? 0) + pc.copies);
      value += pc.value;
      x -= pc.wm;
      y -= pc.wc;
    }
    return { value, counts };
  };
  const found: Found[] = [];
  const step = Math.max(1, Math.round(grid / 50));
  for (let off = 0; off <= grid / 4; off += step) {
    for (const [x, y] of off === 0
      ? [[grid, grid]]
      : [
          [grid - off, grid],
          [grid, grid - off],
        ]) {
      const f = backtrack(x, y);
      if (f.value > cost + 1e-9) found.push(f);
    }
  }
  found.push(...greedyPatterns(items, cost));
  return { upper: best[grid * side + grid], improving: mostValuable(found).map((f) => f.counts) };
}

/** Pricing over known device sets (rows as members): every set's value under the duals, exactly. */
export function scanPricing(items: PricingItem[], sets: number[][], cost: number): Priced {
  const value = new Map(items.map((it) => [it.k, it.value]));
  let upper = 0;
  const improving: { value: number; set: number[] }[] = [];
  for (const set of sets) {
    let v = 0;
    for (const k of set) v += value.get(k) ?? 0;
    upper = Math.max(upper, v);
    if (v > cost + 1e-9) improving.push({ value: v, set });
  }
  return { upper, improving: mostValuable(improving).map((f) => new Map(f.set.map((k) => [k, 1]))) };
}

/** A device pattern found by pricing: class → copies, and its value under the duals. */
interface Found {
  value: number;
  counts: Map<number, number>;
}

/** Loads up to a device's capacity, with a little tolerance for sums of fractions. */
const FULL = 1 + 1e-9;

/**
 * Many columns per iteration converge in far fewer master solves: besides the best patterns, one greedy
 * pattern around each class (the class first, then the others by value per unit of summed size).
 */
function greedyPatterns(priced: PricingItem[], cost: number): Found[] {
  const density = (it: PricingItem) => it.value / Math.max(it.m + it.c + it.h, 1e-12);
  const items = [...priced].sort((a, b) => density(b) - density(a));
  const smallest = { m: Infinity, c: Infinity, h: Infinity };
  for (const it of items)
    for (const d of ['m', 'c', 'h'] as const) smallest[d] = Math.min(smallest[d], it[d]);
  const found: Found[] = [];
  // The densest classes seed the patterns: more seeds than columns kept would be thrown away anyway.
  items.slice(0, COLUMNS_PER_TYPE).forEach((seed, s) => {
    const load = { m: 0, c: 0, h: 0 };
    let value = 0;
    const counts = new Map<number, number>();
    const take = (it: PricingItem) => {
      let n = 0;
      while (n < it.max && load.m + it.m <= FULL && load.c + it.c <= FULL && load.h + it.h <= FULL) {
        load.m += it.m;
        load.c += it.c;
        load.h += it.h;
        n++;
      }
      if (n === 0) return;
      counts.set(it.k, n);
      value += n * it.value;
    };
    const full = () => (['m', 'c', 'h'] as const).some((d) => load[d] + smallest[d] > FULL);
    take(seed);
    for (let j = 0; j < items.length && !full(); j++) if (j !== s) take(items[j]);
    if (value > cost + 1e-9) found.push({ value, counts });
  });
  return found;
}

/** The patterns worth most, as many as one iteration adds per type. */
function mostValuable<T extends { value: number }>(found: T[]): T[] {
  return found.sort((a, b) => b.value - a.value).slice(0, COLUMNS_PER_TYPE);
}
