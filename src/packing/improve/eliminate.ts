import { within } from '../prepare';
import type { Bin, Packing } from '../state';

/**
 * Bin elimination with ejection: empty one instance, then push its models into the others, swapping a
 * model already there for a larger free one whenever the device still fits (1–1, 2–1 and 1–2 swaps).
 * Each swap fills a device further and leaves smaller models free, until they all slot in somewhere or
 * a pass changes nothing; then the attempt is rolled back.
 */
export class Eliminator {
  private readonly size: Float64Array;

  constructor(
    private readonly pk: Packing,
    private readonly random: () => number,
    private readonly maxMoves = Infinity,
  ) {
    const p = pk.p;
    this.size = new Float64Array(p.n * p.T);
    for (const i of p.placeable) {
      for (let t = 0; t < p.T; t++) {
        const k = i * p.T + t;
        if (Number.isNaN(p.mem[k])) continue;
        const ty = p.types[t];
        this.size[k] =
          p.mem[k] / ty.memory + p.cpu[k] / ty.compute + (Number.isFinite(ty.host) ? p.host[k] / ty.host : 0);
      }
    }
  }

  private order: Bin[] = [];
  private cursor = 0;

  /**
   * Tries instances emptiest (per dollar) first, resuming where the last slice stopped: 'improved' when
   * one was eliminated, 'exhausted' when every instance was tried in vain, 'paused' at the deadline.
   */
  sweep(deadline: number): 'improved' | 'exhausted' | 'paused' {
    const pk = this.pk;
    if (this.cursor === 0 || this.cursor >= this.order.length) {
      const keyed = pk.bins
        .filter((b) => b.size > 0)
        .map((b) => ({ b, key: pk.fill(b) * pk.p.types[b.type].price }));
      keyed.sort((x, y) => x.key - y.key);
      this.order = keyed.map((k) => k.b);
      this.cursor = 0;
    }
    while (this.cursor < this.order.length) {
      if (Date.now() > deadline) return 'paused';
      const b = this.order[this.cursor++];
      if (b.slot < 0 || b.size === 0) continue;
      if (this.tryEliminate(b, deadline)) {
        this.cursor = 0;
        return 'improved';
      }
    }
    this.cursor = 0;
    return 'exhausted';
  }

  tryEliminate(victim: Bin, deadline: number): boolean {
    const pk = this.pk;
    const targets = this.targets(victim);
    pk.begin();
    const free = victim.items.flat();
    for (const i of free) pk.remove(i);
    for (let pass = 0; pass < 6 && free.length > 0 && Date.now() <= deadline; pass++) {
      let changed = false;
      for (const bin of targets) {
        // Swaps are quadratic in a device's models and the freed ones: a many-device victim of a
        // multi-device type frees hundreds, so the deadline is checked per target, not per pass.
        if (free.length === 0 || Date.now() > deadline) break;
        free.sort((a, b) => this.sizeOn(b, bin) - this.sizeOn(a, bin));
        if (this.insert(bin, free)) changed = true;
        for (let s = 0; s < 50 && free.length > 0 && this.swap(bin, free, deadline); s++) changed = true;
      }
      if (!changed) break;
    }
    if (free.length === 0 && pk.moves <= this.maxMoves) {
      pk.commit();
      pk.close(victim);
      return true;
    }
    pk.rollback();
    return false;
  }

  private sizeOn(i: number, bin: Bin): number {
    const k = i * this.pk.p.T + bin.type;
    return Number.isNaN(this.pk.p.mem[k]) ? -1 : this.size[k];
  }

  /** All other instances when there are few, otherwise the emptiest ones plus a random sample. */
  private targets(victim: Bin): Bin[] {
    const others = this.pk.bins.filter((b) => b !== victim && b.size > 0);
    if (others.length <= 400) return shuffle(others, this.random);
    const sample: Bin[] = [];
    for (let j = 0; j < 300; j++) sample.push(others[Math.floor(this.random() * others.length)]);
    others.sort((a, b) => this.pk.fill(a) - this.pk.fill(b));
    return [...new Set([...others.slice(0, 100), ...sample])];
  }

  private insert(bin: Bin, free: number[]): boolean {
    let changed = false;
    for (let j = 0; j < free.length; j++) {
      const dev = this.pk.deviceFor(free[j], bin);
      if (dev < 0) continue;
      this.pk.place(free[j], bin, dev);
      free.splice(j--, 1);
      changed = true;
    }
    return changed;
  }

  /** Does the device take `ins` after `outs` leave it? */
  private fitsSwap(bin: Bin, dev: number, outs: number[], ins: number[]): boolean {
    const p = this.pk.p;
    const ty = p.types[bin.type];
    let m = bin.mem[dev];
    let c = bin.cpu[dev];
    let h = bin.host;
    for (const o of outs) {
      const k = o * p.T + bin.type;
      m -= p.mem[k];
      c -= p.cpu[k];
      h -= p.host[k];
    }
    for (const i of ins) {
      const k = i * p.T + bin.type;
      if (Number.isNaN(p.mem[k])) return false;
      m += p.mem[k];
      c += p.cpu[k];
      h += p.host[k];
    }
    return within(m, ty.memory) && within(c, ty.compute) && within(h, ty.host);
  }

  private apply(bin: Bin, dev: number, outs: number[], ins: number[], free: number[]): void {
    for (const o of outs) this.pk.remove(o);
    for (const i of ins) {
      this.pk.place(i, bin, dev);
      free.splice(free.indexOf(i), 1);
    }
    free.push(...outs);
  }

  private swap(bin: Bin, free: number[], deadline: number): boolean {
    const eps = 1e-9;
    for (let dev = 0; dev < bin.items.length; dev++) {
      if (Date.now() > deadline) return false;
      const items = bin.items[dev];
      for (let a = 0; a < items.length; a++) {
        const x = items[a];
        const sx = this.sizeOn(x, bin);
        for (let f = 0; f < free.length; f++) {
          const sf = this.sizeOn(free[f], bin);
          if (sf > sx + eps && this.fitsSwap(bin, dev, [x], [free[f]])) {
            this.apply(bin, dev, [x], [free[f]], free);
            return true;
          }
          for (let g = f + 1; g < free.length; g++) {
            const sg = this.sizeOn(free[g], bin);
            if (
              sf + sg > sx + eps &&
              sg >= 0 &&
              sf >= 0 &&
              this.fitsSwap(bin, dev, [x], [free[f], free[g]])
            ) {
              this.apply(bin, dev, [x], [free[f], free[g]], free);
              return true;
            }
          }
        }
        for (let b = a + 1; b < items.length; b++) {
          const y = items[b];
          const sxy = sx + this.sizeOn(y, bin);
          for (let f = 0; f < free.length; f++) {
            if (this.sizeOn(free[f], bin) > sxy + eps && this.fitsSwap(bin, dev, [x, y], [free[f]])) {
              this.apply(bin, dev, [x, y], [free[f]], free);
              return true;
            }
          }
        }
      }
    }
    return false;
  }
}

function shuffle<T>(xs: T[], random: () => number): T[] {
  for (let j = xs.length - 1; j > 0; j--) {
    const k = Math.floor(random() * (j + 1));
    [xs[j], xs[k]] = [xs[k], xs[j]];
  }
  return xs;
}
