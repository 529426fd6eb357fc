import type { ArtifactStore } from '../../src/artifacts/store';
import { createApplyActivities } from './apply';
import type { KubernetesDeps } from './client';
import { createLoadJobActivities } from './load-job';
import { createSmokeActivities } from './smoke';

export type { KubernetesDeps } from './client';
export { kubernetesDepsFromEnv } from './deps';

/**
 * Activities of the `kubernetes` runtime: rollout (plan, apply, wait, smoke test, rollback, routing table,
 * garbage collection) and the in-cluster load test. Without a cluster configured they are still
 * registered, and each fails at once saying so.
 */
export function createKubernetesActivities(
  deps: KubernetesDeps | undefined,
  artifacts: ArtifactStore,
  projectRoot: string,
) {
  return {
    ...createApplyActivities(deps, artifacts),
    ...createSmokeActivities(deps, artifacts, projectRoot),
    ...createLoadJobActivities(deps, artifacts, projectRoot),
  };
}
