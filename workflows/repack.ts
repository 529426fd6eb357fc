import {
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import {
  parseRepackInput,
  type RepackInputJson,
  type RepackProgress,
  type RepackResult,
  type RepackStage,
  runKeyOf,
} from '../src/domain/repack';
import {
  StowageCostPerHour,
  StowageModelCount,
  StowageRuntime,
  StowageStage,
} from '../src/domain/search-attributes';
import { traceOptionsFor } from '../src/pipeline/input';
import { HEARTBEAT_TIMEOUT } from './heartbeat';
import { traceInBatches } from './trace-batches';
import { FailureType, NO_RETRY } from '../src/domain/failures';

type Activities = ReturnType<typeof createActivities>;

export const repackProgressQuery = defineQuery<RepackProgress>('progress');

const NON_RETRYABLE = [...NO_RETRY.repack];

const records = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
});
const packing = proxyActivities<Activities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '2 seconds', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});
const servers = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '2 seconds', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});
const load = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

/**
 * Keeps a fleet in step with its model inventory; what a Temporal Schedule runs every few hours.
 * Traces only models the fleet has no demand for, packs in stable mode against the current placement
 * (at most `maxMoves` placed models move), and rolls out only when that pays (≥ minSavingsFraction) or
 * the inventory changed: new servers for changed devices, probed and smoke-tested (k6 sequential over
 * their routes) before the servers they replace stop; unchanged servers keep running. Otherwise it
 * records "no change" and touches nothing. The first run of a fleet deploys everything ("initial").
 */
export async function repack(raw: RepackInputJson): Promise<RepackResult> {
  const parsed = parseRepackInput(raw);
  if (!parsed.ok) {
    throw ApplicationFailure.create({
      type: FailureType.InvalidInput,
      nonRetryable: true,
      message: `invalid repack input (${parsed.problems.length} problem(s)):\n${parsed.problems.join('\n')}`,
      details: [parsed.problems],
    });
  }
  const input = parsed.input;
  const runId = runKeyOf(workflowInfo().workflowId);
  const progress: RepackProgress = {
    stage: 'inventory',
    models: 0,
    toTrace: 0,
    traced: 0,
    traceFailures: [],
  };
  setHandler(repackProgressQuery, () => progress);
  upsertSearchAttributes([{ key: StowageRuntime, value: input.runtime }]);

  function enter(stage: RepackStage): void {
    progress.stage = stage;
    upsertSearchAttributes([{ key: StowageStage, value: `repack-${stage}` }]);
  }

  let startedServers = false;
  try {
    enter('inventory');
    const prepared = await records.prepareRepack({
      runId,
      name: input.name,
      inventory: input.inventory,
      processors: input.processors,
      trace: input.trace,
      expectedRatePerModel: input.expectedRatePerModel,
    });
    progress.models = prepared.models;
    progress.toTrace = prepared.toTrace.reduce((n, t) => n + t.count, 0);
    upsertSearchAttributes([{ key: StowageModelCount, value: prepared.models }]);

    enter('trace');
    const trace = await traceInBatches({
      runId,
      toTrace: prepared.toTrace,
      traceOptionsOf: (m, processor) => traceOptionsFor(input, m.trace, processor),
      onBatch: (result) => {
        progress.traced += result.traced;
        for (const f of result.failed)
          progress.traceFailures.push({ modelId: f.modelId, message: f.message });
      },
    });

    enter('pack');
    const plan = await packing.packRepack({
      runId,
      name: input.name,
      inventory: input.inventory,
      processors: input.processors,
      trace: input.trace,
      expectedRatePerModel: input.expectedRatePerModel,
      traceBatches: trace.batches,
      catalog: input.catalog,
      limits: input.limits,
      minSavingsFraction: input.minSavingsFraction,
      maxMoves: input.maxMoves,
      packTimeLimitMs: input.packTimeLimitMs,
    });
    Object.assign(progress, {
      decision: plan.decision,
      reason: plan.reason,
      costBefore: plan.costBefore,
      costAfter: plan.costAfter,
      changedDevices: plan.start.length,
    });
    upsertSearchAttributes([{ key: StowageCostPerHour, value: plan.costAfter }]);

    let started: { device: number; url: string; pid: number; models: string[] }[] = [];
    let smokeTest: RepackResult['smokeTest'];
    if (plan.start.length > 0) {
      enter('deploy');
      startedServers = true; // set first: a start that fails half-way still has servers to stop
      const deployed = await servers.startModelServers({
        runId,
        placement: { instances: [{ type: plan.instanceType, devices: plan.start }] },
        processor: plan.processor,
        maxBatch: 8,
        batchWindowMs: 2,
      });
      started = deployed.servers.map(({ device, url, pid, models }) => ({ device, url, pid, models }));
      const staged = await records.stageRoutingTable({ runId, routingTable: deployed.routingTable });
      const unreachable = await records.probeRoutes({ tableKey: staged.key });
      if (unreachable.length > 0) {
        throw ApplicationFailure.nonRetryable(
          `rollout failed, the current fleet keeps serving: ${unreachable.map((u) => `${u.url} (${u.reason})`).join('; ')}`,
          FailureType.RolloutFailed,
        );
      }
      enter('smoke-test');
      const figures = await load.runSequentialTest({ tableKey: staged.key });
      if (figures.failures > 0) {
        throw ApplicationFailure.nonRetryable(
          `smoke test failed, the current fleet keeps serving: ${figures.failures} of ${figures.requests} requests to the new servers failed`,
          FailureType.SmokeTestFailed,
        );
      }
      smokeTest = {
        requests: figures.requests,
        failures: figures.failures,
        p50Ms: figures.p50Ms,
        maxMs: figures.maxMs,
      };
    }
    enter('record');
    const result: RepackResult = {
      decision: plan.decision,
      reason: plan.reason,
      fleet: input.name,
      moves: plan.moves,
      added: plan.added,
      removed: plan.removed,
      costBefore: plan.costBefore,
      costAfter: plan.costAfter,
      placement: plan.placementKey,
      changedDevices: plan.start.length,
      keptServers: plan.keep,
      retiredServers: plan.retire.length,
      unplaced: plan.unplaced,
      unplacedCount: plan.unplacedCount,
      traceFailures: progress.traceFailures.slice(0, 50),
      traceFailureCount: progress.traceFailures.length,
      smokeTest,
      record: '',
      fleetState: '',
    };
    const committed = await records.commitRepack({
      runId,
      inventoryHash: prepared.inventoryHash,
      started,
      result: {
        ...result,
        record: undefined,
        fleetState: undefined,
        candidateCostPerHour: plan.candidateCostPerHour,
      },
    });
    result.record = committed.record;
    result.fleetState = committed.fleetState;
    // The fleet state names the new servers from here on: a failure now must not stop them, and the
    // replaced servers are retired only after the state stops naming them.
    startedServers = false;
    if (plan.retire.length > 0) {
      enter('retire');
      await servers.stopModelServerDevices({ servers: plan.retire });
    }
    progress.stage = 'done';
    upsertSearchAttributes([{ key: StowageStage, value: `repack-${plan.decision}` }]);
    return result;
  } catch (err) {
    // A failed or cancelled rollout stops only what this run started: the current fleet keeps serving.
    if (startedServers) {
      await CancellationScope.nonCancellable(() => servers.stopModelServers({ runId }));
    }
    progress.stage = isCancellation(err) ? 'cancelled' : 'failed';
    upsertSearchAttributes([{ key: StowageStage, value: `repack-${progress.stage}` }]);
    throw err;
  }
}
