import { ApplicationFailure, CancellationScope, proxyActivities, workflowInfo } from '@temporalio/workflow';
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

type Activities = ReturnType<typeof createActivities>;

const NON_RETRYABLE = ['InvalidInput', 'ModelNotTraced', 'ModelServerStartFailed', 'NoAnswers'];

const quick = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

// Loading models takes a while; the activity reuses a retried run's servers when they are ready.
const servers = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '2 seconds', maximumAttempts: 2, nonRetryableErrorTypes: NON_RETRYABLE },
});

// k6 activities heartbeat every 2 s: a lost worker is noticed in 15 s and the whole step re-run (an
// attempt's figures only count once it completes, so an interrupted step is never counted twice).
const load = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '15 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

/**
 * Measures a fleet the way the post did — sequential and random single requests for best-case latency,
 * then load steps across the throughput–latency curve — and finds the knee: the highest achieved
 * throughput with P90 within the SLO and errors within budget, in at most 8 load steps (src/domain/knee.ts).
 * Writes report.json, report.html and sweep.json under runs/<workflowId>/.
 *
 * Input is validated before anything else happens, and every server is probed before any load is sent.
 * A server that dies mid-sweep shows as errors in that step, then fails the run with what was measured.
 * Servers this run deployed are stopped however it ends.
 */
export async function loadSweep(input: LoadSweepInput): Promise<LoadSweepResult> {
  let valid: ValidLoadSweepInput;
  try {
    valid = validateLoadSweepInput(input);
  } catch (err) {
    if (err instanceof LoadSweepInputError)
      throw ApplicationFailure.nonRetryable(err.message, 'InvalidInput');
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
    const unreachable = await quick.probeRoutes({ tableKey });
    if (unreachable.length > 0) {
      throw ApplicationFailure.nonRetryable(
        `invalid loadSweep input: ${unreachable.length} server(s) in the routing table cannot serve their routes, ` +
          `no load was sent: ${unreachable.map((u) => `${u.url} (${u.reason})`).join('; ')}`,
        'InvalidInput',
      );
    }

    const sequential = await load.runSequentialTest({ tableKey });
    const random = await load.runRandomTest({ tableKey, ...valid.random });

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
      const figures = await load.runLoadStep({
        tableKey,
        index,
        rate: next.rate,
        seconds: plan.stepSeconds,
        maxVUs: plan.maxVUs,
      });
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
            'ModelServerLost',
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
