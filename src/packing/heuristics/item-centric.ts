import { FitIndex } from '../fit-index';
import { TOLERANCE, type Prepared } from '../prepare';
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
  const rest = new RemainingMinima(p, order);
  // First fit's bins that may still take a model; filtered at each checkpoint.
  let open = [...pk.bins];
  for (let j = 0; j < order.length; j++) {
    const i = order[j];
    if (opts.fit === 'first' && rest.atCheckpoint(j))
      open = open.filter((bin) => {
        if (!indexes[bin.type].has(bin)) return false;
        if (!rest.rulesOut(bin, j)) return true;
        indexes[bin.type].retire(bin);
        return false;
      });
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
      open.push(bin);
      target = { bin, dev: 0 };
    }
    pk.place(i, target.bin, target.dev);
    indexes[target.bin.type].update(target.bin);
    if (opts.fit === 'first' && rest.rulesOut(target.bin, j + 1)) indexes[target.bin.type].retire(target.bin);
    chooser.placed(i);
  }
  return pk;
}

/** Checkpoints per pass at which every bin is re-examined for retirement. */
const CHECKPOINTS = 64;

/**
 * The least memory, compute and host memory, per type, of the models from each checkpoint of `order`
 * to its end. The minimum from the last checkpoint at or before position j is at most that of the
 * models from j on, so a bin with less free room than it in some dimension takes none of them.
 */
class RemainingMinima {
  private readonly step: number;
  private readonly minima: Float64Array;

  constructor(
    private readonly p: Prepared,
    order: number[],
  ) {
    const T = p.T;
    this.step = Math.max(1, Math.ceil(order.length / CHECKPOINTS));
    const points = Math.ceil(order.length / this.step) + 1;
    this.minima = new Float64Array(points * T * 3).fill(Infinity);
    for (let j = order.length - 1; j >= 0; j--) {
      const c = Math.floor(j / this.step);
      const i = order[j];
      for (let t = 0; t < T; t++) {
        const k = i * T + t;
        if (Number.isNaN(p.mem[k])) continue;
        const at = (c * T + t) * 3;
        this.minima[at] = Math.min(this.minima[at], p.mem[k]);
        this.minima[at + 1] = Math.min(this.minima[at + 1], p.cpu[k]);
        this.minima[at + 2] = Math.min(this.minima[at + 2], p.host[k]);
      }
    }
    for (let c = points - 2; c >= 0; c--)
      for (let x = 0; x < T * 3; x++)
        this.minima[c * T * 3 + x] = Math.min(this.minima[c * T * 3 + x], this.minima[(c + 1) * T * 3 + x]);
  }

  atCheckpoint(j: number): boolean {
    return j > 0 && j % this.step === 0;
  }

  /** True when no model from position j of the order on fits `bin`, whatever it holds already. */
  rulesOut(bin: Bin, j: number): boolean {
    const p = this.p;
    const ty = p.types[bin.type];
    const at = (Math.floor(j / this.step) * p.T + bin.type) * 3;
    let mem = -Infinity;
    let cpu = -Infinity;
    for (let d = 0; d < bin.items.length; d++) {
      mem = Math.max(mem, room(ty.memory, bin.mem[d]));
      cpu = Math.max(cpu, room(ty.compute, bin.cpu[d]));
    }
    return (
      mem < this.minima[at] || cpu < this.minima[at + 1] || room(ty.host, bin.host) < this.minima[at + 2]
    );
  }
}

/**
 * The most a device or host at `load` may still take under the packer's tolerance (`within`), rounded
 * up a little more so that float rounding never retires a bin that would take a model.
 */
const room = (cap: number, load: number) => cap * (1 + 2 * TOLERANCE) + 1e-12 - load;

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
