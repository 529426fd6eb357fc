import type { Bin, Packing } from './state';

/**
 * A segment tree over the bins of one instance type, in opening order, holding per node the largest
 * free memory and compute of any device below it and the largest free host memory. First-fit becomes a
 * descent that skips whole ranges of full bins instead of scanning them all.
 */
export class FitIndex {
  private size = 1;
  private freeMem = new Float64Array(2).fill(-1);
  private freeCpu = new Float64Array(2).fill(-1);
  private freeHost = new Float64Array(2).fill(-1);
  private leaves: Bin[] = [];
  private readonly leafOf = new Map<Bin, number>();

  constructor(
    private readonly pk: Packing,
    readonly type: number,
  ) {}

  get count(): number {
    return this.leaves.length;
  }

  add(bin: Bin): void {
    if (this.leaves.length === this.size) this.grow();
    this.leafOf.set(bin, this.leaves.length);
    this.leaves.push(bin);
    this.update(bin);
  }

  /** Whether the bin is in the search (added and not retired). */
  has(bin: Bin): boolean {
    return this.leafOf.has(bin);
  }

  /**
   * Takes a bin out of the search for good: the caller knows that no model still to place fits it (its
   * free room in some dimension is below every such model's demand). In two or more dimensions the
   * per-node maxima cannot see that one bin's free memory and another's free compute do not meet in
   * one device, so bins that are full in one dimension and free in the other would make every descent
   * visit them; retiring them keeps first fit near O(log bins) per model on a hundred thousand models.
   */
  retire(bin: Bin): void {
    const leaf = this.leafOf.get(bin);
    if (leaf === undefined) return;
    this.leafOf.delete(bin);
    let j = this.size + leaf;
    this.freeMem[j] = -1;
    this.freeCpu[j] = -1;
    this.freeHost[j] = -1;
    for (j >>= 1; j >= 1; j >>= 1) {
      this.freeMem[j] = Math.max(this.freeMem[2 * j], this.freeMem[2 * j + 1]);
      this.freeCpu[j] = Math.max(this.freeCpu[2 * j], this.freeCpu[2 * j + 1]);
      this.freeHost[j] = Math.max(this.freeHost[2 * j], this.freeHost[2 * j + 1]);
    }
  }

  update(bin: Bin): void {
    const leaf = this.leafOf.get(bin);
    if (leaf === undefined) return;
    const t = this.pk.p.types[this.type];
    let m = -Infinity;
    let c = -Infinity;
    for (let d = 0; d < bin.items.length; d++) {
      m = Math.max(m, t.memory - bin.mem[d]);
      c = Math.max(c, t.compute - bin.cpu[d]);
    }
    let j = this.size + leaf;
    this.freeMem[j] = m;
    this.freeCpu[j] = c;
    this.freeHost[j] = t.host - bin.host;
    for (j >>= 1; j >= 1; j >>= 1) {
      this.freeMem[j] = Math.max(this.freeMem[2 * j], this.freeMem[2 * j + 1]);
      this.freeCpu[j] = Math.max(this.freeCpu[2 * j], this.freeCpu[2 * j + 1]);
      this.freeHost[j] = Math.max(this.freeHost[2 * j], this.freeHost[2 * j + 1]);
    }
  }

  /** The earliest-opened bin with a device that takes model i, and that device; leaf order is opening order. */
  firstFit(i: number): { bin: Bin; dev: number; leaf: number } | undefined {
    const p = this.pk.p;
    const k = i * p.T + this.type;
    const m = p.mem[k] - 1e-9;
    const c = p.cpu[k] - 1e-9;
    const h = p.host[k] - 1e-9;
    const visit = (j: number): { bin: Bin; dev: number; leaf: number } | undefined => {
      if (this.freeMem[j] < m || this.freeCpu[j] < c || this.freeHost[j] < h) return undefined;
      if (j >= this.size) {
        const leaf = j - this.size;
        const bin = this.leaves[leaf];
        if (!bin) return undefined;
        const dev = this.pk.deviceFor(i, bin);
        return dev < 0 ? undefined : { bin, dev, leaf };
      }
      return visit(2 * j) ?? visit(2 * j + 1);
    };
    return visit(1);
  }

  private grow(): void {
    const old = this.leaves;
    const retired = old.filter((b) => !this.leafOf.has(b));
    this.size *= 2;
    this.freeMem = new Float64Array(2 * this.size).fill(-1);
    this.freeCpu = new Float64Array(2 * this.size).fill(-1);
    this.freeHost = new Float64Array(2 * this.size).fill(-1);
    this.leaves = [];
    this.leafOf.clear();
    for (const b of old) this.add(b);
    for (const b of retired) this.retire(b);
  }
}
