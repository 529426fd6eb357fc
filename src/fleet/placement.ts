import { createHash } from 'node:crypto';
import type { ArtifactStore } from '../artifacts/store';
import { artifactKeys } from '../artifacts/keys';
import type { PackingProblem, Placement } from '../packing';

/** A placement's content address: the same problem (models, demands, catalog, limits) has the same id. */
export function placementIdOf(problem: PackingProblem): string {
  return createHash('sha256').update(JSON.stringify(problem)).digest('hex').slice(0, 16);
}

export interface StoredPlacement {
  placementId: string;
  /** placements/<placementId>.json */
  placementKey: string;
  placement: Placement;
  /** Found under its content address rather than packed by this call. */
  cached: boolean;
}

/**
 * Packs `problem` with `solve` and stores the placement under its content address. With `reuse`, a
 * placement already stored for the same problem is returned instead of packing again (how a pipeline
 * re-run skips its pack stage); without it the problem is packed afresh and the stored one replaced.
 */
export async function placeProblem(
  artifacts: ArtifactStore,
  problem: PackingProblem,
  options: { reuse: boolean; solve: (problem: PackingProblem) => Promise<Placement> },
): Promise<StoredPlacement> {
  const placementId = placementIdOf(problem);
  const placementKey = artifactKeys.placement(placementId);
  if (options.reuse && (await artifacts.exists(placementKey))) {
    return {
      placementId,
      placementKey,
      placement: await artifacts.readJson<Placement>(placementKey),
      cached: true,
    };
  }
  const placement = await options.solve(problem);
  await artifacts.writeJson(placementKey, placement);
  return { placementId, placementKey, placement, cached: false };
}
