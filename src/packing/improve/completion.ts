import { within, type Prepared } from '../prepare';
import type { SubPacking } from './mip';

/** Problems bin completion handles: one instance type, one device per instance. */
export function completionApplies(p: Prepared, models: number[]): boolean {
  return p.T === 1 && p.types[0].devices === 1 && models.length > 0;
}

/**
 * Bin completion (Korf 2002) with a waste budget, for one instance type of one device: packs `models`
 * into exactly `bins` instances or proves nothing. Every instance in turn takes the largest model left
 * (size weighted towards the dimensions with the least slack, where a wrong choice shows soonest) plus a
 * subset of the others; since `bins` instances have bins × capacity in each dimension, the slack
 * left over all instances is at most that minus the total demand, and a completion that wastes more than
 * what remains of that budget is cut. When the bound is tight (little waste allowed) this settles
 * instances the MIP cannot. A search that runs to the end without a packing proves that no packing into
 * `bins` instances or fewer exists: the largest model left must sit in some instance, instances are
 * interchangeable, every subset is tried, and only identical models or waste beyond the budget are cut.
 * Stops at `deadline` or after `maxNodes` completions; the result still goes
 * through the packer's own fit checks before it is used.
 */
export interface CompletionOutcome {
  packing?: SubPacking;
  /** The search ran to the end without a packing: no packing into `bins` instances or fewer exists. */
  infeasible: boolean;
}

export function binCompletion(
  p: Prepared,
  models: number[],
  bins: number,
  deadline: number,
  maxNodes = 5_000_000,
): CompletionOutcome {
  if (!completionApplies(p, models) || bins <= 0) return { infeasible: false };
  const ty = p.types[0];
  const caps = [ty.memory, ty.compute, ty.host];
  const n = models.length;
  const dem = models.map((i) => [p.mem[i], p.cpu[i], p.host[i]]);
  // Relative waste allowed per dimension: the tighter a dimension, the more it weighs in the order.
  const slackShare = [0, 1, 2].map((k) =>
    Number.isFinite(caps[k])
      ? Math.max(1e-3, 1 - dem.reduce((s, v) => s + v[k], 0) / (bins * caps[k]))
      : Infinity,
  );
  const size = dem.map((d) =>
    d.reduce((s, v, k) => s + (Number.isFinite(caps[k]) ? v / caps[k] / slackShare[k] : 0), 0),
  );
  const order = models.map((_, j) => j).sort((a, b) => size[b] - size[a]);
  const d = order.map((j) => dem[j]);
  const same = (a: number, b: number) => d[a][0] === d[b][0] && d[a][1] === d[b][1] && d[a][2] === d[b][2];
  const budget = [0, 1, 2].map((k) =>
    Number.isFinite(caps[k]) ? bins * caps[k] - d.reduce((s, v) => s + v[k], 0) : Infinity,
  );
  const slackTol = (k: number) => 1e-9 * Math.max(1, caps[k]) * bins;
  if (budget.some((w, k) => w < -slackTol(k))) return { infeasible: true };
  const used = new Uint8Array(n);
  const assigned: number[][] = [];
  let nodes = 0;
  let aborted = false;
  const overBudget = () => {
    if ((++nodes & 1023) === 0 && Date.now() > deadline) aborted = true;
    if (nodes > maxNodes) aborted = true;
    return aborted;
  };

  const packRest = (left: number, waste: number[]): boolean => {
    let first = -1;
    for (let j = 0; j < n; j++)
      if (!used[j]) {
        first = j;
        break;
      }
    if (first < 0) return true;
    if (left === 0) return false;
    used[first] = 1;
    const bin = [first];
    const load = [d[first][0], d[first][1], d[first][2]];
    const complete = (from: number): boolean => {
      if (overBudget()) return false;
      // Only models from `from` on can still join: if even all of them leave more slack than the
      // waste budget allows in some dimension, no closure below this node is admissible.
      for (let k = 0; k < 3; k++) {
        if (!Number.isFinite(caps[k])) continue;
        let reach = load[k];
        for (let j = from; j < n && reach < caps[k]; j++) if (!used[j]) reach += d[j][k];
        if (caps[k] - Math.min(reach, caps[k]) > waste[k] + slackTol(k)) return false;
      }
      // Try adding each later model (fuller bins first), skipping duplicates of a model just tried.
      for (let j = from; j < n; j++) {
        if (used[j]) continue;
        if (j > from && !used[j - 1] && j - 1 >= from && same(j, j - 1)) continue;
        if (!within(load[0] + d[j][0], caps[0]) || !within(load[1] + d[j][1], caps[1])) continue;
        if (!within(load[2] + d[j][2], caps[2])) continue;
        used[j] = 1;
        bin.push(j);
        for (let k = 0; k < 3; k++) load[k] += d[j][k];
        const ok = complete(j + 1);
        for (let k = 0; k < 3; k++) load[k] -= d[j][k];
        bin.pop();
        used[j] = 0;
        if (ok) return true;
        if (aborted) return false;
      }
      // Close the instance here only when it is maximal (moving a model that still fits into it never
      // hurts the other instances) and its slack fits what remains of the waste budget.
      for (let j = 0; j < n; j++) {
        if (used[j]) continue;
        if (
          within(load[0] + d[j][0], caps[0]) &&
          within(load[1] + d[j][1], caps[1]) &&
          within(load[2] + d[j][2], caps[2])
        )
          return false;
      }
      const rest = [0, 1, 2].map((k) =>
        Number.isFinite(caps[k]) ? waste[k] - (caps[k] - load[k]) : Infinity,
      );
      if (rest.some((w, k) => w < -slackTol(k))) return false;
      assigned.push([...bin]);
      if (packRest(left - 1, rest)) return true;
      assigned.pop();
      return false;
    };
    const ok = complete(first + 1);
    used[first] = 0;
    return ok;
  };

  const found = packRest(bins, budget);
  if (aborted) return { infeasible: false };
  if (!found) return { infeasible: true };
  const packing = {
    instances: assigned.map((b) => ({ type: 0, devices: [b.map((j) => models[order[j]])] })),
    cost: assigned.length * ty.price,
    optimal: false,
  };
  return { packing, infeasible: false };
}
