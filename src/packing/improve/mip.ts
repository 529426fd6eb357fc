import { OPTIMAL, type HighsSolver } from '../highs/worker';
import { ModelBuilder } from '../highs/model-builder';
import type { Prepared } from '../prepare';

export interface SubPacking {
  instances: { type: number; devices: number[][] }[];
  cost: number;
  /** HiGHS proved no cheaper packing of these models exists under the given type limits. */
  optimal: boolean;
}

export interface ExactOutcome {
  packing?: SubPacking;
  /** A proven lower bound on the cost of packing these models under the type limits. */
  bound: number;
}

/** Above this many columns the MIP is not worth sending to HiGHS inside a packing time budget. */
export const MAX_MIP_COLUMNS = 40_000;

/**
 * The exact MIP for packing `models` onto at most `limit[t]` instances of each type: an open variable per
 * candidate instance, an assignment variable per model × instance × device. Instances of one type are
 * interchangeable, so they open in order and the model of rank r on a type may only use its first r + 1
 * instances, which removes most symmetric copies of each solution.
 */
export async function solveExactly(
  solver: HighsSolver,
  p: Prepared,
  models: number[],
  limit: number[],
  timeLimitSec: number,
  cutoff?: number,
): Promise<ExactOutcome | undefined> {
  const b = new ModelBuilder();
  const position = new Map(models.map((i, r) => [i, r]));
  const assign = models.map(() => b.row(1, 1));
  const placements: { t: number; j: number; model: number; dev: number; col: number }[] = [];
  const opens: { t: number; j: number; col: number }[] = [];
  for (let t = 0; t < p.T; t++) {
    const ty = p.types[t];
    const eligible = models.filter((i) => !Number.isNaN(p.mem[i * p.T + t]));
    const count = Math.min(limit[t], eligible.length);
    const rows = Array.from({ length: count }, (_, j) => ({
      mem: Array.from({ length: ty.devices }, () => b.row(-Infinity, 0)),
      cpu: Array.from({ length: ty.devices }, () => b.row(-Infinity, 0)),
      host: Number.isFinite(ty.host) ? b.row(-Infinity, 0) : -1,
      link: b.row(-Infinity, 0),
      order: j > 0 ? b.row(-Infinity, 0) : -1,
    }));
    for (let j = 0; j < count; j++) {
      const r = rows[j];
      eligible.forEach((i, rank) => {
        if (rank < j) return;
        const k = i * p.T + t;
        for (let d = 0; d < ty.devices; d++) {
          const at = [assign[position.get(i)!], r.mem[d], r.cpu[d], r.link];
          const vals = [1, p.mem[k], p.cpu[k], 1];
          if (r.host >= 0) {
            at.push(r.host);
            vals.push(p.host[k]);
          }
          placements.push({ t, j, model: i, dev: d, col: b.col(0, 0, 1, true, at, vals) });
        }
      });
      const at = [...r.mem, ...r.cpu, r.link];
      const vals = [...r.mem.map(() => -ty.memory), ...r.cpu.map(() => -ty.compute), -eligible.length];
      if (r.host >= 0) {
        at.push(r.host);
        vals.push(-ty.host);
      }
      if (r.order >= 0) {
        at.push(r.order);
        vals.push(1);
      }
      if (j + 1 < count) {
        at.push(rows[j + 1].order);
        vals.push(-1);
      }
      opens.push({ t, j, col: b.col(ty.price, 0, 1, true, at, vals) });
      if (b.numCols > MAX_MIP_COLUMNS) return undefined;
    }
  }
  const result = await solver.solve({ model: b.build(true), timeLimitSec, cutoff });
  if (result.error) return undefined;
  const bound =
    result.status === OPTIMAL
      ? Math.min(result.dualBound ?? result.objective, result.objective)
      : (result.dualBound ?? 0);
  const x = result.colValue;
  if (!x) return { bound };
  const key = (t: number, j: number) => `${t}:${j}`;
  const byInstance = new Map<string, { type: number; devices: number[][] }>();
  let cost = 0;
  for (const o of opens) {
    if (x[o.col] < 0.5) continue;
    byInstance.set(key(o.t, o.j), {
      type: o.t,
      devices: Array.from({ length: p.types[o.t].devices }, () => []),
    });
    cost += p.types[o.t].price;
  }
  for (const v of placements) {
    if (x[v.col] < 0.5) continue;
    const inst = byInstance.get(key(v.t, v.j));
    if (!inst) return { bound };
    inst.devices[v.dev].push(v.model);
  }
  const instances = [...byInstance.values()].filter((s) => s.devices.some((d) => d.length > 0));
  return { packing: { instances, cost, optimal: result.status === OPTIMAL }, bound };
}
