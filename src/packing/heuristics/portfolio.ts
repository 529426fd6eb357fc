import { homeTypes, sortedBy, type SizeMeasure } from '../measures';
import type { Prepared } from '../prepare';
import { Packing } from '../state';
import { downgrade } from '../improve/downgrade';
import { balancedFill } from './balanced';
import { binCentric } from './bin-centric';
import { itemCentric } from './item-centric';
import { minSlack } from './min-slack';
import { cheapestShareFfd, packAssigned, type TypeAssignment } from './assignment';

/** Instances opened up front in the mix the cardinality bound found, largest instances first. */
function planned(p: Prepared, plan: number[]): Packing {
  const pk = new Packing(p);
  const types = plan.map((_, t) => t).sort((a, b) => p.types[b].price - p.types[a].price);
  for (const t of types) for (let k = 0; k < plan[t] && pk.canOpen(t); k++) pk.open(t);
  return pk;
}

export interface Candidate {
  packing: Packing;
  algorithm: string;
}

/** Below these sizes the quadratic heuristics (best-fit scan, bin-centric) are cheap enough to try. */
const BEST_FIT_MAX_MODELS = 5000;
const BIN_CENTRIC_MAX_MODELS = 3000;
const MIN_SLACK_MAX_MODELS = 20_000;

/**
 * Runs the constructive heuristics, cheapest first, until `deadline`, and keeps the cheapest result
 * (fewer instances on a tie). Each runs once with cost-aware type choice and once per type as the
 * preferred one, since a single well-chosen type is often what the optimum uses.
 */
export function bestConstruction(
  p: Prepared,
  deadline: number,
  plan?: number[],
  options: { typeVariants?: boolean; binCentricFirst?: boolean } = {},
): Candidate {
  const models = p.placeable;
  const home = homeTypes(p);
  const orders = new Map<SizeMeasure, number[]>();
  const order = (m: SizeMeasure) => {
    if (!orders.has(m)) orders.set(m, sortedBy(p, home, m));
    return orders.get(m)!;
  };
  const typeVariants = (options.typeVariants ?? true) && p.T > 1;
  const typeChoices = [-1, ...(typeVariants ? p.types.map((_, t) => t) : [])];
  const typeLabel = (t: number) => (t < 0 ? 'cost-aware' : p.types[t].name);
  const runs: Run[] = [];
  if (plan && plan.some((c) => c > 0)) {
    runs.push({
      name: 'FFD-max/cardinality plan',
      run: () => itemCentric(p, order('max'), { fit: 'first', fixedType: -1 }, planned(p, plan)),
      always: true,
    });
  }
  // The baseline a user would hand-roll runs whatever the deadline: the result is never worse than it.
  if (typeVariants) runs.push({ name: 'cheapest-share FFD', run: () => cheapestShareFfd(p), always: true });
  const binCentricRuns: Run[] = [];
  if (models.length <= BIN_CENTRIC_MAX_MODELS) {
    for (const rule of ['dot', 'l2'] as const) {
      for (const t of typeChoices)
        binCentricRuns.push({
          name: `bin-centric-${rule}/${typeLabel(t)}`,
          run: () => binCentric(p, order('sum'), rule, t),
        });
    }
  }
  if (options.binCentricFirst) runs.push(...binCentricRuns);
  // Minimum slack early: on the harder classes it is the best start, and large problems may have time
  // for little else.
  if (models.length <= MIN_SLACK_MAX_MODELS) {
    for (const t of typeChoices) runs.push({ name: `min-slack/${typeLabel(t)}`, run: () => minSlack(p, t) });
    runs.push({
      name: 'min-slack deep/cost-aware',
      run: () => minSlack(p, -1, { deep: true }),
    });
  }
  for (const m of ['max', 'sum', 'l2'] as SizeMeasure[]) {
    for (const t of typeChoices)
      runs.push({
        name: `FFD-${m}/${typeLabel(t)}`,
        run: () => itemCentric(p, order(m), { fit: 'first', fixedType: t }),
      });
  }
  if (!options.binCentricFirst) runs.push(...binCentricRuns);
  if (models.length <= BEST_FIT_MAX_MODELS) {
    for (const m of ['max', 'sum', 'l2'] as SizeMeasure[]) {
      for (const t of typeChoices)
        runs.push({
          name: `BFD-${m}/${typeLabel(t)}`,
          run: () => itemCentric(p, order(m), { fit: 'best', fixedType: t }),
        });
    }
  }
  return cheapest(runs, deadline);
}

/**
 * For a slice of a large problem: the greedy baseline (cheapest-share first fit), first fit into the
 * `plan`'s instances, then minimum slack with `checks` per device (short past `deadline`); the best of
 * them. On a thousand models the full portfolio's first candidates alone
 * overrun a slice of a tenth of a second, and minimum slack is the one that pays (7% fewer instances
 * than first fit on [.1,.4]²).
 */
export function quickConstruction(
  p: Prepared,
  deadline: number,
  { plan, checks }: { plan?: number[]; checks: number },
): Candidate {
  const runs: Run[] = [{ name: 'cheapest-share FFD', run: () => cheapestShareFfd(p), always: true }];
  // With one type the plan's instances are what first fit opens anyway.
  if (plan && p.T > 1 && plan.some((c) => c > 0))
    runs.push({
      name: 'FFD-max/cardinality plan',
      run: () =>
        itemCentric(p, sortedBy(p, homeTypes(p), 'max'), { fit: 'first', fixedType: -1 }, planned(p, plan)),
      always: true,
    });
  runs.push({
    name: 'min-slack/cost-aware',
    run: () => minSlack(p, -1, { checks, deadline }),
    always: true,
  });
  return cheapest(runs, deadline);
}

/**
 * The portfolio on a fixed choice of type per model: each model only on its assigned type (the ones it
 * cannot get there placed afterwards on any type). Fixed types make the problem separate by type, so
 * each type's models get the portfolio of their own and the best heuristic for each: many small models
 * pack best spread over a fixed count of instances (`balanced.ts`) or bin-centric (5–10% fewer instances
 * than first fit or minimum slack at 3,000 models), few large ones by minimum slack, and one catalog has
 * both. Both run before minimum slack: the deadline may leave one run per type.
 */
export function bestAssignedConstruction(p: Prepared, typeOf: TypeAssignment, deadline: number): Candidate {
  const algorithms = new Set<string>();
  const packing = packAssigned(p, typeOf, (view) => {
    const groups = new Map<number, number[]>();
    for (const i of view.placeable) {
      const group = groups.get(typeOf[i]);
      if (group) group.push(i);
      else groups.set(typeOf[i], [i]);
    }
    const merged = new Packing(view);
    let left = view.placeable.length;
    for (const [type, group] of groups) {
      const share = Date.now() + ((deadline - Date.now()) * group.length) / left;
      left -= group.length;
      const part = { ...view, placeable: group };
      const balanced = type >= 0 ? balancedFill(part, type, group) : undefined;
      let best = bestConstruction(part, share, undefined, {
        typeVariants: false,
        binCentricFirst: true,
      });
      if (balanced && better(balanced, best.packing)) best = { packing: balanced, algorithm: 'balanced' };
      algorithms.add(best.algorithm);
      for (const b of best.packing.bins) {
        if (b.size === 0) continue;
        const bin = merged.open(b.type);
        b.items.forEach((list, d) => list.forEach((i) => merged.place(i, bin, d)));
      }
    }
    return merged;
  });
  downgrade(packing);
  packing.dropEmpty();
  return { packing, algorithm: [...algorithms].join(' + ') };
}

interface Run {
  name: string;
  run: () => Packing;
  /** Runs even past the deadline: the exact plan for alike models, and the greedy baseline. */
  always?: boolean;
}

/** Runs the candidates in order until `deadline` (at least one) and keeps the best. */
function cheapest(runs: Run[], deadline: number): Candidate {
  let best: Candidate | undefined;
  for (const r of runs) {
    if (best && !r.always && Date.now() > deadline) continue;
    const packing = r.run();
    downgrade(packing);
    packing.dropEmpty();
    if (!best || better(packing, best.packing)) best = { packing, algorithm: r.name };
  }
  return best!;
}

/** More models placed, then cheaper, then fewer instances. */
export function better(a: Packing, b: Packing): boolean {
  const unplaced = (pk: Packing) => pk.p.placeable.filter((i) => !pk.binOf[i]).length;
  const ua = unplaced(a);
  const ub = unplaced(b);
  if (ua !== ub) return ua < ub;
  const ca = a.cost();
  const cb = b.cost();
  if (Math.abs(ca - cb) > 1e-9) return ca < cb;
  return a.bins.filter((x) => x.size > 0).length < b.bins.filter((x) => x.size > 0).length;
}
