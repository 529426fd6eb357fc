import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { LoadSweepResult } from '../src/domain/load-sweep';
import type { PipelineProgress } from '../src/domain/pipeline';
import type { PackStageResult } from '../src/domain/pipeline-stages';
import type { Processor } from '../src/domain/task-queues';
import type { KubernetesTarget } from '../src/kubernetes/rollout';
import type { PipelineInput } from '../src/pipeline/input';
import { HEARTBEAT_TIMEOUT } from './heartbeat';
import { NO_RETRY } from '../src/domain/failures';

/**
 * The pipeline's stages on the `kubernetes` runtime, kept out of workflows/pipeline.ts so that
 * the local path stays as recorded: images are built instead of the local environment being probed, node
 * groups are scaled around the rollout, and the test stage runs k6 as Jobs inside the cluster.
 */

type Activities = ReturnType<typeof createActivities>;

/**
 * Activities of the image and node-group helpers (activities/kubernetes/images.ts, node-groups.ts),
 * declared by shape: this file must not import activity modules, and their registration in
 * activities/index.ts is the integrator's.
 */
interface ImageAndNodeGroupActivities {
  buildServerImage(input: {
    processor: Processor;
    registry: string;
    repository: string;
    base: string;
  }): Promise<{ image: string; digest: string; built: boolean; tag: string }>;
  scaleNodeGroups(input: {
    clusterName: string;
    instances: Record<string, number>;
    catalogTypes?: string[];
    direction: 'up' | 'down';
  }): Promise<{ changed: string[] }>;
}

const NON_RETRYABLE = [...NO_RETRY.kubernetesStages];

const images = proxyActivities<ImageAndNodeGroupActivities>({
  startToCloseTimeout: '60 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '5 seconds', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});
const nodeGroups = proxyActivities<ImageAndNodeGroupActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '5 seconds', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});
const loadJobs = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '5 seconds', maximumAttempts: 2, nonRetryableErrorTypes: NON_RETRYABLE },
});

const FLEET_NON_RETRYABLE = [...NO_RETRY.kubernetesFleet];
const fleetApply = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', maximumAttempts: 3, nonRetryableErrorTypes: FLEET_NON_RETRYABLE },
});
const fleetWait = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '2 seconds', maximumAttempts: 3, nonRetryableErrorTypes: FLEET_NON_RETRYABLE },
});

type Settings = NonNullable<PipelineInput['kubernetes']>;

function settingsOf(input: PipelineInput): Settings {
  // parsePipelineInput guarantees them for runtime kubernetes.
  return input.kubernetes!;
}

/** build: one model-server image per processor, tagged by its context hash (unchanged → not rebuilt). */
export async function buildKubernetesImages(
  input: PipelineInput,
  progress: PipelineProgress,
): Promise<Partial<Record<Processor, string>>> {
  const settings = settingsOf(input);
  const built: Partial<Record<Processor, string>> = {};
  progress.stages.build.total = input.processors.length;
  for (const processor of input.processors) {
    const result = await images.buildServerImage({
      processor,
      registry: settings.registry,
      repository: settings.repository,
      base: settings.baseImages[processor]!,
    });
    built[processor] = result.image;
    progress.stages.build.done += 1;
    progress.stages.build.detail = `${result.image}${result.built ? '' : ' (already in the registry)'}`;
  }
  return built;
}

/** The rollout's target from the pipeline's settings, the catalog and the images just built. */
export function kubernetesTarget(
  input: PipelineInput,
  builtImages: Partial<Record<Processor, string>>,
): KubernetesTarget {
  const settings = settingsOf(input);
  const processorOf = new Map((input.catalog ?? []).map((t) => [t.name, t.processor]));
  return {
    namespace: settings.namespace,
    fleet: settings.fleet ?? input.name,
    images: builtImages,
    nodeGroups: settings.nodeGroups.map((g) => ({
      name: g.name,
      instanceType: g.instanceType,
      processor: processorOf.get(g.instanceType) ?? 'cpu',
    })),
    maxUnavailable: settings.maxUnavailable,
    progressDeadlineSeconds: settings.progressDeadlineSeconds,
    artifactsRoot: settings.artifactsRoot,
    cpuPerServer: settings.cpuPerServer,
    smokeTest: settings.smokeTest,
    k6Image: settings.k6Image,
    fetchImage: settings.fetchImage,
  };
}

/**
 * Sizes the EKS node groups for the placement: up (and Ready) before the rollout, down only after it,
 * when the retired servers are gone. Without an EKS cluster named, the groups are left as they are.
 */
export async function scaleKubernetesNodeGroups(
  input: PipelineInput,
  placement: PackStageResult,
  direction: 'up' | 'down',
): Promise<string[]> {
  const settings = settingsOf(input);
  if (!settings.cluster) return [];
  const instances: Record<string, number> = {};
  for (const i of placement.instances) instances[i.type] = (instances[i.type] ?? 0) + 1;
  const result = await nodeGroups.scaleNodeGroups({
    clusterName: settings.cluster,
    instances,
    catalogTypes: settings.nodeGroups.map((g) => g.instanceType),
    direction,
  });
  return result.changed;
}

/** test: the k6 sweep as Jobs next to the servers; same report as local, under runs/<runId>-test/. */
export async function testInCluster(
  input: PipelineInput,
  runId: string,
  placement: PackStageResult,
  served: { instances: { type: string; devices: string[][] }[] },
): Promise<Pick<LoadSweepResult, 'steps' | 'knee' | 'stopReason' | 'report'> & { measurable: boolean }> {
  const settings = settingsOf(input);
  return loadJobs.runInClusterLoadTest({
    runId: `${runId}-test`,
    namespace: settings.namespace,
    fleet: settings.fleet ?? input.name,
    k6Image: settings.k6Image,
    slo: { p90Ms: input.loadTest.sloP90Ms, maxErrorRate: input.loadTest.maxErrorRate },
    sweep: {
      minRate: 1,
      maxRate: 2000,
      stepSeconds: input.loadTest.stepSeconds,
      maxSteps: input.loadTest.maxSteps,
      factor: 2,
      tolerance: 0.05,
      maxVUs: 200,
    },
    random: { rate: 5, seconds: 5 },
    placement: served,
    cost: {
      instanceType: placement.instances[0]?.type ?? 'unknown',
      instances: placement.instances.length,
      pricePerHour: placement.costPerHour / Math.max(1, placement.instances.length),
    },
  });
}

/**
 * Before the test: the deployed servers re-applied from the rollout's plan and waited on until Ready.
 * Server-side apply leaves a Deployment that is there as planned unchanged; one that went missing since
 * the rollout (deleted, lost with its namespace) is created again, so the sweep measures the whole fleet.
 */
export async function reapplyKubernetesServers(deployment: {
  servers: { name?: string }[];
  kubernetes?: { planKey?: string };
}): Promise<void> {
  const planKey = deployment.kubernetes?.planKey;
  const names = deployment.servers.map((s) => s.name).filter((n): n is string => n !== undefined);
  if (!planKey || names.length === 0) return;
  await fleetApply.applyServers({ planKey, names });
  await fleetWait.waitServersReady({ planKey, names });
}
