import { within, type Prepared } from './prepare';

/** One instance: per-device memory and compute loads, its host memory load, and the models per device. */
export class Bin {
  readonly mem: Float64Array;
  readonly cpu: Float64Array;
  host = 0;
  size = 0;
  readonly items: number[][];
  /** Position in `Packing.bins`, kept so that removing an emptied bin is O(1). */
  slot = -1;

  constructor(
    readonly type: number,
    devices: number,
    /** Which previous instance this one continues (stable re-packing); -1 for a new one. */
    public origin = -1,
  ) {
    this.mem = new Float64Array(devices);
    this.cpu = new Float64Array(devices);
    this.items = Array.from({ length: devices }, () => []);
  }
}

/** A mutable assignment of models to devices, with O(1) load updates and an optional undo journal. */
export class Packing {
  readonly bins: Bin[] = [];
  readonly binOf: (Bin | undefined)[];
  readonly devOf: Int32Array;
  readonly used: number[];
  private journal: { i: number; bin: Bin | undefined; dev: number }[] | undefined;
  /** For stable re-packing: each model's previous instance (by index) and device, -1 if it is new. */
  homeBin: Int32Array | undefined;
  homeDev: Int32Array | undefined;
  /** Models placed away from their previous device, kept up to date on every change. */
  moves = 0;

  constructor(readonly p: Prepared) {
    this.binOf = new Array<Bin | undefined>(p.n).fill(undefined);
    this.devOf = new Int32Array(p.n).fill(-1);
    this.used = new Array<number>(p.T).fill(0);
  }

  canOpen(t: number): boolean {
    return this.used[t] < this.p.types[t].available;
  }

  open(t: number, origin = -1): Bin {
    const bin = new Bin(t, this.p.types[t].devices, origin);
    bin.slot = this.bins.length;
    this.bins.push(bin);
    this.used[t]++;
    return bin;
  }

  /** Drops an empty bin from the list (swap-remove keeps it O(1)). */
  close(bin: Bin): void {
    if (bin.slot < 0) return;
    const last = this.bins.pop()!;
    if (last !== bin) {
      this.bins[bin.slot] = last;
      last.slot = bin.slot;
    }
    bin.slot = -1;
    this.used[bin.type]--;
  }

  fits(i: number, bin: Bin, dev: number): boolean {
    const p = this.p;
    const k = i * p.T + bin.type;
    const m = p.mem[k];
    if (Number.isNaN(m)) return false;
    const t = p.types[bin.type];
    return (
      within(bin.mem[dev] + m, t.memory) &&
      within(bin.cpu[dev] + p.cpu[k], t.compute) &&
      within(bin.host + p.host[k], t.host)
    );
  }

  /** The first device of `bin` that takes model i, or -1. */
  deviceFor(i: number, bin: Bin): number {
    for (let d = 0; d < bin.items.length; d++) if (this.fits(i, bin, d)) return d;
    return -1;
  }

  place(i: number, bin: Bin, dev: number): void {
    const p = this.p;
    const k = i * p.T + bin.type;
    bin.mem[dev] += p.mem[k];
    bin.cpu[dev] += p.cpu[k];
    bin.host += p.host[k];
    bin.items[dev].push(i);
    bin.size++;
    this.binOf[i] = bin;
    this.devOf[i] = dev;
    if (this.homeBin && this.homeBin[i] >= 0 && !(bin.origin === this.homeBin[i] && dev === this.homeDev![i]))
      this.moves++;
    this.journal?.push({ i, bin: undefined, dev: -1 });
  }

  remove(i: number): void {
    const bin = this.binOf[i];
    if (!bin) return;
    const p = this.p;
    const dev = this.devOf[i];
    if (this.homeBin && this.homeBin[i] >= 0 && !(bin.origin === this.homeBin[i] && dev === this.homeDev![i]))
      this.moves--;
    const k = i * p.T + bin.type;
    bin.mem[dev] -= p.mem[k];
    bin.cpu[dev] -= p.cpu[k];
    bin.host -= p.host[k];
    const list = bin.items[dev];
    const at = list.indexOf(i);
    list[at] = list[list.length - 1];
    list.pop();
    bin.size--;
    if (bin.size === 0) {
      bin.mem.fill(0);
      bin.cpu.fill(0);
      bin.host = 0;
    }
    this.binOf[i] = undefined;
    this.devOf[i] = -1;
    this.journal?.push({ i, bin, dev });
  }

  move(i: number, bin: Bin, dev: number): void {
    this.remove(i);
    this.place(i, bin, dev);
  }

  /** Starts recording changes so that a failed neighbourhood move can be rolled back. */
  begin(): void {
    this.journal = [];
  }

  commit(): void {
    this.journal = undefined;
  }

  rollback(): void {
    const log = this.journal ?? [];
    this.journal = undefined;
    for (let j = log.length - 1; j >= 0; j--) {
      const { i, bin, dev } = log[j];
      this.remove(i);
      if (bin) {
        if (bin.slot < 0) {
          bin.slot = this.bins.length;
          this.bins.push(bin);
          this.used[bin.type]++;
        }
        this.place(i, bin, dev);
      }
    }
  }

  cost(): number {
    let c = 0;
    for (const b of this.bins) if (b.size > 0) c += this.p.types[b.type].price;
    return c;
  }

  /** Largest used fraction over memory, compute and host of one bin. */
  fill(bin: Bin): number {
    const t = this.p.types[bin.type];
    let m = 0;
    let c = 0;
    for (let d = 0; d < bin.items.length; d++) {
      m += bin.mem[d];
      c += bin.cpu[d];
    }
    const D = bin.items.length;
    return Math.max(m / (t.memory * D), c / (t.compute * D), Number.isFinite(t.host) ? bin.host / t.host : 0);
  }

  dropEmpty(): void {
    for (let j = this.bins.length - 1; j >= 0; j--) if (this.bins[j].size === 0) this.close(this.bins[j]);
  }

  clone(): Packing {
    const copy = new Packing(this.p);
    copy.homeBin = this.homeBin;
    copy.homeDev = this.homeDev;
    for (const b of this.bins) {
      if (b.size === 0) continue;
      const nb = copy.open(b.type, b.origin);
      b.items.forEach((list, d) => list.forEach((i) => copy.place(i, nb, d)));
    }
    return copy;
  }
}
