import { within, type Prepared } from '../prepare';
import { homeTypes, measure } from '../measures';
import { Packing, type Bin } from '../state';
import { TypeChooser } from './type-choice';

/** Fit checks one device's subset search may spend; the best subset found so far is kept. */
const CHECKS_PER_DEVICE = 30_000;
/** A device this close to full (summed free fraction) is not worth searching further. */
const GOOD_ENOUGH_SLACK = 0.002;
/** The deep variant searches four times longer for a device still this free when its checks run out. */
const DEEP_SLACK = 0.3;
const DEEP_FACTOR = 4;

export interface MinSlackOptions {
  /** The models to place (all placeable ones by default). */
  models?: number[];
  /** A packing to open the new instances in (ruin and recreate passes the one it is repairing). */
  into?: Packing;
  /** Give a device the first search leaves badly filled four times the search (a second portfolio run). */
  deep?: boolean;
  /** Fit checks per device's search (CHECKS_PER_DEVICE by default). */
  checks?: number;
  /**
   * Past this time every device gets only LATE_CHECKS: the construction still finishes, closer to first
   * fit, instead of overrunning a caller's time slice.
   */
  deadline?: number;
}

/** Checks per device once the deadline has passed. */
const LATE_CHECKS = 200;

/**
 * Minimum bin slack (Gupta & Ho, 1999; Fleszar & Hindi, 2002), for vectors: fill one device at a time
 * with the largest model left plus the subset of the others that leaves the least free memory + compute,
 * found by a bounded depth-first search over the models in decreasing size. Unlike first- or best-fit it
 * does not fill the early instances with whatever fits first, so it keeps pairing models whose shapes
 * complement each other (large memory with large compute) to the very last instance.
 */
export function minSlack(p: Prepared, fixedType: number, options: MinSlackOptions = {}): Packing {
  const {
    models = p.placeable,
    into: pk = new Packing(p),
    deep = false,
    checks = CHECKS_PER_DEVICE,
    deadline = Infinity,
  } = options;
  // Ruin and recreate calls this for a few dozen models at a time: size only those.
  const home = homeTypes(p, models);
  // The search skips, by bisection, the models too large for what is left: it needs this exact order.
  // Sizes are on each model's home type, so on another type the skip only narrows the search.
  const key = new Float64Array(p.n);
  for (const i of models) key[i] = measure(p, i, home[i], 'max');
  const order = [...models].sort((x, y) => key[y] - key[x] || x - y);
  const chooser = new TypeChooser(p, order, fixedType);
  let pool = [...order];
  const used = new Uint8Array(p.n);
  while (pool.length > 0) {
    const first = pool[0];
    const t = chooser.choose(first, pk);
    used[first] = 1;
    if (t >= 0) {
      const bin = pk.open(t);
      const ty = p.types[t];
      for (let d = 0; d < ty.devices; d++) {
        const late = deadline < Infinity && Date.now() > deadline;
        const search = { deep: deep && !late, checks: late ? LATE_CHECKS : checks };
        const chosen = fillDevice(pk, bin, d, pool, key, used, d === 0 ? first : -1, search);
        for (const i of chosen) {
          used[i] = 1;
          pk.place(i, bin, d);
          chooser.placed(i);
        }
      }
    }
    pool = pool.filter((i) => !used[i]);
  }
  return pk;
}

/** The subset of unused pool models (with `first` forced in, when ≥ 0) leaving a device least slack. */
function fillDevice(
  pk: Packing,
  bin: Bin,
  d: number,
  pool: number[],
  key: Float64Array,
  used: Uint8Array,
  first: number,
  { deep, checks: checksPerDevice }: { deep: boolean; checks: number },
): number[] {
  const p = pk.p;
  const t = bin.type;
  const ty = p.types[t];
  const T = p.T;
  const [mem0, cpu0, host0] = [bin.mem[d], bin.cpu[d], bin.host];
  const stack: number[] = [];
  let best: number[] = [];
  let bestSlack = Infinity;
  let checks = 0;
  let limit = checksPerDevice;
  // On a one-device instance the host memory is the device's third dimension, often the binding one
  // (small models with their runtime's host footprint): its slack counts like the others'.
  const hostSlack = ty.devices === 1 && Number.isFinite(ty.host);
  const slackOf = (m: number, c: number, h: number) =>
    (ty.memory - m) / ty.memory + (ty.compute - c) / ty.compute + (hostSlack ? (ty.host - h) / ty.host : 0);
  const fits = (i: number, m: number, c: number, h: number) => {
    const k = i * T + t;
    const mi = p.mem[k];
    return (
      !Number.isNaN(mi) &&
      within(m + mi, ty.memory) &&
      within(c + p.cpu[k], ty.compute) &&
      within(h + p.host[k], ty.host)
    );
  };
  const search = (from: number, m: number, c: number, h: number): boolean => {
    // Models larger (on their largest dimension) than the device's largest free fraction cannot fit.
    const hostRoom = Number.isFinite(ty.host) ? (ty.host - h) / ty.host : 0;
    const room = Math.max((ty.memory - m) / ty.memory, (ty.compute - c) / ty.compute, hostRoom) + 1e-9;
    let lo = from;
    let hi = pool.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (key[pool[mid]] > room) lo = mid + 1;
      else hi = mid;
    }
    for (let at = lo; at < pool.length; at++) {
      const i = pool[at];
      if (used[i] || i === first) continue;
      if (++checks > limit) {
        // The deep variant gives a device still badly filled four times the search, continuing this one.
        if (!deep || limit > checksPerDevice || bestSlack <= DEEP_SLACK) return true;
        limit *= DEEP_FACTOR;
      }
      if (!fits(i, m, c, h)) continue;
      const k = i * T + t;
      const m1 = m + p.mem[k];
      const c1 = c + p.cpu[k];
      stack.push(i);
      const h1 = h + p.host[k];
      const slack = slackOf(m1, c1, h1);
      if (slack < bestSlack) {
        bestSlack = slack;
        best = [...stack];
        if (slack <= GOOD_ENOUGH_SLACK) return true;
      }
      const stop = search(at + 1, m1, c1, h1);
      stack.pop();
      if (stop) return true;
    }
    return false;
  };
  if (first >= 0) {
    const k = first * T + t;
    stack.push(first);
    best = [first];
    bestSlack = slackOf(mem0 + p.mem[k], cpu0 + p.cpu[k], host0 + p.host[k]);
    search(0, mem0 + p.mem[k], cpu0 + p.cpu[k], host0 + p.host[k]);
  } else {
    search(0, mem0, cpu0, host0);
  }
  return best;
}
