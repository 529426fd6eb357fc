import type { HighsSolver } from '../highs/worker';
import type { Bin, Packing } from '../state';
import { solveExactly, type SubPacking } from './mip';

/** Models per window: small enough for HiGHS to settle a window in a fraction of a second. */
const WINDOW_MODELS = 20;

/**
 * MIP large-neighbourhood search: take a few instances (one of the emptiest plus random others that can
 * host the same models), solve their models exactly with HiGHS, and keep the result when it is cheaper.
 */
export async function lnsStep(
  pk: Packing,
  solver: HighsSolver,
  random: () => number,
  deadline: number,
  maxMoves = Infinity,
): Promise<boolean> {
  const window = pickWindow(pk, random, WINDOW_MODELS, 40);
  if (window.length < 2) return false;
  const p = pk.p;
  const models = window.flatMap((b) => b.items.flat());
  const current = window.reduce((s, b) => s + p.types[b.type].price, 0);
  const limit = p.types.map((ty, t) => {
    const inWindow = window.filter((b) => b.type === t).length;
    const spare = Number.isFinite(ty.available) ? ty.available - pk.used[t] : models.length;
    return Math.min(models.length, inWindow + spare, Math.floor((current - 1e-9) / ty.price));
  });
  const seconds = Math.min(1, Math.max(0.05, (deadline - Date.now()) / 1000));
  const outcome = await solveExactly(solver, p, models, limit, seconds, current - 1e-6);
  const better = outcome?.packing;
  if (!better || better.cost >= current - 1e-9) return false;
  return replace(pk, window, better, maxMoves);
}

/**
 * A window of instances holding at most `maxModels` models: one of the emptiest fifth as seed, then
 * random others. For the first half of the `tries`, only instances that can host the seed's models:
 * only they can help empty it.
 */
export function pickWindow(pk: Packing, random: () => number, maxModels: number, tries: number): Bin[] {
  const bins = pk.bins.filter((b) => b.size > 0);
  if (bins.length < 2) return bins;
  bins.sort((a, b) => pk.fill(a) - pk.fill(b));
  const seed = bins[Math.floor(random() * Math.min(bins.length, Math.max(2, bins.length / 5)))];
  const window: Bin[] = [seed];
  let count = seed.size;
  const seedModels = seed.items.flat();
  const hosts = (b: Bin) => seedModels.some((i) => !Number.isNaN(pk.p.mem[i * pk.p.T + b.type]));
  for (let k = 0; k < tries && window.length < bins.length; k++) {
    const b = bins[Math.floor(random() * bins.length)];
    if (window.includes(b) || count + b.size > maxModels || (k < tries / 2 && !hosts(b))) continue;
    window.push(b);
    count += b.size;
  }
  return window;
}

/** Swaps `old` instances for the MIP's, re-checking every device with the packer's own arithmetic. */
export function replace(pk: Packing, old: Bin[], sub: SubPacking, maxMoves = Infinity): boolean {
  pk.begin();
  for (const b of old) for (const i of b.items.flat()) pk.remove(i);
  const opened: Bin[] = [];
  let ok = true;
  const oldByType = new Map<number, Bin[]>();
  for (const b of old) oldByType.set(b.type, [...(oldByType.get(b.type) ?? []), b]);
  for (const inst of sub.instances) {
    const reuse = oldByType.get(inst.type)?.shift();
    const bin = reuse ?? (pk.canOpen(inst.type) ? pk.open(inst.type) : undefined);
    if (!bin) {
      ok = false;
      break;
    }
    if (!reuse) opened.push(bin);
    for (let d = 0; d < inst.devices.length && ok; d++) {
      for (const i of inst.devices[d]) {
        if (!pk.fits(i, bin, d)) {
          ok = false;
          break;
        }
        pk.place(i, bin, d);
      }
    }
    if (!ok) break;
  }
  if (!ok || pk.moves > maxMoves) {
    pk.rollback();
    for (const b of opened) pk.close(b);
    return false;
  }
  pk.commit();
  pk.dropEmpty();
  return true;
}
