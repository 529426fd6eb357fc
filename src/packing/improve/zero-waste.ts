import { within, type Prepared } from '../prepare';
import { completionApplies } from './completion';
import type { SubPacking } from './mip';
import { rng } from './random';

/** Past this many device patterns the exact cover is no longer the cheap step it is meant to be. */
const MAX_PATTERNS = 200_000;
/** Cells per device capacity of the hash of sums: far finer than any two distinct demands differ. */
const GRID = 1 << 20;
/** Search nodes of the exact cover's first run; each restart allows half as many again. */
const RESTART_NODES = 2000;

export interface ZeroWasteOutcome {
  packing?: SubPacking;
  /** What stopped the search short of a packing, for the packer's steps. */
  reason?: 'no zero-waste dimension' | 'too many patterns' | 'deadline' | 'exhausted';
}

/**
 * Zero-waste completion, for one instance type of one device, when `bins` instances have exactly the
 * models' total demand in some dimension: every instance must then be exactly full in that dimension.
 * Such packings are what fleets of a few architectures in many copies have, and bin completion's
 * subset search, which only knows a waste budget, wanders among near-fits there.
 *
 * Two steps over classes of identical models:
 * 1. Every device pattern of up to four models (a multiset of classes exactly full in the zero-waste
 *    dimensions, within capacity in the others), met in the middle: a class or a pair is completed by
 *    the class or pair whose sum is its exact complement, looked up in a hash of sums, so the patterns
 *    cost n² steps rather than n⁴. Devices of more models are left to bin completion.
 * 2. An exact cover of the classes' counts by patterns (Knuth's Algorithm X with multiplicities): the
 *    class with the fewest live patterns is covered first, every pattern that no longer fits the
 *    remaining counts dies, and a pattern that failed at a node is not tried again below it.
 *    Restarts with a growing node limit cut the heavy tails of such searches short.
 * Gives up past MAX_PATTERNS patterns or at `deadline`; finds packings, proves nothing.
 */
export function zeroWasteCompletion(
  p: Prepared,
  models: number[],
  bins: number,
  deadline: number,
): ZeroWasteOutcome {
  if (!completionApplies(p, models) || bins <= 0) return { reason: 'no zero-waste dimension' };
  const ty = p.types[0];
  const caps = [ty.memory, ty.compute, ty.host];
  const dims = [0, 1, 2].filter((k) => Number.isFinite(caps[k]));
  const demandOf = (i: number) => [p.mem[i], p.cpu[i], p.host[i]];

  // Classes of identical models.
  const byKey = new Map<string, number>();
  const members: number[][] = [];
  const d: number[][] = [];
  for (const i of models) {
    const demand = demandOf(i);
    const key = demand.join(',');
    let c = byKey.get(key);
    if (c === undefined) {
      c = d.length;
      byKey.set(key, c);
      d.push(demand);
      members.push([]);
    }
    members[c].push(i);
  }
  const eps = caps.map((c) => 1e-9 * Math.max(1, c));
  const exact = dims.filter((k) => {
    const total = d.reduce((s, v, c) => s + v[k] * members[c].length, 0);
    return Math.abs(bins * caps[k] - total) <= eps[k] * bins;
  });
  if (exact.length === 0) return { reason: 'no zero-waste dimension' };

  const count = members.map((m) => m.length);
  const C = d.length;

  let steps = 0;
  let stopped: ZeroWasteOutcome['reason'];
  const late = () => {
    if ((++steps & 4095) === 0 && Date.now() > deadline) stopped = 'deadline';
    return stopped !== undefined;
  };

  // 1. Patterns. Sums are hashed by their cell on a fine grid; a complement on a cell's edge is looked
  // up in the neighbouring cell too, so rounding loses no pattern.
  const keyed = exact.slice(0, 2);
  /** Cells of a sum in the keyed dimensions, hashed to a small integer (collisions are re-checked). */
  const hash = (c0: number, c1: number) => (Math.imul(c0, 73856093) ^ Math.imul(c1, 19349663)) & 0x3fffffff;
  const cellsOf = (v: number[]): [number, number][] => {
    const options = keyed.map((k) => {
      const x = (v[k] / caps[k]) * GRID;
      const base = Math.round(x);
      const edge = x - base;
      return Math.abs(edge) > 0.45 ? [base, base + Math.sign(edge)] : [base];
    });
    const second = options[1] ?? [0];
    return options[0].flatMap((a) => second.map((b): [number, number] => [a, b]));
  };
  const keyOf = (v: number[]) => {
    const [a, b] = keyed.map((k) => Math.round((v[k] / caps[k]) * GRID));
    return hash(a, b ?? 0);
  };
  const sums = (cs: number[]) => [0, 1, 2].map((k) => cs.reduce((s, c) => s + d[c][k], 0));
  const enough = (cs: number[]) => {
    const m = new Map<number, number>();
    for (const c of cs) m.set(c, (m.get(c) ?? 0) + 1);
    for (const [c, x] of m) if (x > count[c]) return false;
    return true;
  };
  const fits = (sum: number[]) => dims.every((k) => within(sum[k], caps[k]));
  const full = (sum: number[]) => exact.every((k) => Math.abs(sum[k] - caps[k]) <= eps[k]);
  const add = (map: Map<number, number[]>, key: number, value: number) => {
    const list = map.get(key);
    if (list) list.push(value);
    else map.set(key, [value]);
  };
  const singles = new Map<number, number[]>();
  for (let c = 0; c < C; c++) add(singles, keyOf(d[c]), c);
  const pairA: number[] = [];
  const pairB: number[] = [];
  const pairsBySum = new Map<number, number[]>();
  for (let a = 0; a < C && !stopped; a++)
    for (let b = a; b < C; b++) {
      if (late()) break;
      if (b === a && count[a] < 2) continue;
      const sum = [d[a][0] + d[b][0], d[a][1] + d[b][1], d[a][2] + d[b][2]];
      if (!fits(sum)) continue;
      add(pairsBySum, keyOf(sum), pairA.length);
      pairA.push(a);
      pairB.push(b);
    }
  const patterns: number[][] = [];
  const offer = (cs: number[]) => {
    const sum = sums(cs);
    if (fits(sum) && full(sum) && enough(cs)) patterns.push(cs);
  };
  // Each multiset once, as a non-decreasing class sequence: [a], [a|b], [a|b c], [a b|c d].
  const complete = (head: number[], sum: number[], withSingles: boolean) => {
    const last = head[head.length - 1];
    const rest = [0, 1, 2].map((k) => caps[k] - sum[k]);
    for (const [a, b] of cellsOf(rest)) {
      const key = hash(a, b);
      if (withSingles) for (const c of singles.get(key) ?? []) if (c >= last) offer([...head, c]);
      for (const q of pairsBySum.get(key) ?? []) if (pairA[q] >= last) offer([...head, pairA[q], pairB[q]]);
    }
  };
  for (let a = 0; a < C && !late(); a++) {
    if (full(d[a]) && fits(d[a])) patterns.push([a]);
    complete([a], d[a], true);
  }
  for (let q = 0; q < pairA.length && !late() && patterns.length <= MAX_PATTERNS; q++) {
    const a = pairA[q];
    const b = pairB[q];
    complete([a, b], [d[a][0] + d[b][0], d[a][1] + d[b][1], d[a][2] + d[b][2]], false);
  }
  if (stopped) return { reason: stopped };
  if (patterns.length > MAX_PATTERNS) return { reason: 'too many patterns' };

  // 2. Exact cover of the counts.
  const parts = patterns.map((seqOf) => {
    const m = new Map<number, number>();
    for (const c of seqOf) m.set(c, (m.get(c) ?? 0) + 1);
    return [...m.entries()];
  });
  // Fewer models per device first: a near-fit of many small models is the likelier decoy.
  const byLength = parts.map((_, q) => q).sort((a, b) => patterns[a].length - patterns[b].length);
  const patternsOf: number[][] = Array.from({ length: C }, () => []);
  for (const q of byLength) for (const [c] of parts[q]) patternsOf[c].push(q);
  const left = Int32Array.from(count);
  const alive = new Uint8Array(parts.length).fill(1);
  const live = Int32Array.from(patternsOf, (qs) => qs.length);
  const kill = (q: number, killed: number[]) => {
    alive[q] = 0;
    for (const [c] of parts[q]) live[c]--;
    killed.push(q);
  };
  const revive = (killed: number[], downTo: number) => {
    while (killed.length > downTo) {
      const q = killed.pop()!;
      alive[q] = 1;
      for (const [c] of parts[q]) live[c]++;
    }
  };
  const chosen: number[] = [];
  let remaining = count.reduce((s, x) => s + x, 0);
  let nodes = 0;
  let limit = 0;

  const cover = (): boolean => {
    if (remaining === 0) return true;
    if (late() || ++nodes > limit) return false;
    let pick = -1;
    for (let c = 0; c < C; c++)
      if (left[c] > 0 && (pick < 0 || live[c] < live[pick])) {
        pick = c;
        if (live[c] === 0) return false;
      }
    const killed: number[] = [];
    for (const q of patternsOf[pick]) {
      if (!alive[q]) continue;
      const mark = killed.length;
      for (const [c, m] of parts[q]) {
        left[c] -= m;
        remaining -= m;
      }
      for (const [c] of parts[q])
        for (const r of patternsOf[c])
          if (alive[r] && parts[r].some(([c2, m2]) => c2 === c && m2 > left[c])) kill(r, killed);
      chosen.push(q);
      if (cover()) return true;
      chosen.pop();
      revive(killed, mark);
      for (const [c, m] of parts[q]) {
        left[c] += m;
        remaining += m;
      }
      if (stopped || nodes > limit) break;
      // No packing below this node holds q: any would have been found with q for `pick`.
      kill(q, killed);
    }
    revive(killed, 0);
    return false;
  };
  // Backtracking of this kind has heavy tails: a wrong early choice is paid for deep down. Restarts
  // with a growing node limit and the patterns of each class reshuffled cut those tails short.
  const random = rng(C * 7919 + patterns.length);
  let found = false;
  for (let round = 0; !found && !stopped; round++) {
    limit = RESTART_NODES * 1.5 ** round;
    nodes = 0;
    found = cover();
    if (found || nodes <= limit) break; // found, or the search ran to its end
    for (const qs of patternsOf) {
      // Shuffle within runs of equal length, keeping fewer models per device first.
      for (let i = qs.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        if (patterns[qs[i]].length === patterns[qs[j]].length) [qs[i], qs[j]] = [qs[j], qs[i]];
      }
    }
  }
  if (!found) return { reason: stopped ?? 'exhausted' };

  const pool = members.map((m) => [...m]);
  const instances = chosen.map((q) => ({ type: 0, devices: [patterns[q].map((c) => pool[c].pop()!)] }));
  return { packing: { instances, cost: instances.length * ty.price, optimal: false } };
}
