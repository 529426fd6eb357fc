import { priceScale } from '../bounds/lower-bound';
import type { DeviceSet } from '../device-sets';
import { OPTIMAL, type HighsSolver } from '../highs/worker';
import { ModelBuilder } from '../highs/model-builder';
import type { Prepared } from '../prepare';
import type { SubPacking } from './mip';

/** Covers build one-device instances: with a multi-device type in the catalog they cannot use it. */
export const oneDeviceCatalog = (p: Prepared): boolean => p.types.every((t) => t.devices === 1);

/**
 * The cheapest choice of device sets (on one-device types) covering every model, within `limit[t]`
 * instances of each type and below `cutoff` $/hour; undefined when HiGHS found none. A model covered
 * twice stays in the first chosen set that has it: any subset of a set fits too.
 */
export async function cheapestCover(
  solver: HighsSolver,
  p: Prepared,
  models: number[],
  sets: DeviceSet[],
  limit: number[],
  timeLimitSec: number,
  cutoff: number,
): Promise<SubPacking | undefined> {
  const units = priceUnits(p);
  const b = new ModelBuilder();
  const row = new Map(models.map((i) => [i, b.row(1, Infinity)]));
  const perType = p.types.map((_, t) => (limit[t] < models.length ? b.row(-Infinity, limit[t]) : -1));
  const cols = sets.map((set) => {
    const at = set.models.map((i) => row.get(i)!);
    const vals = at.map(() => 1);
    if (perType[set.type] >= 0) {
      at.push(perType[set.type]);
      vals.push(1);
    }
    return b.col(units.price[set.type], 0, 1, true, at, vals);
  });
  const result = await solver.solve({ model: b.build(true), timeLimitSec, cutoff: cutoff / units.dollars });
  const x = result.colValue;
  if (result.error || !x) return undefined;
  const placed = new Set<number>();
  const instances: SubPacking['instances'] = [];
  let cost = 0;
  sets.forEach((set, j) => {
    if (x[cols[j]] < 0.5) return;
    const own = set.models.filter((i) => !placed.has(i));
    own.forEach((i) => placed.add(i));
    if (own.length === 0) return;
    instances.push({ type: set.type, devices: [own] });
    cost += p.types[set.type].price;
  });
  if (placed.size !== models.length) return undefined;
  return { instances, cost, optimal: result.status === OPTIMAL };
}

/**
 * Prices as whole multiples of their greatest common unit where they have one: HiGHS then knows every
 * cover costs a whole number of units and stops as soon as its best cover meets the rounded-up bound,
 * instead of closing a gap that cannot close (85 instances against an LP of 84.4).
 */
function priceUnits(p: Prepared): { price: number[]; dollars: number } {
  const scale = priceScale(p);
  if (scale === 0) return { price: p.types.map((t) => t.price), dollars: 1 };
  const scaled = p.types.map((t) => Math.round(t.price * scale));
  const common = scaled.reduce(gcd);
  return { price: scaled.map((x) => x / common), dollars: common / scale };
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
