import { ApplicationFailure } from '@temporalio/activity';
import type { ArtifactStore } from '../../src/artifacts/store';
import { kneeOf, nextStep, type Slo, verdict } from '../../src/domain/knee';
import type { DeviceLayout, LatencyRange, RoutingTable, StepResult } from '../../src/domain/load-sweep';
import type { StepFigures } from '../../src/domain/step-figures';
import { routingConfigMapName } from '../../src/kubernetes/names';
import { createReportActivities } from '../load/report';
import { createRouteActivities } from '../load/routes';
import { kubeCall, type KubernetesDeps, kubeClients, statusOf } from './client';
import { k6Scripts, type K6JobSpec, runK6Job } from './k6-job';
import { heartbeating } from '../heartbeat';
import { FailureType } from '../../src/domain/failures';

export const NOT_MEASURABLE =
  'load test not measurable on simulated nodes: the k6 Job ran on a kwok node, where no container runs';

export interface InClusterLoadTestInput {
  /** The test's own run id (the pipeline's `<runId>-test`): the report goes under runs/<runId>/. */
  runId: string;
  namespace: string;
  fleet: string;
  k6Image: string;
  slo: Slo;
  sweep: {
    startRate?: number;
    minRate: number;
    maxRate: number;
    stepSeconds: number;
    maxSteps: number;
    factor: number;
    tolerance: number;
    maxVUs: number;
  };
  random: { rate: number; seconds: number };
  placement?: DeviceLayout;
  cost?: { instanceType: string; instances: number; pricePerHour: number };
}

export interface InClusterLoadTestResult {
  runId: string;
  measurable: boolean;
  /** The Jobs that ran, in order (their manifests stay in the cluster for an hour). */
  jobs: string[];
  models: number;
  servers: number;
  sequential: LatencyRange | null;
  random: LatencyRange | null;
  steps: StepResult[];
  knee: StepResult | null;
  stopReason: string;
  report: { json: string; html: string; sweep: string };
}

const NOT_MEASURED: LatencyRange = { requests: 0, failures: 0, minMs: NaN, maxMs: NaN, p50Ms: NaN };

function range(what: string, f: StepFigures): LatencyRange {
  if (f.minMs === null || f.maxMs === null || f.p50Ms === null) {
    throw ApplicationFailure.nonRetryable(
      `the in-cluster ${what} test got no successful answer (${f.failures} of ${f.requests} requests failed)`,
      FailureType.NoAnswers,
    );
  }
  return { requests: f.requests, failures: f.failures, minMs: f.minMs, maxMs: f.maxMs, p50Ms: f.p50Ms };
}

/**
 * The `test` stage on Kubernetes: the post's sequential and random tests, then the same knee search as
 * the local runtime (src/domain/knee.ts), each as a k6 Job next to the servers, reading the routing table
 * the rollout published. The figures go into the same report as local runs (activities/load/report.ts).
 * On simulated nodes the first Job shows that nothing can be measured, and the report says so.
 */
export function createLoadJobActivities(
  deps: KubernetesDeps | undefined,
  artifacts: ArtifactStore,
  projectRoot: string,
) {
  const reports = createReportActivities(artifacts);
  const routes = createRouteActivities(artifacts);
  return {
    async runInClusterLoadTest(input: InClusterLoadTestInput): Promise<InClusterLoadTestResult> {
      // Heartbeats on a timer: a slow API call must not look like a dead worker.
      return heartbeating(async () => {
        const k = await kubeClients(deps);
        const name = routingConfigMapName(input.fleet);
        const configMap = await kubeCall(k, `read the routing table of fleet ${input.fleet}`, () =>
          k.core.readNamespacedConfigMap({ name, namespace: input.namespace }).catch((err: unknown) => {
            if (statusOf(err) === 404) {
              throw ApplicationFailure.nonRetryable(
                `fleet ${input.fleet} has no routing table in namespace ${input.namespace}: roll it out first`,
                FailureType.InvalidInput,
              );
            }
            throw err;
          }),
        );
        const table = JSON.parse(configMap.data?.['routing.json'] ?? '{"routes":[]}') as RoutingTable;
        const staged = await routes.stageRoutingTable({ runId: input.runId, routingTable: table });
        const scripts = await k6Scripts(projectRoot);
        const jobs: string[] = [];
        const job = async <T>(
          discriminator: string,
          script: K6JobSpec['script'],
          env: Record<string, string>,
          seconds: number,
        ) => {
          const outcome = await runK6Job<T>(
            k,
            {
              kind: 'load',
              runId: input.runId,
              discriminator,
              namespace: input.namespace,
              fleet: input.fleet,
              image: input.k6Image,
              script,
              env,
              routingTable: table,
              activeDeadlineSeconds: Math.ceil(seconds) + 300,
            },
            scripts,
          );
          jobs.push(outcome.job);
          return outcome;
        };

        const report = (
          sequential: LatencyRange,
          random: LatencyRange,
          steps: StepResult[],
          knee: StepResult | null,
          stopReason: string,
        ) =>
          reports.writeLoadReport({
            runId: input.runId,
            tableKey: staged.key,
            slo: input.slo,
            sequential,
            random,
            steps,
            knee,
            stopReason,
            placement: input.placement,
            cost: input.cost,
          });
        const result = (
          measurable: boolean,
          rest: Omit<InClusterLoadTestResult, 'runId' | 'measurable' | 'jobs' | 'models' | 'servers'>,
        ) => ({
          runId: input.runId,
          measurable,
          jobs,
          models: staged.models,
          servers: staged.servers.length,
          ...rest,
        });

        const sequentialJob = await job<StepFigures>('sequential', 'sequential.ts', {}, 600);
        if (sequentialJob.kind === 'simulated') {
          const stopReason = `${NOT_MEASURABLE} (${sequentialJob.node}); no figures were recorded`;
          const written = await report(NOT_MEASURED, NOT_MEASURED, [], null, stopReason);
          return result(false, {
            sequential: null,
            random: null,
            steps: [],
            knee: null,
            stopReason,
            report: written,
          });
        }
        const sequential = range('sequential', sequentialJob.summary);
        const randomJob = await job<StepFigures>(
          'random',
          'random.ts',
          { RATE: String(input.random.rate), DURATION: String(input.random.seconds) },
          input.random.seconds,
        );
        if (randomJob.kind === 'simulated')
          throw ApplicationFailure.nonRetryable(NOT_MEASURABLE, FailureType.LoadJobFailed);
        const random = range('random', randomJob.summary);

        const estimate = (staged.servers.length * 1000) / Math.max(1, sequential.p50Ms);
        const plan = {
          ...input.sweep,
          startRate:
            input.sweep.startRate ??
            Math.round(Math.min(input.sweep.maxRate, Math.max(input.sweep.minRate, estimate / 2))),
        };
        const steps: StepResult[] = [];
        let stopReason = '';
        for (;;) {
          const next = nextStep(steps, plan, input.slo);
          if (next.kind === 'done') {
            stopReason = next.reason;
            break;
          }
          const index = steps.length;
          const outcome = await job<{ steps: StepFigures[] }>(
            `step-${index}`,
            'sweep.ts',
            {
              RATES: String(next.rate),
              STEP_SECONDS: String(input.sweep.stepSeconds),
              MAX_VUS: String(input.sweep.maxVUs),
              REQUEST_TIMEOUT_S: '5',
            },
            input.sweep.stepSeconds,
          );
          if (outcome.kind === 'simulated')
            throw ApplicationFailure.nonRetryable(NOT_MEASURABLE, FailureType.LoadJobFailed);
          const figures = outcome.summary.steps[0];
          steps.push({ ...figures, index, phase: next.phase, verdict: verdict(figures, input.slo) });
        }
        const knee = kneeOf(steps, input.slo) ?? null;
        const written = await report(sequential, random, steps, knee, stopReason);
        return result(true, { sequential, random, steps, knee, stopReason, report: written });
      });
    },
  };
}
