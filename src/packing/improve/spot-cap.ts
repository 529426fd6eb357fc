import { runs } from '../prepare';
import type { Bin, Packing } from '../state';
import { retype } from './downgrade';

/**
 * Holds the fleet to at most `maxFraction` of its devices on spot instances. Spot capacity can be
 * reclaimed at two minutes' notice, so users cap the share of the fleet it may carry. The search is
 * free to use spot wherever it is cheaper; this then moves whole spot instances onto on-demand types,
 * those that cost least extra per spot device first (an instance's own on-demand twin usually), and
 * only when no on-demand type takes an instance's models as they are, spreads them over on-demand
 * instances one by one (models no on-demand capacity can take are left unplaced). Returns the number of
 * spot instances it replaced.
 */
export function capSpot(pk: Packing, maxFraction: number): number {
  const p = pk.p;
  const over = () => {
    let total = 0;
    let spot = 0;
    for (const b of pk.bins) {
      if (b.size === 0) continue;
      total += p.types[b.type].devices;
      if (p.types[b.type].spot) spot += p.types[b.type].devices;
    }
    return spot > maxFraction * total + 1e-9;
  };
  if (!over()) return 0;
  const onDemand = p.types
    .map((_, t) => t)
    .filter((t) => !p.types[t].spot)
    .sort((a, b) => p.types[a].price - p.types[b].price);
  const extraPerDevice = (bin: Bin) => {
    const ty = p.types[bin.type];
    const twin = onDemand.find((t) => p.types[t].name === ty.name);
    return twin === undefined ? Infinity : (p.types[twin].price - ty.price) / ty.devices;
  };
  const spotBins = pk.bins
    .filter((b) => b.size > 0 && p.types[b.type].spot)
    .sort((a, b) => extraPerDevice(a) - extraPerDevice(b));
  let replaced = 0;
  const left: Bin[] = [];
  for (const bin of spotBins) {
    if (!over()) break;
    const models = bin.items.flat();
    const moved = onDemand.some(
      (t) => pk.canOpen(t) && models.every((i) => runs(p, i, t)) && retype(pk, bin, models, t),
    );
    if (moved) replaced++;
    else left.push(bin);
  }
  for (const bin of left) {
    if (!over()) break;
    if (!spreadOnDemand(pk, bin, onDemand)) {
      // No on-demand capacity takes them: they are reported unplaced rather than breaking the cap.
      for (const i of bin.items.flat()) pk.remove(i);
      pk.close(bin);
    }
    replaced++;
  }
  return replaced;
}

/** Places each of the bin's models on an open on-demand device that takes it, opening one if none does. */
function spreadOnDemand(pk: Packing, bin: Bin, onDemand: number[]): boolean {
  const p = pk.p;
  const models = bin.items.flat();
  pk.begin();
  for (const i of models) {
    pk.remove(i);
    let placed = false;
    for (const other of pk.bins) {
      if (other.size === 0 || p.types[other.type].spot) continue;
      const d = pk.deviceFor(i, other);
      if (d >= 0) {
        pk.place(i, other, d);
        placed = true;
        break;
      }
    }
    if (placed) continue;
    const t = onDemand.find((u) => pk.canOpen(u) && runs(p, i, u));
    const fresh = t === undefined ? undefined : pk.open(t);
    const d = fresh ? pk.deviceFor(i, fresh) : -1;
    if (!fresh || d < 0) {
      pk.rollback();
      pk.dropEmpty();
      return false;
    }
    pk.place(i, fresh, d);
  }
  pk.commit();
  pk.close(bin);
  return true;
}
