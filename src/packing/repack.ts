import { homeTypes, sortedBy } from './measures';
import { typeIndexOf, type Prepared } from './prepare';
import { itemCentric } from './heuristics/item-centric';
import { Packing } from './state';
import type { Placement } from './types';

/**
 * The incumbent for stable re-packing: every model still present stays on its previous device while it
 * fits there (demands may have grown), removed models are dropped, and new or evicted models are
 * inserted first-fit decreasing into existing instances before any new one is opened.
 */
export function startFromPrevious(p: Prepared, previous: Placement): Packing {
  const pk = new Packing(p);
  const index = new Map(p.ids.map((id, i) => [id, i]));
  const typeIndex = typeIndexOf(p);
  pk.homeBin = new Int32Array(p.n).fill(-1);
  pk.homeDev = new Int32Array(p.n).fill(-1);
  const placeable = new Uint8Array(p.n);
  for (const i of p.placeable) placeable[i] = 1;
  previous.instances.forEach((inst, k) => {
    const t = typeIndex(inst);
    inst.devices.forEach((ids, d) =>
      ids.forEach((id) => {
        const i = index.get(id);
        if (i !== undefined && pk.homeBin![i] < 0) {
          pk.homeBin![i] = k;
          pk.homeDev![i] = d;
        }
      }),
    );
    if (t === undefined || !pk.canOpen(t)) return;
    const bin = pk.open(t, k);
    inst.devices.forEach((ids, d) => {
      if (d >= bin.items.length) return;
      for (const id of ids) {
        const i = index.get(id);
        if (i === undefined || !placeable[i] || pk.binOf[i] || pk.homeBin![i] !== k) continue;
        if (pk.fits(i, bin, d)) pk.place(i, bin, d);
      }
    });
  });
  pk.dropEmpty();
  const waiting = sortedBy(p, homeTypes(p), 'max').filter((i) => !pk.binOf[i]);
  return itemCentric(p, waiting, { fit: 'first', fixedType: -1 }, pk);
}

/**
 * Relabels a fresh packing against the previous one before moves are counted: instances are matched to
 * previous instances of the same type by the number of models they share (greedy, largest overlap
 * first), then devices within each matched pair the same way.
 */
export function matchToPrevious(
  fresh: Packing,
  homeBin: Int32Array,
  homeDev: Int32Array,
  previousCount: number,
): Packing {
  const p = fresh.p;
  const pairs: { bin: number; prev: number; overlap: number }[] = [];
  fresh.bins.forEach((bin, b) => {
    const overlap = new Map<number, number>();
    for (const i of bin.items.flat())
      if (homeBin[i] >= 0) overlap.set(homeBin[i], (overlap.get(homeBin[i]) ?? 0) + 1);
    for (const [prev, n] of overlap) pairs.push({ bin: b, prev, overlap: n });
  });
  pairs.sort((a, b) => b.overlap - a.overlap);
  const origin = new Int32Array(fresh.bins.length).fill(-1);
  const taken = new Uint8Array(previousCount);
  for (const { bin, prev } of pairs) {
    if (origin[bin] >= 0 || taken[prev]) continue;
    origin[bin] = prev;
    taken[prev] = 1;
  }
  const out = new Packing(p);
  out.homeBin = homeBin;
  out.homeDev = homeDev;
  fresh.bins.forEach((bin, b) => {
    const nb = out.open(bin.type, origin[b]);
    const D = bin.items.length;
    const devPairs: { from: number; to: number; overlap: number }[] = [];
    for (let from = 0; from < D; from++) {
      const counts = new Array<number>(D).fill(0);
      for (const i of bin.items[from]) if (homeBin[i] === origin[b] && homeDev[i] < D) counts[homeDev[i]]++;
      counts.forEach((n, to) => devPairs.push({ from, to, overlap: n }));
    }
    devPairs.sort((x, y) => y.overlap - x.overlap);
    const target = new Int32Array(D).fill(-1);
    const used = new Uint8Array(D);
    for (const { from, to } of devPairs) {
      if (target[from] >= 0 || used[to]) continue;
      target[from] = to;
      used[to] = 1;
    }
    bin.items.forEach((ids, from) => ids.forEach((i) => out.place(i, nb, target[from])));
  });
  return out;
}
