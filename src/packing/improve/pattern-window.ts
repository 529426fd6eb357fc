import { OPTIMAL, type HighsSolver } from '../highs-worker';
import { ModelBuilder } from '../linear-model';
import { within, type Prepared } from '../prepare';
import type { Packing } from '../state';
import { pickWindow, replace } from './lns';
import type { SubPacking } from './mip';

/** Models per window: set covering over every device pattern stays small for a few dozen models. */
const WINDOW_MODELS = 80;
/** Above this many patterns the window is too dense (many models per device) for set covering. */
const MAX_PATTERNS = 20_000;
/** Sets visited per pattern allowed: dense windows have far more fitting sets than maximal ones. */
const NODES_PER_PATTERN = 10;

/**
 * Set-covering windows, for catalogs of one-device types: take a few instances, enumerate every maximal
 * set of their models that one device holds, and let HiGHS pick the cheapest cover. The covering LP is tight and has
 * none of the assignment MIP's symmetry, so windows can be two or three times larger; where devices hold
 * two to four models (sizes like [.2,.6]²) that is what it takes to regroup pairs into triples.
 * Returns undefined when the window has too many patterns, so the caller falls back to the assignment
 * MIP; true when the packing got cheaper.
 */
export async function patternWindowStep(
  pk: Packing,
  solver: HighsSolver,
  random: () => number,
  deadline: number,
  maxMoves = Infinity,
): Promise<boolean | undefined> {
  const p = pk.p;
  // With multi-device types in the catalog the assignment MIP, which can move models onto them, decides.
  if (p.types.some((t) => t.devices !== 1)) return undefined;
  const window = pickWindow(pk, random, WINDOW_MODELS, 60);
  if (window.length < 2) return false;
  const models = window.flatMap((b) => b.items[0]);
  const current = window.reduce((s, b) => s + p.types[b.type].price, 0);
  const patterns: { type: number; models: number[] }[] = [];
  for (let t = 0; t < p.T; t++) {
    if (p.types[t].price > current) continue;
    if (
      !devicePatterns(p, models, t, MAX_PATTERNS - patterns.length, (set) =>
        patterns.push({ type: t, models: set }),
      )
    )
      return undefined;
  }
  const limit = p.types.map((ty, t) => {
    const spare = Number.isFinite(ty.available) ? ty.available - pk.used[t] : models.length;
    return window.filter((b) => b.type === t).length + spare;
  });
  const seconds = Math.min(1, Math.max(0.05, (deadline - Date.now()) / 1000));
  const cover = await cheapestCover(solver, p, models, patterns, limit, seconds, current - 1e-6);
  if (!cover || cover.cost >= current - 1e-9) return false;
  return replace(pk, window, cover, maxMoves);
}

/**
 * Calls `emit` with every set of `models` that one device of type t holds and that no further model of
 * `models` fits into (maximal sets suffice for a cover: any packing extends to one). False when there
 * are more than `max`.
 */
function devicePatterns(
  p: Prepared,
  models: number[],
  t: number,
  max: number,
  emit: (set: number[]) => void,
): boolean {
  const ty = p.types[t];
  const eligible = models.filter((i) => !Number.isNaN(p.mem[i * p.T + t]));
  const mem = eligible.map((i) => p.mem[i * p.T + t]);
  const cpu = eligible.map((i) => p.cpu[i * p.T + t]);
  const host = eligible.map((i) => p.host[i * p.T + t]);
  const inSet = new Uint8Array(eligible.length);
  const set: number[] = [];
  let emitted = 0;
  let nodes = 0;
  const fits = (j: number, m: number, c: number, h: number) =>
    within(m + mem[j], ty.memory) && within(c + cpu[j], ty.compute) && within(h + host[j], ty.host);
  const grow = (from: number, m: number, c: number, h: number): boolean => {
    if (++nodes > NODES_PER_PATTERN * max) return false;
    let extended = false;
    for (let j = from; j < eligible.length; j++) {
      if (!fits(j, m, c, h)) continue;
      extended = true;
      inSet[j] = 1;
      set.push(eligible[j]);
      const ok = grow(j + 1, m + mem[j], c + cpu[j], h + host[j]);
      set.pop();
      inSet[j] = 0;
      if (!ok) return false;
    }
    if (extended || set.length === 0) return true;
    // A model skipped earlier that still fits means a larger set covers this one.
    for (let j = 0; j < from; j++) if (!inSet[j] && fits(j, m, c, h)) return true;
    if (++emitted > max) return false;
    emit([...set]);
    return true;
  };
  return grow(0, 0, 0, 0);
}

/** The cheapest choice of patterns covering every model, within the type limits and below `cutoff`. */
async function cheapestCover(
  solver: HighsSolver,
  p: Prepared,
  models: number[],
  patterns: { type: number; models: number[] }[],
  limit: number[],
  timeLimitSec: number,
  cutoff: number,
): Promise<SubPacking | undefined> {
  const b = new ModelBuilder();
  const row = new Map(models.map((i) => [i, b.row(1, Infinity)]));
  const perType = p.types.map((_, t) => (limit[t] < models.length ? b.row(-Infinity, limit[t]) : -1));
  const cols = patterns.map((pat) => {
    const at = pat.models.map((i) => row.get(i)!);
    const vals = at.map(() => 1);
    if (perType[pat.type] >= 0) {
      at.push(perType[pat.type]);
      vals.push(1);
    }
    return b.col(p.types[pat.type].price, 0, 1, true, at, vals);
  });
  const result = await solver.solve({ model: b.build(true), timeLimitSec, cutoff });
  const x = result.colValue;
  if (result.error || !x) return undefined;
  // A model covered twice stays in the first pattern that has it: any subset of a pattern fits too.
  const placed = new Set<number>();
  const instances: SubPacking['instances'] = [];
  let cost = 0;
  patterns.forEach((pat, j) => {
    if (x[cols[j]] < 0.5) return;
    const own = pat.models.filter((i) => !placed.has(i));
    own.forEach((i) => placed.add(i));
    if (own.length === 0) return;
    instances.push({ type: pat.type, devices: [own] });
    cost += p.types[pat.type].price;
  });
  if (placed.size !== models.length) return undefined;
  return { instances, cost, optimal: result.status === OPTIMAL };
}
