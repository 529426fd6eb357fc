import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { KubernetesRolloutPlan, KubernetesTarget, SmokeTestResult } from '../src/kubernetes/rollout';
import type { DeviceLayout, RoutingTable } from '../src/domain/load-sweep';
import { servedInstances } from '../src/domain/pipeline-stages';
import { HEARTBEAT_TIMEOUT } from './heartbeat';
import { FailureType, NO_RETRY } from '../src/domain/failures';

type Activities = ReturnType<typeof createActivities>;

export interface RolloutKubernetesInput {
  deploymentId: string;
  placement: DeviceLayout;
  processor: string;
  runtime: 'kubernetes';
  /** Labels every object of this placement (garbage collection of retired servers goes by it). */
  placementId: string;
  /** Trace batch records (artifact keys): each model's artifact and memory demand. */
  traceBatches: string[];
  kubernetes: KubernetesTarget;
}

export interface WaveRecord {
  wave: number;
  servers: string[];
  readySeconds: number;
  smokeTest: SmokeTestResult;
}

export interface RolloutKubernetesResult {
  deploymentId: string;
  routingTableKey: string;
  routingTable: RoutingTable;
  servers: { device: number; url: string; name: string; models: string[] }[];
  reused: boolean;
  retired: number;
  kubernetes: {
    namespace: string;
    placementId: string;
    previousPlacementId: string | null;
    routingConfigMap: string;
    /** The rollout's plan (artifact key): what re-applying the fleet later goes by. */
    planKey: string;
    unchanged: string[];
    changed: string[];
    retired: string[];
    waves: WaveRecord[];
  };
}

const NON_RETRYABLE = [...NO_RETRY.kubernetesRollout];

const quick = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});
// Waiting for a rollout and running a k6 Job take as long as the cluster needs; they heartbeat.
const watch = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '2 seconds', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

function invalid(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, FailureType.InvalidInput);
}

/**
 * Rolls a placement out on Kubernetes. The plan compares the placement's servers with
 * what the fleet runs: unchanged servers (same models on the same device type, same spec) are never
 * touched. The changed ones go in waves of at most `maxUnavailable`; each wave is applied, waited on until
 * its pods are Ready and smoke-tested before the next starts. A failed wave rolls EVERY applied wave back
 * to the previous placement and fails the run with the reason, so the previous fleet keeps serving. Only
 * after the last wave is the routing table switched and are retired servers deleted.
 */
export async function rolloutKubernetes(input: RolloutKubernetesInput): Promise<RolloutKubernetesResult> {
  const target = input.kubernetes;
  if (!target) throw invalid('runtime kubernetes needs the kubernetes settings');
  if (!input.placementId) throw invalid('runtime kubernetes needs the placement id (it labels every object)');
  if (!Array.isArray(input.traceBatches)) throw invalid('runtime kubernetes needs the trace batch records');
  if (!input.placement?.instances?.some((i) => i.devices.some((d) => d.length > 0))) {
    throw invalid('the placement has no model to deploy');
  }
  const placement = { instances: servedInstances(input.placement.instances) };
  let plan: KubernetesRolloutPlan;
  try {
    plan = await quick.planKubernetesRollout({
      runId: workflowInfo().workflowId,
      placementId: input.placementId,
      placement,
      traceBatches: input.traceBatches,
      target,
    });
  } catch (err) {
    // Nothing was applied yet: the run fails with the plan's own reason (bad input, cluster unreachable).
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
      throw ApplicationFailure.nonRetryable(
        `rollout of placement ${input.placementId} refused, nothing was applied: ${err.cause.message}`,
        err.cause.type ?? FailureType.RolloutFailed,
      );
    }
    throw err;
  }

  const applied: string[] = [];
  const records: WaveRecord[] = [];
  try {
    for (const [index, wave] of plan.waves.entries()) {
      // Counted before the apply: a half-applied wave is rolled back too.
      applied.push(...wave);
      await quick.applyServers({ planKey: plan.planKey, names: wave });
      const ready = await watch.waitServersReady({ planKey: plan.planKey, names: wave });
      const smokeTest = await watch.smokeTestServers({ planKey: plan.planKey, names: wave, wave: index });
      records.push({ wave: index, servers: wave, readySeconds: ready.seconds, smokeTest });
    }
  } catch (err) {
    if (applied.length > 0) {
      // The rollback must run even when the run is being cancelled.
      const undone = await CancellationScope.nonCancellable(() =>
        watch.rollbackServers({ planKey: plan.planKey, names: applied }),
      );
      // A cancelled rollout stays cancelled (the pipeline compensates on cancellation), rolled back.
      if (isCancellation(err)) throw err;
      const reason = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
      throw ApplicationFailure.nonRetryable(
        `rollout of placement ${input.placementId} failed and was rolled back ` +
          `(${undone.deleted.length} new server(s) deleted, ${undone.restored.length} restored; ` +
          `${plan.diff.unchanged.length} unchanged server(s) untouched; the previous placement ` +
          `${plan.previousPlacementId ?? '(none)'} keeps serving): ${reason}`,
        FailureType.RolloutFailed,
      );
    }
    throw err;
  }

  const routing = await quick.publishRoutingTable({ planKey: plan.planKey });
  const gc = await watch.deleteRetiredServers({ planKey: plan.planKey });
  return {
    deploymentId: input.deploymentId,
    routingTableKey: routing.key,
    routingTable: plan.routingTable,
    servers: plan.servers.map((s) => ({ device: s.device, url: s.url, name: s.name, models: s.models })),
    reused: plan.diff.changed.length === 0,
    retired: gc.deleted.length,
    kubernetes: {
      namespace: target.namespace,
      placementId: plan.placementId,
      previousPlacementId: plan.previousPlacementId,
      routingConfigMap: routing.name,
      planKey: plan.planKey,
      unchanged: plan.diff.unchanged,
      changed: plan.diff.changed,
      retired: gc.deleted,
      waves: records,
    },
  };
}
