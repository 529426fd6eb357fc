import type { Prepared } from '../prepare';
import type { Packing } from '../state';

/**
 * Picks the instance type for a newly opened instance by the price per unit of its bottleneck resource:
 * the estimated cost of finishing all models not yet placed on that type alone, price × max(1, need),
 * where need is the largest of memory, compute and host demand over the type's capacity. A big backlog
 * thus favours the cheapest type per unit of its bottleneck, a small tail the cheapest instance that
 * holds it.
 */
export class TypeChooser {
  private readonly remaining: Float64Array;

  constructor(
    private readonly p: Prepared,
    models: number[],
    /** When set, only this type is opened while it is available and the model runs there. */
    private readonly fixed = -1,
  ) {
    this.remaining = new Float64Array(p.T * 3);
    for (const i of models) this.adjust(i, 1);
  }

  placed(i: number): void {
    this.adjust(i, -1);
  }

  choose(i: number, pk: Packing): number {
    const p = this.p;
    if (this.fixed >= 0 && pk.canOpen(this.fixed) && !Number.isNaN(p.mem[i * p.T + this.fixed]))
      return this.fixed;
    let best = -1;
    let bestScore = Infinity;
    for (let t = 0; t < p.T; t++) {
      if (Number.isNaN(p.mem[i * p.T + t]) || !pk.canOpen(t)) continue;
      const ty = p.types[t];
      const need = Math.max(
        this.remaining[3 * t] / (ty.memory * ty.devices),
        this.remaining[3 * t + 1] / (ty.compute * ty.devices),
        Number.isFinite(ty.host) ? this.remaining[3 * t + 2] / ty.host : 0,
      );
      const score = ty.price * Math.max(1, need);
      if (score < bestScore) {
        bestScore = score;
        best = t;
      }
    }
    return best;
  }

  private adjust(i: number, sign: number): void {
    const p = this.p;
    for (let t = 0; t < p.T; t++) {
      const k = i * p.T + t;
      if (Number.isNaN(p.mem[k])) continue;
      this.remaining[3 * t] += sign * p.mem[k];
      this.remaining[3 * t + 1] += sign * p.cpu[k];
      this.remaining[3 * t + 2] += sign * p.host[k];
    }
  }
}
