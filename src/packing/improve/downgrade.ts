import { measure } from '../measures';
import type { Bin, Packing } from '../state';

/**
 * Re-types instances whose models all fit a cheaper type (re-packed first-fit decreasing onto its
 * devices). Constructive heuristics open instances for the backlog they see; the tail often ends up on
 * a type larger than its load needs.
 */
export function downgrade(pk: Packing, maxMoves = Infinity): boolean {
  const p = pk.p;
  const byPrice = p.types.map((_, t) => t).sort((a, b) => p.types[a].price - p.types[b].price);
  let changed = false;
  for (const bin of [...pk.bins]) {
    if (bin.size === 0) continue;
    const price = p.types[bin.type].price;
    const models = bin.items.flat();
    for (const t of byPrice) {
      if (p.types[t].price >= price - 1e-12) break;
      if (!pk.canOpen(t) || models.some((i) => Number.isNaN(p.mem[i * p.T + t]))) continue;
      if (retype(pk, bin, models, t, maxMoves)) {
        changed = true;
        break;
      }
    }
  }
  return changed;
}

/** Moves all of `bin`'s models onto a fresh instance of type t (first-fit decreasing); false, and nothing changed, if they do not fit. */
export function retype(pk: Packing, bin: Bin, models: number[], t: number, maxMoves = Infinity): boolean {
  const p = pk.p;
  const sorted = [...models].sort((a, b) => measure(p, b, t, 'max') - measure(p, a, t, 'max'));
  pk.begin();
  const fresh = pk.open(t);
  for (const i of sorted) {
    pk.remove(i);
    const dev = pk.deviceFor(i, fresh);
    if (dev < 0) {
      pk.rollback();
      pk.close(fresh);
      return false;
    }
    pk.place(i, fresh, dev);
  }
  if (pk.moves > maxMoves) {
    pk.rollback();
    pk.close(fresh);
    return false;
  }
  pk.commit();
  pk.close(bin);
  return true;
}
