import type { Prepared } from '../prepare';
import { normalized } from '../measures';
import { Packing } from '../state';
import { TypeChooser } from './type-choice';

/**
 * Bin-centric heuristics of Panigrahy et al. (2011): fill one device at a time, each time taking the
 * model that best matches the device's free capacity, by the largest dot product of demand and free
 * vector ('dot') or the smallest L2 distance between them ('l2'). O(n²) overall, so callers keep it to
 * a few thousand models.
 */
export function binCentric(p: Prepared, order: number[], rule: 'dot' | 'l2', fixedType: number): Packing {
  const pk = new Packing(p);
  const chooser = new TypeChooser(p, order, fixedType);
  const pool = [...order];
  const norm = new Float64Array(p.n * p.T * 3);
  for (const i of order) {
    for (let t = 0; t < p.T; t++) {
      if (Number.isNaN(p.mem[i * p.T + t])) continue;
      norm.set(normalized(p, i, t), (i * p.T + t) * 3);
    }
  }
  const take = (at: number) => {
    pool[at] = pool[pool.length - 1];
    pool.pop();
  };
  let head = 0;
  const placed = new Uint8Array(p.n);
  while (pool.length > 0) {
    while (head < order.length && placed[order[head]]) head++;
    if (head >= order.length) break;
    const first = order[head];
    const t = chooser.choose(first, pk);
    if (t < 0) {
      placed[first] = 1;
      take(pool.indexOf(first));
      continue;
    }
    const ty = p.types[t];
    const bin = pk.open(t);
    for (let d = 0; d < ty.devices; d++) {
      for (;;) {
        const rm = 1 - bin.mem[d] / ty.memory;
        const rc = 1 - bin.cpu[d] / ty.compute;
        const rh = Number.isFinite(ty.host) ? 1 - bin.host / ty.host : 0;
        let best = -1;
        let bestScore = -Infinity;
        for (let at = 0; at < pool.length; at++) {
          const i = pool[at];
          const k = (i * p.T + t) * 3;
          if (Number.isNaN(p.mem[i * p.T + t]) || !pk.fits(i, bin, d)) continue;
          const a = norm[k];
          const b = norm[k + 1];
          const c = norm[k + 2];
          const score =
            rule === 'dot' ? a * rm + b * rc + c * rh : -((rm - a) ** 2 + (rc - b) ** 2 + (rh - c) ** 2);
          if (score > bestScore) {
            bestScore = score;
            best = at;
          }
        }
        if (best < 0) break;
        const i = pool[best];
        pk.place(i, bin, d);
        chooser.placed(i);
        placed[i] = 1;
        take(best);
      }
    }
  }
  return pk;
}
