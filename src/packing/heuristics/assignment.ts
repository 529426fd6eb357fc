import { demandClasses, runs, type Prepared } from '../prepare';
import { homeTypes, sortedBy } from '../measures';
import { Packing } from '../state';
import { itemCentric } from './item-centric';

/**
 * Which instance type each model goes to, decided before any instance is filled. On a catalog that
 * mixes processors and instance sizes this is the decision that sets the price: the packers below only
 * fill instances well once it is made, and left to choose while filling they open whatever type the
 * backlog of the moment favours.
 */
export type TypeAssignment = Int32Array;

/**
 * The problem seen through an assignment: model i runs only on typeOf[i] (every other type NaN). The
 * demands on the kept type are the full problem's, so a packing of the view is a packing of the
 * problem (`widen`). A model whose type is -1 keeps all its types.
 */
export function restrictTo(p: Prepared, typeOf: TypeAssignment): Prepared {
  const mem = p.mem.slice();
  const cpu = p.cpu.slice();
  const host = p.host.slice();
  for (const i of p.placeable) {
    const keep = typeOf[i];
    if (keep < 0) continue;
    for (let t = 0; t < p.T; t++) {
      if (t === keep) continue;
      mem[i * p.T + t] = NaN;
      cpu[i * p.T + t] = NaN;
      host[i * p.T + t] = NaN;
    }
  }
  return { ...p, mem, cpu, host };
}

/** The same instances and devices as a packing of the full problem. */
export function widen(p: Prepared, view: Packing): Packing {
  const pk = new Packing(p);
  for (const b of view.bins) {
    if (b.size === 0) continue;
    const bin = pk.open(b.type);
    b.items.forEach((list, d) => list.forEach((i) => pk.place(i, bin, d)));
  }
  return pk;
}

/**
 * Packs `view` (a restricted problem) with `pack`, then widens the result and places what the view
 * could not (its assigned type ran out of instances) by first-fit decreasing over every type.
 */
export function packAssigned(
  p: Prepared,
  typeOf: TypeAssignment,
  pack: (view: Prepared) => Packing,
): Packing {
  const pk = widen(p, pack(restrictTo(p, typeOf)));
  const left = p.placeable.filter((i) => !pk.binOf[i]);
  if (left.length === 0) return pk;
  const home = homeTypes(p, left);
  const order = sortedBy({ ...p, placeable: left }, home, 'max');
  return itemCentric(p, order, { fit: 'first', fixedType: -1 }, pk);
}

/**
 * The baseline a user would hand-roll: every model on the type where its price-weighted share of an
 * instance is cheapest, first-fit decreasing within each type. Kept in the portfolio so the packer is
 * never worse than it.
 */
export function cheapestShareFfd(p: Prepared): Packing {
  const home = homeTypes(p);
  // In the view each model runs on its home type alone, so the sizes are the ones on `home`.
  return packAssigned(p, home, (view) =>
    itemCentric(view, sortedBy(view, home, 'max'), { fit: 'first', fixedType: -1 }),
  );
}

/**
 * Rounds the multiple-choice LP's split to a type per model: within each class of identical models the
 * class's count is dealt over its types by largest remainder (the post's 3,000 copies of one model keep
 * the LP's mix of instance types), a lone model goes where most of it is.
 */
export function roundedShare(p: Prepared, share: Float64Array): TypeAssignment {
  const typeOf = new Int32Array(p.n).fill(-1);
  for (const { members, count } of demandClasses(p, p.placeable)) {
    const first = members[0];
    const quota = Array.from({ length: p.T }, (_, t) => share[first * p.T + t] * count);
    const whole = quota.map(Math.floor);
    let left = count - whole.reduce((a, b) => a + b, 0);
    const byRemainder = quota
      .map((q, t) => ({ t, rest: q - whole[t] }))
      .filter(({ t }) => runs(p, first, t))
      .sort((a, b) => b.rest - a.rest);
    for (let k = 0; left > 0 && byRemainder.length > 0; k = (k + 1) % byRemainder.length, left--)
      whole[byRemainder[k].t]++;
    let next = 0;
    for (let t = 0; t < p.T; t++)
      for (let c = 0; c < whole[t] && next < members.length; c++) typeOf[members[next++]] = t;
  }
  return typeOf;
}
