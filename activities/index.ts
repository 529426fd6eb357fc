import { openArtifactStore, type ArtifactStore } from '../src/artifacts/store';
import type { ProjectPaths } from '../src/config/paths';
import type { ImageBuildSettings } from '../src/images/server-image';
import { createBuildActivities } from './build';
import { createCapacityActivities } from './capacity';
import { describeWorker } from './doctor';
import { createKubernetesActivities, type KubernetesDeps } from './kubernetes';
import { kubernetesDepsFromEnv } from './kubernetes/deps';
import { createImageActivities, imageSettingsFromEnv } from './kubernetes/images';
import { createNodeGroupActivities, type NodeGroupDeps } from './kubernetes/node-groups';
import { createLoadActivities } from './load';
import { createPipelineActivities } from './pipeline';
import { createRepackActivities } from './repack';

/** Clients and settings that activities need; each environment (production, tests) passes its own. */
export interface ActivityDeps {
  paths: ProjectPaths;
  artifacts: ArtifactStore;
  /** The cluster of the `kubernetes` runtime; without it those activities fail saying none is configured. */
  kubernetes?: KubernetesDeps;
  /** buildah, registries and push credentials; default: the worker's environment (STOWAGE_BUILDAH*, …). */
  images?: ImageBuildSettings;
  /** EKS and the nodes' API; default: the SDK's credential chain and the cluster's own kubeconfig. */
  nodeGroups?: NodeGroupDeps;
}

/** What a worker process runs with: the paths' artifact store, and the cluster its environment names. */
export function activityDepsFromEnv(paths: ProjectPaths): ActivityDeps {
  return { paths, artifacts: openArtifactStore(paths.artifacts), kubernetes: kubernetesDepsFromEnv() };
}

/** The activities of the `stowage` task queue. */
export function createActivities(deps: ActivityDeps) {
  return {
    describeWorker,
    ...createBuildActivities(deps.paths),
    ...createLoadActivities(deps.paths, deps.artifacts),
    ...createCapacityActivities(deps.paths, deps.artifacts),
    ...createPipelineActivities(deps.artifacts),
    ...createRepackActivities(deps.artifacts),
    ...createKubernetesActivities(deps.kubernetes, deps.artifacts, deps.paths.root),
    ...createImageActivities(deps.images ?? imageSettingsFromEnv(deps.paths)),
    ...createNodeGroupActivities(deps.nodeGroups),
  };
}
