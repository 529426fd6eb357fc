import { ApplicationFailure } from '@temporalio/activity';
import type { ArtifactStore } from '../../src/artifacts/store';
import type { StepFigures } from '../../src/domain/step-figures';
import { SERVER } from '../../src/kubernetes/labels';
import { kubeCall, type KubernetesDeps, kubeClients } from './client';
import { k6Scripts, KWOK_NODE_ANNOTATION, runK6Job } from './k6-job';
import type { SmokeTestResult, StoredPlan } from '../../src/kubernetes/rollout';
import { heartbeating } from '../heartbeat';
import { FailureType } from '../../src/domain/failures';

export const SIMULATED_SMOKE_REASON =
  'smoke test skipped: the servers run on simulated (kwok) nodes, where no container runs and no model can answer';

/**
 * The wave's smoke test: every model of the wave called once, one request at a time, through its Service
 * (k6/sequential.ts in a Job, so the calls go the way the cluster's clients' calls go). Any failed call
 * fails the wave, which the workflow then rolls back.
 */
export function createSmokeActivities(
  deps: KubernetesDeps | undefined,
  artifacts: ArtifactStore,
  projectRoot: string,
) {
  return {
    async smokeTestServers(input: {
      planKey: string;
      names: string[];
      wave: number;
    }): Promise<SmokeTestResult> {
      // Heartbeats on a timer: a slow API call must not look like a dead worker.
      return heartbeating(async () => {
        const plan = await artifacts.readJson<StoredPlan>(input.planKey);
        const k = await kubeClients(deps);
        const { namespace, fleet } = plan.target;
        const servers = plan.servers.filter((s) => input.names.includes(s.name));
        if (plan.target.smokeTest === 'skip-kwok') {
          // Skipping is only honest where nothing could answer: check that every pod is on a kwok node.
          for (const server of servers) {
            const pods = await kubeCall(k, `list the pods of ${server.name}`, () =>
              k.core.listNamespacedPod({ namespace, labelSelector: `${SERVER}=${server.name}` }),
            );
            for (const pod of pods.items) {
              const nodeName = pod.spec?.nodeName;
              if (!nodeName) continue;
              const node = await kubeCall(k, `read node ${nodeName}`, () =>
                k.core.readNode({ name: nodeName }),
              );
              if (node.metadata?.annotations?.[KWOK_NODE_ANNOTATION] === undefined) {
                throw ApplicationFailure.nonRetryable(
                  `smokeTest "skip-kwok" was asked for, but pod ${pod.metadata?.name} runs on node ${nodeName}, ` +
                    'which is not simulated: use smokeTest "k6"',
                  FailureType.InvalidInput,
                );
              }
            }
          }
          return { mode: 'skipped', reason: SIMULATED_SMOKE_REASON };
        }
        const outcome = await runK6Job<StepFigures>(
          k,
          {
            kind: 'smoke',
            runId: plan.runId,
            discriminator: `wave-${input.wave}`,
            namespace,
            fleet,
            image: plan.target.k6Image,
            script: 'sequential.ts',
            env: {},
            routingTable: {
              routes: servers.flatMap((s) => s.models.map((modelId) => ({ modelId, url: s.url }))),
            },
            activeDeadlineSeconds: 600,
          },
          await k6Scripts(projectRoot),
        );
        if (outcome.kind === 'simulated') {
          throw ApplicationFailure.nonRetryable(
            `the smoke test's k6 job ${outcome.job} ran on simulated node ${outcome.node}: nothing was called ` +
              '(on a kwok cluster, set smokeTest "skip-kwok")',
            FailureType.SmokeTestFailed,
          );
        }
        const f = outcome.summary;
        if (f.failures > 0 || f.requests === 0) {
          throw ApplicationFailure.nonRetryable(
            `smoke test of wave ${input.wave} failed: ${f.failures} of ${f.requests} request(s) failed (k6 job ${outcome.job})`,
            FailureType.SmokeTestFailed,
          );
        }
        return {
          mode: 'k6',
          job: outcome.job,
          requests: f.requests,
          failures: f.failures,
          minMs: f.minMs,
          maxMs: f.maxMs,
        };
      });
    },
  };
}
