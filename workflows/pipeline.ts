import {
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineUpdate,
  executeChild,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import {
  initialProgress,
  type PipelineProgress,
  type PipelineResult,
  type StageName,
} from '../src/domain/pipeline';
import type { CapacityCheck } from '../src/capacity/check';
import { sweepRangeFor } from '../src/capacity/plan';
import { unstableLine } from '../src/domain/load-sweep';
import { type PackStageResult, servedInstances, type TraceStageSummary } from '../src/domain/pipeline-stages';
import { packFailed } from '../src/fleet/pack-failed';
import {
  StowageCostPerHour,
  StowageModelCount,
  StowageRuntime,
  StowageStage,
} from '../src/domain/search-attributes';
import {
  parsePipelineInput,
  type PipelineInput,
  type PipelineInputJson,
  traceOptionsFor,
} from '../src/pipeline/input';
import { HEARTBEAT_TIMEOUT } from './heartbeat';
import { loadSweep, type SweptFleet } from './load-sweep';
import { calibratesLocally, calibrationsFor, checkPlannedCapacity } from './pipeline-capacity';
import {
  buildKubernetesImages,
  kubernetesTarget,
  reapplyKubernetesServers,
  scaleKubernetesNodeGroups,
  testInCluster,
} from './pipeline-kubernetes';
import { DEFAULT_BATCH_WINDOW_MS, DEFAULT_MAX_BATCH, rollout } from './rollout';
import { traceInBatches } from './trace-batches';
import { FailureType, NO_RETRY } from '../src/domain/failures';

type Activities = ReturnType<typeof createActivities>;

export const progressQuery = defineQuery<PipelineProgress>('progress');
/** Releases the approval gate before deploy; rejected when nothing waits for approval. */
export const approveDeployUpdate = defineUpdate<{ approved: true }, [ApproveDeployInput]>('approveDeploy');

export interface ApproveDeployInput {
  by?: string;
}

const records = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumAttempts: 5, nonRetryableErrorTypes: [...NO_RETRY.input] },
});
const build = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: [...NO_RETRY.build] },
});
const packing = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '2 seconds', maximumAttempts: 3, nonRetryableErrorTypes: [...NO_RETRY.pack] },
});
const fleet = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: {
    initialInterval: '2 seconds',
    maximumAttempts: 3,
    nonRetryableErrorTypes: [...NO_RETRY.rollout],
  },
});

/**
 * The post's five manual steps as one durable run: build → trace → pack → deploy → test → report.
 * Every stage leaves its output in the artifact store, so a re-run (or `--resume`) skips what exists;
 * cancelling stops the servers this run started and keeps every artifact.
 */
export async function pipeline(raw: PipelineInputJson): Promise<PipelineResult> {
  const parsed = parsePipelineInput(raw);
  if (!parsed.ok) {
    throw ApplicationFailure.create({
      type: FailureType.InvalidInput,
      nonRetryable: true,
      message: `invalid pipeline input (${parsed.problems.length} problem(s)):\n${parsed.problems.join('\n')}`,
      details: [parsed.problems],
    });
  }
  const input = parsed.input;
  const runId = workflowInfo().workflowId;
  const progress = initialProgress();
  let approved = !input.approval.required;
  setHandler(progressQuery, () => progress);
  setHandler(
    approveDeployUpdate,
    ({ by }: ApproveDeployInput) => {
      approved = true;
      progress.approvedBy = by ?? 'unknown';
      progress.awaitingApproval = false;
      return { approved: true } as const;
    },
    {
      validator: (_: ApproveDeployInput) => {
        if (approved) throw new Error('nothing is waiting for approval in this run');
      },
    },
  );

  const inlineModels = Array.isArray(input.models) ? input.models : undefined;
  upsertSearchAttributes([
    { key: StowageRuntime, value: input.runtime },
    { key: StowageModelCount, value: inlineModels?.length ?? 0 },
  ]);

  async function stage<T>(name: StageName, body: () => Promise<T>): Promise<T> {
    progress.stage = name;
    progress.stages[name].status = 'running';
    upsertSearchAttributes([{ key: StowageStage, value: name }]);
    // Workflow time (deterministic): a stage body may replace its progress entry, so set after it too.
    const startedAt = progress.stages[name].startedAt ?? Date.now();
    progress.stages[name].startedAt = startedAt;
    const ended = () => Object.assign(progress.stages[name], { startedAt, endedAt: Date.now() });
    try {
      const out = await body();
      if (progress.stages[name].status === 'running') progress.stages[name].status = 'done';
      ended();
      return out;
    } catch (err) {
      progress.stages[name].status = 'failed';
      progress.stage = isCancellation(err) ? 'cancelled' : 'failed';
      ended();
      throw err;
    }
  }

  // runtime kubernetes (workflows/pipeline-kubernetes.ts): no recorded run took these branches.
  const kubernetes = input.runtime === 'kubernetes';
  let images: Awaited<ReturnType<typeof buildKubernetesImages>> = {};
  let torchVersion = '';
  let cores: number | undefined;
  try {
    await stage('build', async () => {
      if (kubernetes) {
        images = await buildKubernetesImages(input, progress);
        return;
      }
      const envs = await build.prepareRuntime({ runtime: 'local', processors: input.processors });
      torchVersion = envs[0].torchVersion;
      cores = envs[0].cores;
      progress.stages.build = {
        status: 'done',
        done: envs.length,
        total: envs.length,
        detail: `torch ${envs[0].torchVersion}`,
      };
    });

    const trace = await stage('trace', () => traceStage(input, runId, progress));
    // Runs recorded before this patch packed on forward time alone and checked nothing after the test.
    const checksCapacity = calibratesLocally(input) && patched('capacity-check');
    const placement = await stage('pack', async () => {
      if (checksCapacity) progress.stages.pack.detail = 'calibrating the served path';
      const calibrations = checksCapacity
        ? await calibrationsFor(input, runId, trace, torchVersion, cores)
        : [];
      return packStage(input, runId, trace, progress, calibrations);
    });

    if (!approved) {
      progress.awaitingApproval = true;
      upsertSearchAttributes([{ key: StowageStage, value: 'awaiting-approval' }]);
      await condition(() => approved);
    }

    // Idle devices get no server: what is deployed and measured is the served part of the placement.
    const served = { instances: servedInstances(placement.instances) };
    const deployment = await stage('deploy', async () => {
      progress.stages.deploy.total = served.instances.reduce((n, i) => n + i.devices.length, 0);
      if (kubernetes) await scaleKubernetesNodeGroups(input, placement, 'up');
      const result = await executeChild(rollout, {
        workflowId: `${runId}-deploy`,
        args: [
          {
            deploymentId: runId,
            placement: served,
            processor: placement.processors[0] ?? input.processors[0],
            runtime: input.runtime,
            ...(kubernetes
              ? {
                  placementId: placement.placementId,
                  traceBatches: trace.batches,
                  kubernetes: kubernetesTarget(input, images),
                }
              : {}),
          },
        ],
      });
      // Scale down only now: the rollout returns after the retired servers' pods are gone.
      if (kubernetes) await scaleKubernetesNodeGroups(input, placement, 'down');
      progress.stages.deploy.done = result.servers.length;
      progress.stages.deploy.detail = `${result.servers.length} server(s)${result.reused ? ' (reused)' : ''}`;
      return result;
    });

    // Reconcile, don't assume: the local servers die with their worker (a crash, a power loss), so the
    // fleet is checked and what was lost started again from the placement before the test and once more
    // before the run reports it as serving. Runs recorded before this patch assumed it still served.
    const localFleet: SweptFleet = {
      deploymentId: runId,
      processor: placement.processors[0] ?? input.processors[0],
      maxBatch: DEFAULT_MAX_BATCH,
      batchWindowMs: DEFAULT_BATCH_WINDOW_MS,
    };
    const reconcileLocalFleet = async (stageName: StageName) => {
      const { deploymentId, ...settings } = localFleet;
      const back = await fleet.reconcileModelServers({ runId: deploymentId, placement: served, ...settings });
      if (back.restarted.length > 0) {
        progress.stages[stageName].detail = `${back.restarted.length} lost server(s) started again`;
      }
      return back.routingTable;
    };
    const reconciles = patched('reconcile-fleet');

    const sweep = await stage('test', async () => {
      const typeName = placement.instances[0]?.type ?? 'local-cpu';
      let routingTable = deployment.routingTable;
      if (reconciles) {
        if (kubernetes) await reapplyKubernetesServers(deployment);
        else routingTable = await reconcileLocalFleet('test');
      }
      const result = kubernetes
        ? await testInCluster(input, runId, placement, served)
        : await executeChild(loadSweep, {
            workflowId: `${runId}-test`,
            args: [
              {
                routingTable,
                ...(reconciles ? { fleet: localFleet } : {}),
                placement: served,
                slo: { p90Ms: input.loadTest.sloP90Ms, maxErrorRate: input.loadTest.maxErrorRate },
                sweep: {
                  maxSteps: input.loadTest.maxSteps,
                  stepSeconds: input.loadTest.stepSeconds,
                  ...sweepRangeFor(placement.plannedRps),
                },
                cost: {
                  instanceType: typeName,
                  instances: placement.instances.length,
                  pricePerHour: placement.costPerHour / Math.max(1, placement.instances.length),
                },
              },
            ],
          });
      progress.stages.test = {
        status: 'done',
        done: result.steps.length,
        total: result.steps.length,
        detail: [
          result.knee
            ? `knee ${Math.round(result.knee.achievedRate)} req/s at P90 ${result.knee.p90Ms?.toFixed(1)} ms`
            : result.stopReason,
          unstableLine(result.steps),
        ]
          .filter(Boolean)
          .join('; '),
      };
      return result;
    });
    const capacity = checksCapacity
      ? await stage('test', async () => {
          const checked = await checkPlannedCapacity(
            input,
            runId,
            placement,
            served.instances,
            deployment.routingTable,
            sweep,
          );
          if (checked) progress.stages.test.detail += `; ${capacitySummary(checked.check)}`;
          return checked;
        })
      : undefined;

    const summary: PipelineResult = {
      placement: placement.placementKey,
      report: sweep.report.html,
      costPerHour: placement.costPerHour,
      modelsServed: deployment.routingTable.routes.length,
      failures: progress.failures,
      kneeRequestsPerSecond: sweep.knee?.achievedRate,
      p90AtKneeMs: sweep.knee?.p90Ms ?? undefined,
      ...(capacity
        ? {
            capacity: {
              verdict: capacity.check.verdict,
              plannedRps: capacity.check.plannedRps,
              measuredRps: capacity.check.measuredRps,
              ratio: capacity.check.ratio,
              worst: capacity.check.worst,
            },
          }
        : {}),
    };
    await stage('report', async () => {
      // Runs recorded before this patch kept the report under the loadSweep child's folder only.
      if (patched('report-in-run-folder')) {
        summary.report = (
          await records.publishRunReport({
            fromRunId: `${runId}-test`,
            toRunId: runId,
            ...(capacity ? { capacityCheckKey: capacity.key } : {}),
          })
        ).html;
      }
      const key = await records.saveStageRecord({ runId, stage: 'report', record: { ...summary, sweep } });
      if (reconciles && !kubernetes) await reconcileLocalFleet('report');
      progress.stages.report = { status: 'done', done: 1, total: 1, detail: summary.report, output: key };
    });
    progress.stage = 'done';
    upsertSearchAttributes([{ key: StowageStage, value: 'done' }]);
    return summary;
  } catch (err) {
    if (isCancellation(err)) {
      // Compensation: the servers this run started go; its artifacts stay for a later run to reuse.
      await CancellationScope.nonCancellable(() => records.stopModelServers({ runId }));
      upsertSearchAttributes([{ key: StowageStage, value: 'cancelled' }]);
    } else {
      upsertSearchAttributes([{ key: StowageStage, value: 'failed' }]);
    }
    throw err;
  }
}

async function traceStage(
  input: PipelineInput,
  runId: string,
  progress: PipelineProgress,
): Promise<TraceStageSummary> {
  const stageProgress = progress.stages.trace;
  if (input.resumeFrom) {
    const earlier = await records.loadStageRecord<TraceStageSummary>({
      runId: input.resumeFrom,
      stage: 'trace',
    });
    if (earlier) {
      Object.assign(stageProgress, {
        status: 'skipped',
        done: earlier.traced,
        total: earlier.traced,
        detail: `reused from ${input.resumeFrom}`,
      });
      await records.saveStageRecord({ runId, stage: 'trace', record: earlier });
      return earlier;
    }
  }
  const inline = Array.isArray(input.models) ? input.models : undefined;
  const manifest = Array.isArray(input.models) ? undefined : input.models.manifest;
  const count = inline?.length ?? (await records.inspectModelManifest({ key: manifest! })).count;
  if (manifest) upsertSearchAttributes([{ key: StowageModelCount, value: count }]);
  stageProgress.total = count * input.processors.length;
  const summary = await traceInBatches({
    runId,
    toTrace: input.processors.map((processor) =>
      inline ? { processor, count, models: inline } : { processor, count, key: manifest! },
    ),
    traceOptionsOf: (m, processor) => traceOptionsFor(input, m.trace, processor),
    onBatch: (result, batchSize, sofar) => {
      stageProgress.done += batchSize;
      for (const f of result.failed)
        progress.failures.push({ stage: 'trace', modelId: f.modelId, message: f.message });
      stageProgress.detail = `${sofar.traced} traced, ${sofar.failed.length} failed`;
    },
  });

  if (summary.traced === 0 || (input.allOrNothing && summary.failed.length > 0)) {
    throw ApplicationFailure.nonRetryable(
      `${summary.failed.length} of ${stageProgress.total} trace(s) failed` +
        `${input.allOrNothing ? ' and the run is all-or-nothing' : ''}: ` +
        summary.failed
          .slice(0, 5)
          .map((f) => `${f.modelId}: ${f.message}`)
          .join('; '),
      FailureType.TraceFailed,
    );
  }
  await records.saveStageRecord({ runId, stage: 'trace', record: summary });
  return summary;
}

async function packStage(
  input: PipelineInput,
  runId: string,
  trace: TraceStageSummary,
  progress: PipelineProgress,
  calibrations: string[],
): Promise<PackStageResult> {
  const result = await packing.packPlacement({
    runId,
    traceBatches: trace.batches,
    catalog: input.catalog,
    limits: input.limits,
    ...(calibrations.length > 0 ? { calibrations } : {}),
  });
  const devices = result.instances.reduce((n, i) => n + i.devices.length, 0);
  const inUse = servedInstances(result.instances).reduce((n, i) => n + i.devices.length, 0);
  progress.costPerHour = result.costPerHour;
  progress.stages.pack = {
    status: 'done',
    done: trace.traced - result.unplaced.length,
    total: trace.traced,
    detail: `${result.instances.length} instance(s), ${inUse} of ${devices} device(s) in use, $${result.costPerHour.toFixed(3)}/h${result.cached ? ' (cached)' : ''}${calibrationNote(result)}`,
    output: result.placementKey,
  };
  for (const u of result.unplaced)
    progress.failures.push({ stage: 'pack', modelId: u.id, message: u.reason });
  upsertSearchAttributes([{ key: StowageCostPerHour, value: result.costPerHour }]);
  if (inUse === 0) {
    // Name the models and why: the demand behind a misfit is only known from the trace, so this is where
    // a user learns that the catalog cannot hold them.
    throw packFailed(result.unplaced);
  }
  return result;
}

/** Which served-path calibration the demands were computed with, and how recent its figures are. */
function calibrationNote(result: PackStageResult): string {
  const uses = Object.values(result.calibrations ?? {});
  const shaky = result.untrustedProfiles
    ? `; ${result.untrustedProfiles} profile(s) unstable or taken on a contended machine`
    : '';
  if (uses.length === 0) return shaky;
  return (
    shaky +
    uses
      .map(
        (c) =>
          `; served path ${c.overheadMs.toFixed(2)} ms + ${c.forwardScale.toFixed(2)}× forward, ` +
          (c.checkedAt
            ? `capacity ×${c.capacityFactor.toFixed(2)} measured ${c.checkedAt}`
            : `probed ${c.probedAt}`) +
          (c.openLoopShare != null
            ? `, open loop keeps ${c.openLoopShare.toFixed(2)} of the probe's rate`
            : '') +
          (c.probeTrusted ? '' : ' (probe unstable or contended: `stowage calibrate` measures it again)'),
      )
      .join('')
  );
}

function capacitySummary(check: CapacityCheck): string {
  const ratio = check.ratio !== null ? ` (measured/planned ${check.ratio.toFixed(2)})` : '';
  return `${check.verdict}${ratio}${check.verdict === 'promise broken' ? `, worst ${check.worst}` : ''}`;
}
