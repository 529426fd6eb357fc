import { ApplicationFailure, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { DeviceLayout, RoutingTable } from '../src/domain/load-sweep';
import { servedInstances } from '../src/domain/pipeline-stages';
import type { KubernetesTarget } from '../src/kubernetes/rollout';
import { HEARTBEAT_TIMEOUT } from './heartbeat';
import { rolloutKubernetes, type RolloutKubernetesResult } from './rollout-kubernetes';
import { FailureType, NO_RETRY } from '../src/domain/failures';

type Activities = ReturnType<typeof createActivities>;

export interface RolloutInput {
  /** Owner of the new servers: the pipeline run; its servers are stopped when that run is cancelled. */
  deploymentId: string;
  placement: DeviceLayout;
  processor: string;
  runtime: 'local' | 'kubernetes';
  /** runtime kubernetes only (workflows/rollout-kubernetes.ts): the placement id, trace records, cluster. */
  placementId?: string;
  traceBatches?: string[];
  kubernetes?: KubernetesTarget;
  /** The deployment these servers replace; retired once the new ones are ready. */
  previousDeploymentId?: string;
  maxBatch?: number;
  batchWindowMs?: number;
}

export interface RolloutResult {
  deploymentId: string;
  routingTableKey: string;
  routingTable: RoutingTable;
  servers: { device: number; url: string; pid?: number; name?: string; models: string[] }[];
  reused: boolean;
  retired: number;
  kubernetes?: RolloutKubernetesResult['kubernetes'];
}

const NON_RETRYABLE = [...NO_RETRY.rollout];

/** The local model servers' micro-batching, unless the rollout says otherwise. */
export const DEFAULT_MAX_BATCH = 8;
export const DEFAULT_BATCH_WINDOW_MS = 2;

const servers = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '2 seconds', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});
const quick = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

/**
 * Rolls a placement out on the local runtime: the new servers start (each loads its models and warms
 * them before it reports ready), every route is probed, and only then is the previous deployment retired,
 * so a failed rollout leaves the old fleet serving. A retried start reuses ready servers of this deployment.
 */
export async function rollout(input: RolloutInput): Promise<RolloutResult> {
  if (input.runtime === 'kubernetes') {
    return rolloutKubernetes({
      ...input,
      runtime: 'kubernetes',
      placementId: input.placementId!,
      traceBatches: input.traceBatches!,
      kubernetes: input.kubernetes!,
    });
  }
  if (input.runtime !== 'local') {
    throw ApplicationFailure.nonRetryable(
      `runtime ${input.runtime} is not available yet`,
      FailureType.InvalidInput,
    );
  }
  if (!input.placement?.instances?.some((i) => i.devices.some((d) => d.length > 0))) {
    throw ApplicationFailure.nonRetryable('the placement has no model to deploy', FailureType.InvalidInput);
  }
  const placement = { instances: servedInstances(input.placement.instances) };
  const settings = {
    runId: input.deploymentId,
    placement,
    processor: input.processor,
    maxBatch: input.maxBatch ?? DEFAULT_MAX_BATCH,
    batchWindowMs: input.batchWindowMs ?? DEFAULT_BATCH_WINDOW_MS,
  };
  let started = await servers.startModelServers(settings);
  let staged = await quick.stageRoutingTable({
    runId: workflowInfo().workflowId,
    routingTable: started.routingTable,
  });
  let unreachable = await quick.probeRoutes({ tableKey: staged.key });
  // Servers lost between their start and the probe (a crash took them with their worker) are started
  // again; only servers that are up and still cannot serve their routes fail the rollout.
  if (unreachable.length > 0 && patched('reconcile-lost-servers')) {
    started = await servers.reconcileModelServers(settings);
    staged = await quick.stageRoutingTable({
      runId: workflowInfo().workflowId,
      routingTable: started.routingTable,
    });
    unreachable = await quick.probeRoutes({ tableKey: staged.key });
  }
  if (unreachable.length > 0) {
    await quick.stopModelServers({ runId: input.deploymentId });
    throw ApplicationFailure.nonRetryable(
      `rollout failed, the previous deployment keeps serving: ${unreachable.map((u) => `${u.url} (${u.reason})`).join('; ')}`,
      FailureType.RolloutFailed,
    );
  }
  let retired = 0;
  if (input.previousDeploymentId && input.previousDeploymentId !== input.deploymentId) {
    retired = (await quick.stopModelServers({ runId: input.previousDeploymentId })).stopped;
  }
  return {
    deploymentId: input.deploymentId,
    routingTableKey: staged.key,
    routingTable: started.routingTable,
    servers: started.servers.map(({ device, url, pid, models }) => ({ device, url, pid, models })),
    reused: started.reused,
    retired,
  };
}
