import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { kneeOf, nextStep, verdict } from '../src/domain/knee';
import {
  LoadSweepInputError,
  validateLoadSweepInput,
  type LoadSweepInput,
  type LoadSweepResult,
  type StepResult,
  type ValidLoadSweepInput,
} from '../src/domain/load-sweep';
import { HEARTBEAT_TIMEOUT } from './heartbeat';
import { FailureType, NO_RETRY } from '../src/domain/failures';

type Activities = ReturnType<typeof createActivities>;

const NON_RETRYABLE = [...NO_RETRY.loadSweep];

const quick = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

// Loading models takes a while; the activity reuses a retried run's servers when they are ready.
const servers = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '2 seconds', maximumAttempts: 2, nonRetryableErrorTypes: NON_RETRYABLE },
});

// k6 activities heartbeat every second: a lost worker is noticed in seconds and the attempt retried. A
// load step resumes from the windows its last attempt heartbeated; the sequential and random tests are
// re-run whole (an attempt's figures only count once it completes, so nothing is counted twice).
const load = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

/**
 * The local fleet behind a given routing table (the pipeline's deployment): with it, a sweep that finds
 * servers lost — killed, or gone with their worker in a crash or a power loss — starts them again from
 * `placement` and repeats the measurement, instead of failing.
 */
export interface SweptFleet {
  /** The run that owns the servers (their records in model-servers.json). */
  deploymentId: string;
  processor: string;
  maxBatch: number;
  batchWindowMs: number;
}

export type LoadSweepWorkflowInput = LoadSweepInput & { fleet?: SweptFleet };

/** Lost fleets a sweep brings back before it gives up: servers that keep dying are a fault to report. */
const MAX_FLEET_RECOVERIES = 3;

/**
 * Measures a fleet the way the post did — sequential and random single requests for best-case latency,
 * then load steps across the throughput–latency curve — and finds the knee: the highest achieved
 * throughput with P90 within the SLO and errors within budget, in at most 8 load steps (src/domain/knee.ts).
 * Each step offers its rate until its figures are stable or its time is up (src/domain/stability.ts); an
 * unstable step is reported as such and is never the knee.
 * Writes report.json, report.html and sweep.json under runs/<workflowId>/.
 *
 * Input is validated before anything else happens, and every server is probed before any load is sent.
 * A server that dies mid-sweep shows as errors in that step; with a `fleet` to restart, the lost servers
 * are started again and the measurement repeated (at most MAX_FLEET_RECOVERIES times), otherwise the run
 * fails with what was measured. Servers this run deployed are stopped however it ends.
 */
export async function loadSweep(input: LoadSweepWorkflowInput): Promise<LoadSweepResult> {
  let valid: ValidLoadSweepInput;
  let fleet: SweptFleet | undefined;
  try {
    valid = validateLoadSweepInput(input);
    fleet = validFleet(input, valid);
  } catch (err) {
    if (err instanceof LoadSweepInputError)
      throw ApplicationFailure.nonRetryable(err.message, FailureType.InvalidInput);
    throw err;
  }
  const runId = workflowInfo().workflowId;
  const { source, slo, plan } = valid;
  let deployed = false;
  try {
    let cost = valid.cost;
    let placement = source.kind === 'deploy' ? source.placement : valid.placement;
    let staged;
    if (source.kind === 'deploy') {
      deployed = true; // set first: a start that fails half-way still has servers to stop
      const started = await servers.startModelServers({
        runId,
        placement: source.placement,
        processor: source.processor,
        maxBatch: source.maxBatch,
        batchWindowMs: source.batchWindowMs,
      });
      const machine = await quick.describeLocalMachine();
      cost ??= {
        instanceType: machine.name,
        instances: source.placement.instances.length,
        pricePerHour: machine.pricePerHour,
      };
      placement = source.placement;
      staged = await quick.stageRoutingTable({ runId, routingTable: started.routingTable });
    } else {
      staged = await quick.stageRoutingTable({
        runId,
        routingTable: source.kind === 'table' ? source.routingTable : undefined,
        uri: source.kind === 'uri' ? source.uri : undefined,
      });
    }
    const tableKey = staged.key;
    let recoveries = 0;
    /** After failed requests: when the fleet lost servers and may be restarted, restart them. */
    const recovered = async (): Promise<boolean> => {
      if (!fleet || !placement || recoveries >= MAX_FLEET_RECOVERIES) return false;
      const lost = await quick.probeRoutes({ tableKey });
      if (lost.length === 0) return false;
      recoveries += 1;
      const back = await servers.reconcileModelServers({
        runId: fleet.deploymentId,
        placement,
        processor: fleet.processor,
        maxBatch: fleet.maxBatch,
        batchWindowMs: fleet.batchWindowMs,
      });
      // The same key: every later activity reads the table with the restarted servers' URLs.
      staged = await quick.stageRoutingTable({ runId, routingTable: back.routingTable });
      return true;
    };
    /** A measurement, repeated on a restarted fleet when it failed because servers were lost. */
    async function measure<T>(run: () => Promise<T>, failed: (figures: T) => boolean): Promise<T> {
      for (;;) {
        try {
          const figures = await run();
          if (!failed(figures) || !(await recovered())) return figures;
        } catch (err) {
          if (!answeredNothing(err) || !(await recovered())) throw err;
        }
      }
    }

    let unreachable = await quick.probeRoutes({ tableKey });
    if (unreachable.length > 0 && (await recovered())) unreachable = await quick.probeRoutes({ tableKey });
    if (unreachable.length > 0) {
      throw ApplicationFailure.nonRetryable(
        `invalid loadSweep input: ${unreachable.length} server(s) in the routing table cannot serve their routes, ` +
          `no load was sent: ${unreachable.map((u) => `${u.url} (${u.reason})`).join('; ')}`,
        FailureType.InvalidInput,
      );
    }

    const sequential = await measure(
      () => load.runSequentialTest({ tableKey }),
      (r) => r.failures > 0,
    );
    const random = await measure(
      () => load.runRandomTest({ tableKey, ...valid.random }),
      (r) => r.failures > 0,
    );

    // Without a given start, begin at half of what the servers could answer one request at a time:
    // batching servers reach several times that, so the knee is usually bracketed within 3–4 ramp steps.
    const estimate = (staged.servers.length * 1000) / Math.max(1, sequential.p50Ms);
    const knee = {
      ...plan,
      startRate: plan.startRate ?? Math.round(Math.min(plan.maxRate, Math.max(plan.minRate, estimate / 2))),
    };

    const steps: StepResult[] = [];
    let stopReason = '';
    for (;;) {
      const next = nextStep(steps, knee, slo);
      if (next.kind === 'done') {
        stopReason = next.reason;
        break;
      }
      const index = steps.length;
      const figures = await measure(
        () =>
          load.runLoadStep({
            tableKey,
            index,
            rate: next.rate,
            seconds: plan.stepSeconds,
            maxVUs: plan.maxVUs,
            stability: valid.stability,
          }),
        (f) => f.errorRate > slo.maxErrorRate,
      );
      const step: StepResult = { ...figures, index, phase: next.phase, verdict: verdict(figures, slo) };
      steps.push(step);
      if (step.errorRate > slo.maxErrorRate) {
        // Errors are either overload (the curve's end) or a lost server: ask the servers which.
        const lost = await quick.probeRoutes({ tableKey });
        if (lost.length > 0) {
          throw ApplicationFailure.nonRetryable(
            `model server(s) lost during load step ${index} at ${next.rate} req/s ` +
              `(${(step.errorRate * 100).toFixed(1)}% of ${step.requests} requests failed): ` +
              lost.map((u) => `${u.url} (${u.reason})`).join('; '),
            FailureType.ModelServerLost,
            { steps },
          );
        }
      }
    }
    const best = kneeOf(steps, slo) ?? null;
    const report = await quick.writeLoadReport({
      runId,
      tableKey,
      slo,
      sequential,
      random,
      steps,
      knee: best,
      stopReason,
      stability: valid.stability,
      placement,
      cost,
    });
    return {
      runId,
      models: staged.models,
      servers: staged.servers.length,
      sequential,
      random,
      steps,
      knee: best,
      stopReason,
      report,
    };
  } finally {
    if (deployed) await CancellationScope.nonCancellable(() => quick.stopModelServers({ runId }));
  }
}

/** The fleet of a given routing table, checked like the rest of the input. */
function validFleet(input: LoadSweepWorkflowInput, valid: ValidLoadSweepInput): SweptFleet | undefined {
  const fleet = input.fleet;
  if (fleet === undefined) return undefined;
  const problems: string[] = [];
  if (valid.source.kind === 'deploy') problems.push('fleet applies to a given routing table, not to deploy');
  if (!valid.placement) problems.push('fleet needs the placement its servers are started from');
  if (typeof fleet?.deploymentId !== 'string' || fleet.deploymentId.length === 0)
    problems.push('fleet.deploymentId must be a non-empty string');
  if (typeof fleet?.processor !== 'string' || fleet.processor.length === 0)
    problems.push('fleet.processor must be a non-empty string');
  if (!Number.isInteger(fleet?.maxBatch) || fleet.maxBatch < 1)
    problems.push('fleet.maxBatch must be an integer ≥ 1');
  if (typeof fleet?.batchWindowMs !== 'number' || !(fleet.batchWindowMs >= 0))
    problems.push('fleet.batchWindowMs must be a number ≥ 0');
  if (problems.length > 0) throw new LoadSweepInputError(`invalid loadSweep input: ${problems.join('; ')}`);
  return fleet;
}

/** A test that got no answer at all: every server it asked may be gone. */
function answeredNothing(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof ApplicationFailure &&
    err.cause.type === FailureType.NoAnswers
  );
}
