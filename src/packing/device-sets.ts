import { within, type Prepared } from './prepare';

/** A set of models that one device of `type` holds. */
export interface DeviceSet {
  type: number;
  models: number[];
}

/** Sets visited per set emitted: dense model lists have far more fitting sets than maximal ones. */
const NODES_PER_SET = 10;

/**
 * Every maximal device set of `models` over all types: sets one device holds and no further model of
 * `models` fits into. Maximal sets suffice wherever models may be covered twice (set covering, the
 * pattern LP): any packing's device extends to one. Types priced above `maxPrice` are skipped. Undefined
 * when there are more than `max`, which is the models' shape (many small models per device), so callers
 * fall back to another method instead of retrying.
 */
export function maximalDeviceSets(
  p: Prepared,
  models: number[],
  max: number,
  maxPrice = Infinity,
): DeviceSet[] | undefined {
  const sets: DeviceSet[] = [];
  for (let t = 0; t < p.T; t++) {
    if (p.types[t].price > maxPrice) continue;
    const found = setsOfType(p, models, t, max - sets.length);
    if (!found) return undefined;
    for (const s of found) sets.push({ type: t, models: s });
  }
  return sets;
}

/** The maximal sets of one type by depth-first search over the eligible models; undefined past `max`. */
function setsOfType(p: Prepared, models: number[], t: number, max: number): number[][] | undefined {
  const ty = p.types[t];
  const eligible = models.filter((i) => !Number.isNaN(p.mem[i * p.T + t]));
  const mem = eligible.map((i) => p.mem[i * p.T + t]);
  const cpu = eligible.map((i) => p.cpu[i * p.T + t]);
  const host = eligible.map((i) => p.host[i * p.T + t]);
  const inSet = new Uint8Array(eligible.length);
  const set: number[] = [];
  const sets: number[][] = [];
  let nodes = 0;
  const fits = (j: number, m: number, c: number, h: number) =>
    within(m + mem[j], ty.memory) && within(c + cpu[j], ty.compute) && within(h + host[j], ty.host);
  const grow = (from: number, m: number, c: number, h: number): boolean => {
    if (++nodes > NODES_PER_SET * max) return false;
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
    if (sets.length >= max) return false;
    sets.push([...set]);
    return true;
  };
  return grow(0, 0, 0, 0) ? sets : undefined;
}
