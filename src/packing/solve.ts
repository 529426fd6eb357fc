import {
  cardinalityPlan,
  lowerBound,
  maxModelsPerInstance,
  roundUpToAchievable,
  safe,
} from './bounds/lower-bound';
import { bestAssignedConstruction, bestConstruction, better } from './heuristics/portfolio';
import { cheapestShareFfd, roundedShare } from './heuristics/assignment';
import { maximalDeviceSets, type DeviceSet } from './device-sets';
import { HighsSolver } from './highs/worker';
import { binCompletion, completionApplies } from './improve/completion';
import { zeroWasteCompletion } from './improve/zero-waste';
import { downgrade } from './improve/downgrade';
import { coverByReducedCost } from './improve/lp-cover';
import { replace } from './improve/lns';
import { solveExactly } from './improve/mip';
import { improve } from './improve/search';
import {
  gridPatternBound,
  patternBound,
  setPatternBound,
  type PatternBoundResult,
} from './bounds/pattern-lp';
import { demandClasses, placedAs, prepare, type Prepared } from './prepare';
import { chunkable, packInChunks } from './chunks';
import { capSpot } from './improve/spot-cap';
import { matchToPrevious, startFromPrevious } from './repack';
import type { Packing } from './state';
import type { PackingProblem, PlacedInstance, Placement } from './types';
import { assertValidPackingProblem } from './validate';

/** Problems this small are handed to the exact MIP when the heuristics leave a gap. */
export const EXACT_MAX_MODELS = 40;

/** Up to this many models the default budget leaves room to prove the optimum. */
export const SMALL_PROBLEM_MODELS = 200;

/**
 * 5 s up to 200 models, 10 s above. A fleet is re-packed a few times a day and every percent is a
 * percent of the bill, so the default buys quality: the multiple-choice LP alone takes 2–3 s at 3,000
 * models on a mixed catalog, and local search keeps paying for seconds after construction. Up to 200
 * models the exact MIP and the set cover by reduced cost settle small fleets in 1–3 s, and a run
 * stops as soon as its cost meets the bound.
 */
export function defaultTimeLimitMs(models: number): number {
  return models <= SMALL_PROBLEM_MODELS ? 5000 : 10_000;
}

/**
 * Packs models onto instances at minimum $/hour. Validates first (PackingInputError lists every defect),
 * then: proven lower bound (in the HiGHS worker) alongside the constructive portfolio, improvement until
 * the time limit or the bound, and the exact MIP for small problems.
 */
export async function pack(raw: PackingProblem | unknown): Promise<Placement> {
  const started = Date.now();
  const problem = assertValidPackingProblem(raw);
  const p = prepare(problem);
  const budget = problem.timeLimitMs ?? defaultTimeLimitMs(p.n);
  const deadline = started + budget;
  const solver = new HighsSolver();
  try {
    // The bound runs in the HiGHS worker alongside construction. On mixed catalogs its LP is also the
    // guide to each model's type, worth more than the last seconds of local search, so it may take most
    // of the budget when the machine is busy (9 s of wall time at 3,000 models at a load average of 30 on 2 cores).
    const bounding = lowerBound(solver, p, p.placeable, Math.max(0.05, (budget * BOUND_SHARE) / 1000));
    const steps: string[] = [];
    let pk: Packing;
    if (problem.previous) {
      pk = await repack(problem, p, solver, bounding, started + budget, steps);
    } else if (chunkable(p) && problem.limits?.maxSpotFraction === undefined) {
      const bound = await bounding;
      // The baseline a user would hand-roll, on the whole problem: chunks each round up their last
      // instances, so the sum of the chunks' baselines is not it.
      const greedy = cheapestShareFfd(p);
      downgrade(greedy);
      // A margin for the last slice's overrun and the result's assembly.
      const chunked = await packInChunks(problem, p, solver, started + budget * 0.9);
      if (unplacedCount(p, greedy) === 0 && greedy.cost() < chunked.cost - 1e-9) {
        steps.push('cheapest-share FFD (cheaper than the chunks)', `bound: ${bound.method}`);
        return toPlacement(p, greedy, bound.value, started, steps, false);
      }
      steps.push(chunked.algorithm, `bound: ${bound.method}`);
      return finish(chunked.placement, chunked.cost, p, bound.value, started, steps);
    } else {
      const perInstance = p.types.map((_, t) => maxModelsPerInstance(p, t, p.placeable));
      const plan = cardinalityPlan(p, p.placeable, perInstance).counts;
      const built = bestConstruction(p, started + budget * 0.3, plan);
      pk = built.packing;
      steps.push(built.algorithm);
    }
    const bound = await bounding;
    let lower = bound.value;
    steps.push(`bound: ${bound.method}`);
    if (!problem.previous && bound.share && pk.cost() > lower + 1e-9) {
      // Its own share of the budget even when the bound came late (a loaded machine): on mixed catalogs
      // this is the start that the local search cannot reach from the others.
      const guidedEnd = Math.max(started + budget * 0.4, Date.now() + budget * GUIDED_SHARE);
      const guided = bestAssignedConstruction(p, roundedShare(p, bound.share), guidedEnd);
      if (better(guided.packing, pk)) {
        pk = guided.packing;
        steps.push(`types from the LP, then ${guided.algorithm}`);
      }
    }
    if (!problem.previous) {
      zeroWasteIfTight(p, pk, lower, started + budget * ZERO_WASTE_END, steps);
      const lp = await patternBoundIfAffordable(p, pk, lower, solver, started, budget * 0.3, steps);
      lower = lp.lower;
      if (lp.priced && pk.cost() > lower + 1e-9) {
        const { sets, duals } = lp.priced;
        if (await coverByReducedCost(pk, solver, p.placeable, sets, duals, started + budget * COVER_SHARE))
          steps.push('set cover by reduced cost');
      }
      const completionEnd = started + (deadline - started) * completionShare(p.placeable.length);
      lower = completeToBound(p, pk, lower, completionEnd, steps);
      // Small problems leave the exact MIP room: local search alone would run to the deadline.
      const searchEnd = p.placeable.length <= EXACT_MAX_MODELS ? started + budget * 0.5 : deadline;
      const report = await improve(pk, lower, Math.max(Date.now(), searchEnd), solver);
      if (report.eliminated > 0) steps.push(`eliminated ${report.eliminated}`);
      if (report.recreated > 0) steps.push(`ruin and recreate ${report.recreated}`);
      if (report.lnsImprovements > 0) steps.push(`MIP windows ${report.lnsImprovements}`);
      lower = await exactIfSmall(p, pk, lower, solver, deadline, steps);
    }
    const maxSpot = problem.limits?.maxSpotFraction;
    if (maxSpot !== undefined) {
      const replaced = capSpot(pk, maxSpot);
      if (replaced > 0) steps.push(`${replaced} spot instances replaced to hold maxSpotFraction`);
    }
    return toPlacement(p, pk, Math.min(lower, pk.cost()), started, steps, problem.previous !== undefined);
  } finally {
    await solver.close();
  }
}

async function repack(
  problem: PackingProblem,
  p: Prepared,
  solver: HighsSolver,
  bounding: Promise<{ value: number }>,
  deadline: number,
  steps: string[],
): Promise<Packing> {
  const maxMoves = problem.maxMoves ?? Infinity;
  const previous = problem.previous!;
  const started = Date.now();
  const half = started + (deadline - started) / 2;
  const incumbent = startFromPrevious(p, previous);
  const bound = (await bounding).value;
  await improve(incumbent, bound, half, solver, maxMoves);
  steps.push('incremental re-pack');
  if (incumbent.cost() <= bound + 1e-9 || maxMoves === 0) return incumbent;
  const fresh = bestConstruction(p, half + (deadline - half) * 0.3).packing;
  await improve(fresh, bound, deadline, solver);
  const matched = matchToPrevious(fresh, incumbent.homeBin!, incumbent.homeDev!, previous.instances.length);
  const unplacedFresh = p.placeable.filter((i) => !matched.binOf[i]).length;
  const unplacedInc = p.placeable.filter((i) => !incumbent.binOf[i]).length;
  if (matched.moves <= maxMoves && unplacedFresh <= unplacedInc && matched.cost() < incumbent.cost() - 1e-9) {
    steps.push('fresh solve matched to previous');
    return matched;
  }
  return incumbent;
}

function finish(
  instances: PlacedInstance[],
  cost: number,
  p: Prepared,
  lower: number,
  started: number,
  steps: string[],
): Placement {
  const costPerHour = round6(cost);
  return {
    costPerHour,
    lowerBoundPerHour: Math.min(costPerHour, floor6(lower)),
    instances,
    unplaced: p.unplaceable.map((u) => ({ id: p.ids[u.index], reason: u.reason })),
    stats: { elapsedMs: Date.now() - started, algorithm: steps.join('; ') },
  };
}

/** The share of the budget the bound's LP may take. */
const BOUND_SHARE = 0.7;

/** The least share of the budget the LP-guided construction gets once the bound is in. */
const GUIDED_SHARE = 0.15;

/** Single-type problems up to this size try bin completion against the bound before local search. */
export const COMPLETION_MAX_MODELS = 1000;

/** The zero-waste completion ends by this share of the budget (it runs only where it applies). */
const ZERO_WASTE_END = 0.5;

/**
 * Where the bound equals the models' total demand in some dimension of the one instance type, only
 * packings with every instance exactly full reach it: exact fills find them long before local search.
 */
function zeroWasteIfTight(p: Prepared, pk: Packing, lower: number, deadline: number, steps: string[]): void {
  const models = p.placeable;
  if (models.length > COMPLETION_MAX_MODELS || !completionApplies(p, models)) return;
  if (models.some((i) => !pk.binOf[i])) return;
  const bins = Math.ceil(lower / p.types[0].price - 1e-9);
  if (bins * p.types[0].price >= pk.cost() - 1e-9) return;
  const exact = zeroWasteCompletion(p, models, bins, deadline);
  if (exact.packing && replace(pk, [...pk.bins], exact.packing)) steps.push('zero-waste completion');
}

/**
 * The share of the budget by which bin completion ends. Small problems give it most of the time: the
 * exact MIP after it rarely settles what it cannot. Up to 200 models half of the 5 s: a 188-model
 * instance with a known optimum needs 2.1 s of it.
 */
function completionShare(models: number): number {
  if (models <= EXACT_MAX_MODELS) return 0.8;
  return models <= SMALL_PROBLEM_MODELS ? 0.5 : 0.35;
}

/**
 * Bin completion from the bound's instance count upwards: a packing it finds is optimal, and every count
 * it proves infeasible raises the proven bound by one instance. Returns the (possibly raised) bound.
 */
function completeToBound(p: Prepared, pk: Packing, lower: number, deadline: number, steps: string[]): number {
  const models = p.placeable;
  if (models.length > COMPLETION_MAX_MODELS || !completionApplies(p, models)) return lower;
  if (models.some((i) => !pk.binOf[i])) return lower;
  const price = p.types[0].price;
  for (let target = Math.ceil(lower / price - 1e-9); target * price < pk.cost() - 1e-9; target++) {
    if (Date.now() >= deadline) break;
    const outcome = binCompletion(p, models, target, deadline);
    if (outcome.infeasible) {
      lower = Math.max(lower, (target + 1) * price);
      continue;
    }
    if (outcome.packing && replace(pk, [...pk.bins], outcome.packing)) steps.push('bin completion');
    break;
  }
  return lower;
}

/** Up to this many distinct models the pattern LP converges well inside a packing budget. */
export const PATTERN_MAX_CLASSES = 60;
/** Grid steps per device dimension for the relaxed pattern LP: each size loses under 1% of a device. */
const GRID_STEPS = 100;
/**
 * Time the grid pattern LP needs to converge on this project's 2-core machine: 1.1 s at 200 models of
 * [.2,.6]², 26–30 s at 1,000, 90 s at 3,000 (the grid caps the classes, so growth slows). It runs only
 * when its share of the budget covers this, quadratic and so on the safe side past 1,000.
 */
const gridConvergenceMs = (models: number) => 30_000 * (models / 1000) ** 2;

/** Up to this many models the maximal device sets may be few enough to price the pattern LP exactly. */
export const SET_LP_MAX_MODELS = 400;
/** More maximal device sets than this (40,000 for 200 models of [.2,.6]²) and the grid LP takes over. */
const MAX_DEVICE_SETS = 60_000;
/**
 * The LP over device sets converges in about 0.4 s at 200 models, so it is tried only when the pattern
 * LP's share of the budget is at least this; the enumeration alone costs up to 0.2 s when it gives up.
 */
const SET_LP_MIN_MS = 1000;
/** The set cover by reduced cost ends by this share of the budget, leaving the rest to local search. */
const COVER_SHARE = 0.6;

/**
 * The pattern LP bound when the incumbent is above the bound: exact over the distinct models when they
 * are few, exact over the maximal device sets when those are few, else its grid relaxation when the
 * budget's share `ms` lets it converge. `priced` carries the device sets and the LP's optimal duals
 * when the exact LP over device sets converged. Where the sets were tried and are too many, devices
 * hold many models each: the volume bound is close there and the grid's rounding loses more than its
 * LP gains (below the volume bound on [.1,.4]² and anti-correlated sizes at 200 models), so the grid
 * LP is left out.
 */
async function patternBoundIfAffordable(
  p: Prepared,
  pk: Packing,
  lower: number,
  solver: HighsSolver,
  started: number,
  ms: number,
  steps: string[],
): Promise<{ lower: number; priced?: { sets: DeviceSet[]; duals: number[] } }> {
  if (pk.cost() <= lower + 1e-9) return { lower };
  const classes = demandClasses(p, p.placeable);
  const deadline = started + ms;
  const setsTried =
    classes.length > PATTERN_MAX_CLASSES && p.placeable.length <= SET_LP_MAX_MODELS && ms >= SET_LP_MIN_MS;
  const sets = setsTried ? maximalDeviceSets(p, p.placeable, MAX_DEVICE_SETS) : undefined;
  let result: PatternBoundResult;
  let method: string;
  if (classes.length <= PATTERN_MAX_CLASSES) {
    result = await patternBound(solver, p, classes, deadline, pk);
    method = 'pattern LP';
  } else if (sets) {
    result = await setPatternBound(solver, p, p.placeable, sets, deadline, pk);
    method = 'pattern LP over device sets';
  } else if (!setsTried && gridConvergenceMs(p.placeable.length) <= ms) {
    result = await gridPatternBound(solver, p, p.placeable, GRID_STEPS, deadline, pk);
    method = 'grid pattern LP';
  } else return { lower };
  const priced = sets && result.duals ? { sets, duals: result.duals } : undefined;
  const rounded = roundUpToAchievable(p, safe(result.value));
  if (rounded <= lower + 1e-9) return { lower, priced };
  steps.push(`bound: ${method}${result.converged ? '' : ' (Farley, stopped early)'}`);
  return { lower: rounded, priced };
}

/** The exact MIP for small problems: an optimal packing, or at least a tighter proven bound. */
async function exactIfSmall(
  p: Prepared,
  pk: Packing,
  lower: number,
  solver: HighsSolver,
  deadline: number,
  steps: string[],
): Promise<number> {
  const cost = pk.cost();
  if (p.placeable.length > EXACT_MAX_MODELS || cost <= lower + 1e-9 || p.placeable.some((i) => !pk.binOf[i]))
    return lower;
  const seconds = (deadline - Date.now()) / 1000;
  if (seconds < 0.05) return lower;
  const limit = p.types.map((t, k) =>
    Math.min(
      p.placeable.length,
      t.available - pk.used[k] + pk.bins.filter((b) => b.type === k).length,
      Math.floor((cost + 1e-9) / t.price),
    ),
  );
  const outcome = await solveExactly(solver, p, p.placeable, limit, seconds);
  if (!outcome) return lower;
  if (outcome.packing && outcome.packing.cost < cost - 1e-9 && replace(pk, [...pk.bins], outcome.packing)) {
    downgrade(pk);
    steps.push('exact MIP');
  }
  if (outcome.packing?.optimal) steps.push('proven optimal');
  return Math.max(lower, roundUpToAchievable(p, outcome.bound - 1e-6 * Math.max(1, outcome.bound)));
}

function toPlacement(
  p: Prepared,
  pk: Packing,
  lower: number,
  started: number,
  steps: string[],
  withMoves: boolean,
): Placement {
  pk.dropEmpty();
  const bins = [...pk.bins].sort((a, b) => {
    const ka = a.origin >= 0 ? a.origin : Infinity;
    const kb = b.origin >= 0 ? b.origin : Infinity;
    return ka - kb || a.slot - b.slot;
  });
  const unplaced = p.unplaceable.map((u) => ({ id: p.ids[u.index], reason: u.reason }));
  for (const i of p.placeable) {
    if (!pk.binOf[i])
      unplaced.push({
        id: p.ids[i],
        reason: 'no instance left to host it: the available counts are exhausted',
      });
  }
  const costPerHour = round6(pk.cost());
  const placement: Placement = {
    costPerHour,
    lowerBoundPerHour: Math.min(costPerHour, floor6(lower)),
    instances: bins.map((b) =>
      placedAs(
        p,
        b.type,
        b.items.map((ids) => [...ids].sort((x, y) => x - y).map((i) => p.ids[i])),
      ),
    ),
    unplaced,
    stats: { elapsedMs: Date.now() - started, algorithm: steps.join('; ') },
  };
  if (withMoves) placement.moves = pk.moves;
  return placement;
}

const unplacedCount = (p: Prepared, pk: Packing) => p.placeable.filter((i) => !pk.binOf[i]).length;

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;
const floor6 = (x: number) => Math.floor(x * 1e6 + 1e-6) / 1e6;
