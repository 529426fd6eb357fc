import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  patched,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { parseCalibrateInput, type CalibrateInput } from '../src/capacity/calibrate-input';
import type { Calibration, ProbeLevel, ServingSetup } from '../src/capacity/served-path';
import { LOCAL_INSTANCE_TYPE } from '../src/domain/local-catalog';
import type { TraceStageSummary } from '../src/domain/pipeline-stages';
import { chooseServerSettings } from '../src/domain/server-settings';
import { HEARTBEAT_TIMEOUT } from './heartbeat';
import { DEFAULT_BATCH_WINDOW_MS, DEFAULT_MAX_BATCH } from './rollout';
import { FailureType, NO_RETRY } from '../src/domain/failures';

type Activities = ReturnType<typeof createActivities>;

const NON_RETRYABLE = [...NO_RETRY.calibrate];
/** Restarts of a lost probe server before calibrate gives up (a server that keeps dying is broken). */
const MAX_PROBE_RECOVERIES = 2;

const quick = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});
const long = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '2 seconds', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

export interface CalibrateResult {
  key: string;
  calibration: Calibration;
}

/**
 * Measures the served path of this machine's local runtime (src/capacity/served-path.ts): one model
 * server holding a sample of the traced models, driven closed-loop until its throughput is stable, then
 * stopped. The calibration it stores replaces the setup's previous one; the pipeline's pack stage plans
 * with it, and every measured sweep corrects it.
 */
export async function calibrate(raw: CalibrateInput): Promise<CalibrateResult> {
  const parsed = parseCalibrateInput(raw);
  if (!parsed.ok) {
    throw ApplicationFailure.nonRetryable(
      `invalid calibrate input (${parsed.problems.length} problem(s)):\n${parsed.problems.join('\n')}`,
      FailureType.InvalidInput,
    );
  }
  const input = parsed.input;
  const runId = workflowInfo().workflowId;
  let traceBatches = input.traceBatches;
  if (!traceBatches) {
    const trace = await quick.loadStageRecord<TraceStageSummary>({ runId: input.fromRun!, stage: 'trace' });
    if (!trace) {
      throw ApplicationFailure.nonRetryable(
        `run ${input.fromRun} has no trace stage record: calibrate from a run that traced its models`,
        FailureType.InvalidInput,
      );
    }
    traceBatches = trace.batches;
  }
  const [env] = await long.prepareRuntime({ runtime: 'local', processors: [input.processor] });
  const setup = localServingSetup(env.torchVersion, input.processor, input.sloP90Ms, {
    maxBatch: input.maxBatch,
    batchWindowMs: input.batchWindowMs,
    cores: env.cores,
  });
  const sample = await quick.chooseProbeSample({
    traceBatches,
    processor: input.processor,
    size: input.sampleSize,
  });
  const probeServer = {
    runId,
    placement: { instances: [{ type: setup.instanceType, devices: [sample.models] }] },
    processor: input.processor,
    maxBatch: setup.maxBatch,
    batchWindowMs: setup.batchWindowMs,
    ...(setup.workers !== undefined
      ? { server: { workers: setup.workers, threads: setup.threads ?? 1 } }
      : {}),
  };
  let measured;
  try {
    const started = await long.startModelServers(probeServer);
    let staged = await quick.stageRoutingTable({ runId, routingTable: started.routingTable });
    let levels: ProbeLevel[] | undefined;
    for (let recoveries = 0; ; recoveries += 1) {
      try {
        measured = await long.measureServedPath({
          tableKey: staged.key,
          maxConcurrency: input.concurrency ?? 2 * setup.maxBatch,
          sloP90Ms: setup.sloP90Ms,
          windowSeconds: input.windowSeconds,
          maxWindows: input.maxWindows,
          levels,
        });
        break;
      } catch (err) {
        // A server lost with its worker (a crash, a power loss) is restarted and the probe resumes from
        // the levels it had measured; histories from before this recovery existed failed here.
        const lost = probeServerLost(err);
        if (!lost || recoveries >= MAX_PROBE_RECOVERIES || !patched('calibrate-recovers-probe')) throw err;
        levels = lost.levels;
        const back = await long.reconcileModelServers(probeServer);
        staged = await quick.stageRoutingTable({ runId, routingTable: back.routingTable });
      }
    }
  } finally {
    await CancellationScope.nonCancellable(() => quick.stopModelServers({ runId }));
  }
  const chosen = measured.levels[measured.chosen];
  return quick.saveProbeCalibration({
    setup,
    probe: {
      measuredAt: new Date().toISOString(),
      models: sample.models,
      concurrency: chosen.concurrency,
      windows: chosen.windows,
      stable: chosen.stable,
      levels: measured.levels,
      sloMet: measured.sloMet,
      ...(measured.openLoop ? { openLoop: measured.openLoop } : {}),
      saturationRps: measured.saturationRps,
      meanForwardMs: sample.meanForwardMs,
      loadAverage: measured.loadAverage,
      contended: measured.contended,
    },
  });
}

/** The levels measured before the probe's server was lost, when that is why the probe failed. */
function probeServerLost(err: unknown): { levels?: ProbeLevel[] } | undefined {
  if (!(err instanceof ActivityFailure) || !(err.cause instanceof ApplicationFailure)) return undefined;
  if (err.cause.type !== FailureType.ModelServerLost) return undefined;
  const details = err.cause.details?.[0] as { levels?: ProbeLevel[] } | undefined;
  return { levels: Array.isArray(details?.levels) ? details.levels : undefined };
}

/** The serving setup the local runtime's pipeline deploys with, for the calibration it plans with. */
export function localServingSetup(
  torchVersion: string,
  processor: string,
  sloP90Ms: number,
  server: { maxBatch?: number; batchWindowMs?: number; cores?: number } = {},
): ServingSetup {
  // One server with the machine's cores to itself, as the probe runs it (and a one-device fleet is
  // deployed); absent in runs recorded before the environment reported its cores.
  const settings =
    server.cores === undefined
      ? undefined
      : chooseServerSettings({ processor, cores: server.cores, heaviestForwardMs: null, sloP90Ms });
  return {
    image: `local-torch-${torchVersion}`,
    processor,
    instanceType: LOCAL_INSTANCE_TYPE,
    maxBatch: server.maxBatch ?? DEFAULT_MAX_BATCH,
    batchWindowMs: server.batchWindowMs ?? DEFAULT_BATCH_WINDOW_MS,
    sloP90Ms,
    ...settings,
  };
}
