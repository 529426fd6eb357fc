import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../../activities';
import type { InClusterLoadTestInput } from '../../activities/kubernetes/load-job';

/** The project's workflows plus one that runs the in-cluster load test alone, for kube-rollout.test.ts. */
export * from '../../workflows';

const jobs = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 1 },
});

export async function kubeLoadTestOnly(input: InClusterLoadTestInput) {
  return jobs.runInClusterLoadTest(input);
}
