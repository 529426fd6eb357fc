import type { DeviceSet } from '../device-sets';
import type { HighsSolver } from '../highs/worker';
import type { Packing } from '../state';
import { cheapestCover, oneDeviceCatalog } from './cover';
import { replace } from './lns';

/** Device sets handed to the MIP: a few thousand settle [.2,.6]² at 200 models, all 40,000 take 5 s. */
const COVER_SETS = 5000;

/**
 * Price and branch on the whole problem, for one-device catalogs whose maximal device sets are all known:
 * the sets with the least reduced cost under the pattern LP's optimal duals go to HiGHS as a set-covering
 * MIP. Any packing that costs less than LP + δ uses only sets of reduced cost below δ, so these are the
 * sets an optimal packing is made of when it lies close to the LP, which on pairs-and-triples shapes
 * the search's local moves cannot reach. True when the packing got cheaper.
 */
export async function coverByReducedCost(
  pk: Packing,
  solver: HighsSolver,
  models: number[],
  sets: DeviceSet[],
  duals: number[],
  deadline: number,
): Promise<boolean> {
  const p = pk.p;
  if (!oneDeviceCatalog(p)) return false;
  const seconds = (deadline - Date.now()) / 1000;
  if (seconds < 0.05) return false;
  const rowOf = new Map(models.map((i, k) => [i, k]));
  const reduced = sets.map(
    (s) => p.types[s.type].price - s.models.reduce((v, i) => v + duals[rowOf.get(i)!], 0),
  );
  const order = sets.map((_, j) => j).sort((a, b) => reduced[a] - reduced[b]);
  const chosen = order.slice(0, COVER_SETS);
  // Every model needs a set to be coverable at all: its cheapest one by reduced cost.
  const covered = new Set(chosen.flatMap((j) => sets[j].models));
  for (const j of order.slice(COVER_SETS)) {
    if (sets[j].models.every((i) => covered.has(i))) continue;
    chosen.push(j);
    sets[j].models.forEach((i) => covered.add(i));
  }
  const limit = p.types.map((t) => Math.min(models.length, t.available));
  const cost = pk.cost();
  const cover = await cheapestCover(
    solver,
    p,
    models,
    chosen.map((j) => sets[j]),
    limit,
    seconds,
    cost - 1e-6,
  );
  if (!cover || cover.cost >= cost - 1e-9) return false;
  return replace(pk, [...pk.bins], cover);
}
