import { minSlack } from '../heuristics/min-slack';
import type { Bin, Packing } from '../state';

/** Instances emptied per step: a few of the emptiest, the rest at random. */
const EMPTIEST = 3;
const RANDOM = 9;

/**
 * Ruin and recreate: empty a few of the emptiest instances and some random others, and re-pack their
 * models by minimum slack. Kept when it costs less, or costs the same with the load more concentrated
 * (the sum of squared fills grows, so the emptiest instance drains towards elimination); otherwise
 * rolled back. Unlike the MIP windows it reshuffles a few dozen models in a millisecond, which is what
 * the tail of a packing needs when every device is nearly full and the spare room sits on a few
 * instances.
 */
export function recreateStep(pk: Packing, random: () => number, maxMoves = Infinity): boolean {
  const p = pk.p;
  const bins = pk.bins.filter((b) => b.size > 0);
  if (bins.length < 2) return false;
  bins.sort((a, b) => pk.fill(a) - pk.fill(b));
  const chosen = new Set<Bin>(bins.slice(0, Math.min(EMPTIEST, bins.length - 1)));
  for (let k = 0; k < RANDOM * 3 && chosen.size < EMPTIEST + RANDOM; k++)
    chosen.add(bins[Math.floor(random() * bins.length)]);
  const old = [...chosen];
  const price = (xs: Bin[]) => xs.reduce((s, b) => s + p.types[b.type].price, 0);
  const concentration = (xs: Bin[]) => xs.reduce((s, b) => s + pk.fill(b) ** 2, 0);
  const oldCost = price(old);
  const oldConcentration = concentration(old);
  const models = old.flatMap((b) => b.items.flat());
  pk.begin();
  for (const i of models) pk.remove(i);
  for (const b of old) pk.close(b);
  const before = pk.bins.length;
  minSlack(p, -1, { models, into: pk });
  const fresh = pk.bins.slice(before);
  const placed = models.every((i) => pk.binOf[i]);
  const cost = price(fresh);
  const better =
    cost < oldCost - 1e-9 || (cost <= oldCost + 1e-9 && concentration(fresh) > oldConcentration + 1e-12);
  if (placed && better && pk.moves <= maxMoves) {
    pk.commit();
    return cost < oldCost - 1e-9;
  }
  pk.rollback();
  for (const b of fresh) pk.close(b);
  return false;
}
