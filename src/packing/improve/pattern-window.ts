import { maximalDeviceSets } from '../device-sets';
import type { HighsSolver } from '../highs/worker';
import type { Packing } from '../state';
import { cheapestCover, oneDeviceCatalog } from './cover';
import { pickWindow, replace } from './lns';

/** Models per window: set covering over every device pattern stays small for a few dozen models. */
const WINDOW_MODELS = 80;
/** Above this many patterns the window is too dense (many models per device) for set covering. */
const MAX_PATTERNS = 20_000;

/**
 * Set-covering windows, for catalogs of one-device types: take a few instances, enumerate every maximal
 * set of their models that one device holds, and let HiGHS pick the cheapest cover. The covering LP is tight and has
 * none of the assignment MIP's symmetry, so windows can be two or three times larger; where devices hold
 * two to four models (sizes like [.2,.6]²) that is what it takes to regroup pairs into triples.
 * Returns undefined when the window has too many patterns, so the caller falls back to the assignment
 * MIP; true when the packing got cheaper.
 */
export async function patternWindowStep(
  pk: Packing,
  solver: HighsSolver,
  random: () => number,
  deadline: number,
  maxMoves = Infinity,
): Promise<boolean | undefined> {
  const p = pk.p;
  // With multi-device types in the catalog the assignment MIP, which can move models onto them, decides.
  if (!oneDeviceCatalog(p)) return undefined;
  const window = pickWindow(pk, random, WINDOW_MODELS, 60);
  if (window.length < 2) return false;
  const models = window.flatMap((b) => b.items[0]);
  const current = window.reduce((s, b) => s + p.types[b.type].price, 0);
  const sets = maximalDeviceSets(p, models, MAX_PATTERNS, current);
  if (!sets) return undefined;
  const limit = p.types.map((ty, t) => {
    const spare = Number.isFinite(ty.available) ? ty.available - pk.used[t] : models.length;
    return window.filter((b) => b.type === t).length + spare;
  });
  const seconds = Math.min(1, Math.max(0.05, (deadline - Date.now()) / 1000));
  const cover = await cheapestCover(solver, p, models, sets, limit, seconds, current - 1e-6);
  if (!cover || cover.cost >= current - 1e-9) return false;
  return replace(pk, window, cover, maxMoves);
}
