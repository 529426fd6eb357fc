/**
 * Every failure type Stowage raises, and which of them each stage's activities must not retry. The
 * strings are wire names: stored histories, the CLI, the API and other SDKs branch on them, so a value
 * here never changes; a new failure gets a new name. The Python tracer's types are mirrored in
 * python-tracer/stowage_tracer/failures.py. Pure: safe to import from workflows. docs/failures.md says
 * who raises each one and why.
 */
export const FailureType = {
  // --- raised by more than one stage ---
  /** The input is wrong; every attempt would fail the same way. Raised by workflows and both workers. */
  InvalidInput: 'InvalidInput',

  // --- the Python tracer (stowage_tracer) ---
  /** The source does not exist, or the worker may not read it. */
  ModelNotFound: 'ModelNotFound',
  /** The model cannot be traced safely: an unknown architecture, a pickle that would import code. */
  UnsupportedModel: 'UnsupportedModel',
  /** The compiler rejected the graph; it would reject it again. */
  TraceFailed: 'TraceFailed',
  /** The traced model's outputs differ from the eager model's beyond the tolerance. */
  OutputMismatch: 'OutputMismatch',
  /** The traced model could not be timed on its processor. */
  ProfileFailed: 'ProfileFailed',
  /** Downloading a Hugging Face model failed: the network may recover, so it is retried. */
  ModelDownload: 'ModelDownload',
  /** An artifact key that could climb out of the store's root. */
  InvalidArtifactKey: 'InvalidArtifactKey',
  /** The store refused access (credentials, a missing bucket). */
  ArtifactAccess: 'ArtifactAccess',
  /** A profile was asked for a trace that is not in the store. */
  ArtifactNotFound: 'ArtifactNotFound',
  /** Disk or S3 trouble reading or writing an artifact: retried. */
  ArtifactIO: 'ArtifactIO',
  /** An artifact's bytes do not match its recorded SHA-256: retried (a torn read or write). */
  ArtifactChecksum: 'ArtifactChecksum',

  // --- build, pack ---
  /** The local serving environment cannot import the model server's dependencies (`make setup` fixes it). */
  ServingEnvironmentBroken: 'ServingEnvironmentBroken',
  /** No model could be placed on any instance type of the catalog. */
  PackFailed: 'PackFailed',

  // --- the local runtime: model servers, rollout, load sweep ---
  /** A placed model has no traced artifact for the processor it is deployed on. */
  ModelNotTraced: 'ModelNotTraced',
  /** Starting the model servers failed (one exited or never became ready); those started are stopped. */
  ModelServerStartFailed: 'ModelServerStartFailed',
  /** Servers died in a load step and could not be brought back, or the calibration probe's server failed. */
  ModelServerLost: 'ModelServerLost',
  /** A sequential or random test got no successful answer at all: nothing to measure. */
  NoAnswers: 'NoAnswers',
  /** The new servers did not all serve their routes; the previous deployment keeps serving. */
  RolloutFailed: 'RolloutFailed',

  // --- the kubernetes runtime ---
  /** The worker has no cluster configured (no kubeconfig, no EKS cluster). */
  KubernetesNotConfigured: 'KubernetesNotConfigured',
  /** The API server is unreachable: retried. */
  KubernetesUnreachable: 'KubernetesUnreachable',
  /** The API server refused the request with a 4xx other than 409 and 429. */
  KubernetesRefused: 'KubernetesRefused',
  /** Any other Kubernetes API error (5xx, conflicts, slow deletions): retried. */
  KubernetesError: 'KubernetesError',
  /** Pods did not become Ready within the progress deadline; the pods' own reason is in the message. */
  ServersNotReady: 'ServersNotReady',
  /** A wave's k6 smoke test failed; the applied waves are rolled back. */
  SmokeTestFailed: 'SmokeTestFailed',
  /** A k6 Job failed, or measured nothing (simulated nodes). */
  LoadJobFailed: 'LoadJobFailed',
  /** The image build request is malformed. */
  InvalidImageRequest: 'InvalidImageRequest',
  /** The registry refused a push or a credential. */
  RegistryRefused: 'RegistryRefused',
  /** buildah (or another image tool) is not installed on the worker. */
  ImageToolMissing: 'ImageToolMissing',
  /** The model-server image's build context is invalid. */
  BuildContextInvalid: 'BuildContextInvalid',
  /** buildah failed, perhaps pulling a base image: retried. */
  BuildahFailed: 'BuildahFailed',
  /** A catalog instance type has no EKS node group. */
  NodeGroupMissing: 'NodeGroupMissing',
  /** A node group would need more nodes than its maximum size. */
  NodeGroupAtMax: 'NodeGroupAtMax',
  /** The EKS cluster does not exist or cannot be described. */
  EksClusterUnavailable: 'EksClusterUnavailable',
} as const;

export type FailureType = (typeof FailureType)[keyof typeof FailureType];

const F = FailureType;

const LOCAL_FLEET: readonly FailureType[] = [F.InvalidInput, F.ModelNotTraced, F.ModelServerStartFailed];
const LOAD_SWEEP: readonly FailureType[] = [...LOCAL_FLEET, F.NoAnswers];
const KUBERNETES_STAGES: readonly FailureType[] = [
  F.InvalidInput,
  F.InvalidImageRequest,
  F.RegistryRefused,
  F.ImageToolMissing,
  F.BuildContextInvalid,
  F.NodeGroupMissing,
  F.NodeGroupAtMax,
  F.LoadJobFailed,
  F.NoAnswers,
];
const KUBERNETES_API: readonly FailureType[] = [
  F.KubernetesNotConfigured,
  F.KubernetesRefused,
  F.ServersNotReady,
];

/**
 * The failure types each stage's activities must not retry (their `nonRetryableErrorTypes`). Everything
 * else — disk, network, S3, a Kubernetes API hiccup — is retried within the stage's policy. Spread a list
 * into the retry policy (`[...NO_RETRY.rollout]`): the SDK's type wants a mutable array.
 */
export const NO_RETRY = {
  /** Bookkeeping activities (stage records, manifests, trace batches) and the doctor's tracer call. */
  input: [F.InvalidInput],
  /** The local build stage: a broken serving environment stays broken. */
  build: [F.ServingEnvironmentBroken],
  /** The pipeline's pack stage. */
  pack: [F.InvalidInput],
  /** Local model servers: starting, reconciling, stopping (`rollout` and the pipeline's fleet checks). */
  rollout: LOCAL_FLEET,
  /** `calibrate`: the served-path probe's server and its closed-loop windows. */
  calibrate: [...LOCAL_FLEET, F.ModelServerLost],
  /** `loadSweep`: its servers, probes and k6 steps. */
  loadSweep: LOAD_SWEEP,
  /** `repack`: every activity it calls. */
  repack: [...LOAD_SWEEP, F.PackFailed],
  /** The Python tracer's activities: ArtifactIO, ArtifactChecksum, ModelDownload (disk, S3, network) are retried. */
  tracer: [
    F.InvalidInput,
    F.InvalidArtifactKey,
    F.ArtifactAccess,
    F.ArtifactNotFound,
    F.ModelNotFound,
    F.UnsupportedModel,
    F.TraceFailed,
    F.OutputMismatch,
    F.ProfileFailed,
  ],
  /** The pipeline's kubernetes stages: images, node groups, in-cluster load Jobs. */
  kubernetesStages: KUBERNETES_STAGES,
  /** The pipeline's kubernetes fleet checks: re-applying and waiting for servers. */
  kubernetesFleet: [...KUBERNETES_STAGES, ...KUBERNETES_API],
  /** `rollout` on the kubernetes runtime: plan, apply, wait, smoke-test, roll back. */
  kubernetesRollout: [F.InvalidInput, ...KUBERNETES_API, F.SmokeTestFailed, F.LoadJobFailed],
} as const satisfies Record<string, readonly FailureType[]>;
