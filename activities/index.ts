import type { ArtifactStore } from '../src/artifacts/store';
import type { ProjectPaths } from '../src/config/paths';
import { createBuildActivities } from './build';
import { describeWorker } from './doctor';
import { createKubernetesActivities, type KubernetesDeps } from './kubernetes';
import { createLoadActivities } from './load';
import { createPipelineActivities } from './pipeline';
import { createRepackActivities } from './repack';

/** Clients and settings that activities need; each environment (production, tests) passes its own. */
export interface ActivityDeps {
  paths: ProjectPaths;
  artifacts: ArtifactStore;
  /** The cluster of the `kubernetes` runtime; without it those activities fail saying none is configured. */
  kubernetes?: KubernetesDeps;
}

/** The activities of the `stowage` task queue. */
export function createActivities(deps: ActivityDeps) {
  return {
    describeWorker,
    ...createBuildActivities(deps.paths),
    ...createLoadActivities(deps.paths, deps.artifacts),
    ...createPipelineActivities(deps.artifacts),
    ...createRepackActivities(deps.artifacts),
    ...createKubernetesActivities(deps.kubernetes, deps.artifacts, deps.paths.root),
  };
}
