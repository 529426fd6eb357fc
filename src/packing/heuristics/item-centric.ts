import { FitIndex } from '../fit-index';
import type { Prepared } from '../prepare';
import { normalized } from '../measures';
import { Packing, type Bin } from '../state';
import { TypeChooser } from './type-choice';

export interface ItemCentricOptions {
  /** first: earliest-opened instance that fits; best: the one left fullest after the placement. */
  fit: 'first' | 'best';
  /** -1 for cost-aware type choice, else the type to prefer for every new instance. */
  fixedType: number;
}

/**
 * First-fit / best-fit decreasing over instances of all types. First-fit finds its instance through one
 * segment tree per type (O(log bins) per model); best-fit scans the open instances and is only run where
 * the caller judged n × instances affordable.
 */
export function itemCentric(
  p: Prepared,
  order: number[],
  opts: ItemCentricOptions,
  start?: Packing,
): Packing {
  const pk = start ?? new Packing(p);
  const indexes = p.types.map((_, t) => new FitIndex(pk, t));
  for (const bin of pk.bins) indexes[bin.type].add(bin);
  const chooser = new TypeChooser(p, order, opts.fixedType);
  const unplaced: number[] = [];
  for (const i of order) {
    let target: { bin: Bin; dev: number } | undefined;
    if (opts.fit === 'first') {
      let bestSlot = Infinity;
      for (let t = 0; t < p.T; t++) {
        if (Number.isNaN(p.mem[i * p.T + t]) || indexes[t].count === 0) continue;
        const hit = indexes[t].firstFit(i);
        if (hit && hit.bin.slot < bestSlot) {
          bestSlot = hit.bin.slot;
          target = hit;
        }
      }
    } else {
      target = bestFit(pk, i);
    }
    if (!target) {
      const t = chooser.choose(i, pk);
      if (t < 0) {
        unplaced.push(i);
        continue;
      }
      const bin = pk.open(t);
      indexes[t].add(bin);
      target = { bin, dev: 0 };
    }
    pk.place(i, target.bin, target.dev);
    indexes[target.bin.type].update(target.bin);
    chooser.placed(i);
  }
  return pk;
}

/** The device whose free capacity, summed over memory, compute and host, is smallest after placing i. */
function bestFit(pk: Packing, i: number): { bin: Bin; dev: number } | undefined {
  const p = pk.p;
  let best: { bin: Bin; dev: number } | undefined;
  let bestSlack = Infinity;
  for (const bin of pk.bins) {
    const t = bin.type;
    if (Number.isNaN(p.mem[i * p.T + t])) continue;
    const ty = p.types[t];
    const [a, b, c] = normalized(p, i, t);
    const hostFree = Number.isFinite(ty.host) ? 1 - bin.host / ty.host - c : 0;
    for (let d = 0; d < bin.items.length; d++) {
      if (!pk.fits(i, bin, d)) continue;
      const slack = 1 - bin.mem[d] / ty.memory - a + (1 - bin.cpu[d] / ty.compute - b) + hostFree;
      if (slack < bestSlack) {
        bestSlack = slack;
        best = { bin, dev: d };
      }
    }
  }
  return best;
}
