import { proxyActivities } from '@temporalio/workflow';
import type { createNodeGroupActivities } from '../../activities/kubernetes/node-groups';
import type { ScaleNodeGroupsInput } from '../../activities/kubernetes/node-groups';

/**
 * A test-only workflow that runs scaleNodeGroups as a real activity (heartbeats, timeouts and failure
 * types as Temporal sees them) before the integrator wires it into `rollout`. One attempt: a missed
 * heartbeat must fail the test, not be hidden by a retry.
 */
const { scaleNodeGroups } = proxyActivities<ReturnType<typeof createNodeGroupActivities>>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '8 seconds',
  retry: { maximumAttempts: 1 },
});

export async function scaleNodeGroupsOnce(input: ScaleNodeGroupsInput) {
  return scaleNodeGroups(input);
}
