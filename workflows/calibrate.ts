import { ApplicationFailure, CancellationScope, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { parseCalibrateInput, type CalibrateInput } from '../src/capacity/calibrate-input';
import type { Calibration, ServingSetup } from '../src/capacity/served-path';
import { LOCAL_INSTANCE_TYPE } from '../src/domain/local-catalog';
import type { TraceStageSummary } from '../src/domain/pipeline-stages';
import { chooseServerSettings } from '../src/domain/server-settings';
import { HEARTBEAT_TIMEOUT } from './heartbeat';
import { DEFAULT_BATCH_WINDOW_MS, DEFAULT_MAX_BATCH } from './rollout';
import { FailureType, NO_RETRY } from '../src/domain/failures';

type Activities = ReturnType<typeof createActivities>;

const NON_RETRYABLE = [...NO_RETRY.calibrate];

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
  let measured;
  try {
    const started = await long.startModelServers({
      runId,
      placement: { instances: [{ type: setup.instanceType, devices: [sample.models] }] },
      processor: input.processor,
      maxBatch: setup.maxBatch,
      batchWindowMs: setup.batchWindowMs,
      ...(setup.workers !== undefined
        ? { server: { workers: setup.workers, threads: setup.threads ?? 1 } }
        : {}),
    });
    const staged = await quick.stageRoutingTable({ runId, routingTable: started.routingTable });
    measured = await long.measureServedPath({
      tableKey: staged.key,
      maxConcurrency: input.concurrency ?? 2 * setup.maxBatch,
      sloP90Ms: setup.sloP90Ms,
      windowSeconds: input.windowSeconds,
      maxWindows: input.maxWindows,
    });
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
      saturationRps: measured.saturationRps,
      meanForwardMs: sample.meanForwardMs,
      loadAverage: measured.loadAverage,
      contended: measured.contended,
    },
  });
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
