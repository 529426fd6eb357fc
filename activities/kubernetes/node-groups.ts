import { EKSClient } from '@aws-sdk/client-eks';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { z } from 'zod';
import { describeCluster, EksClusterError, eksCoreApi } from '../../src/aws/kubeconfig';
import {
  applyNodeGroupPlan,
  describeNodeGroups,
  NodeGroupAtMaxError,
  NodeGroupMissingError,
  type NodeGroupPlan,
  type NodeGroupScaling,
  type NodeLister,
  planNodeGroupSizes,
  waitForNodesReady,
} from '../../src/aws/node-groups';
import { heartbeating } from '../heartbeat';
import { FailureType } from '../../src/domain/failures';

export interface NodeGroupDeps {
  /** Default: an EKSClient from the SDK's default chains (region, credentials, AWS_ENDPOINT_URL_EKS). */
  eks?: EKSClient;
  /** The cluster's nodes. Default: its API server from DescribeCluster with an EKS token. */
  kubeApi?: (clusterName: string) => NodeLister | Promise<NodeLister>;
  /**
   * Test environments only: what EKS's autoscaling group does after a desired-size change (make the nodes
   * exist). Production leaves it out: EKS launches the instances and they join the cluster by themselves.
   */
  afterScale?: (target: NodeGroupScaling) => Promise<void>;
}

const PlanInputSchema = z
  .object({
    clusterName: z.string().regex(/^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/, 'an EKS cluster name'),
    instances: z.record(z.string().min(1), z.number().int().nonnegative()),
    catalogTypes: z.array(z.string().min(1)).optional(),
    direction: z.enum(['up', 'down']),
  })
  .strict();
export type NodeGroupsInput = z.infer<typeof PlanInputSchema>;

const ScaleInputSchema = PlanInputSchema.extend({
  /** How long scaling up may wait for the new nodes to be Ready (default 15 minutes). */
  readyTimeoutMs: z.number().int().positive().optional(),
}).strict();
export type ScaleNodeGroupsInput = z.infer<typeof ScaleInputSchema>;

export interface ScaleNodeGroupsResult {
  plan: NodeGroupPlan;
  /** Groups whose desired size was changed. */
  changed: string[];
}

/**
 * EKS node groups for a placement. `planNodeGroups` checks a placement against the
 * cluster's groups and changes nothing, so a rollout can fail on bad input before it applies anything;
 * `scaleNodeGroups` sets desired sizes and, scaling up, waits (heartbeating) until the nodes are Ready.
 * Callers scale down only after the old servers are gone.
 */
export function createNodeGroupActivities(deps: NodeGroupDeps = {}) {
  let eks = deps.eks;
  const client = () => (eks ??= new EKSClient({}));
  const coreApis = new Map<string, () => Promise<NodeLister>>();
  const kubeApi = async (clusterName: string): Promise<NodeLister> => {
    if (deps.kubeApi) return deps.kubeApi(clusterName);
    if (!coreApis.has(clusterName)) coreApis.set(clusterName, eksCoreApi({ eks: client(), clusterName }));
    return coreApis.get(clusterName)!();
  };

  const plan = async (input: NodeGroupsInput): Promise<NodeGroupPlan> => {
    // DescribeCluster first: a missing cluster is then named as such, not as an empty list of groups.
    await describeCluster(client(), input.clusterName);
    return planNodeGroupSizes(await describeNodeGroups(client(), input.clusterName), input);
  };

  return {
    async planNodeGroups(raw: NodeGroupsInput): Promise<NodeGroupPlan> {
      const input = parse(PlanInputSchema, raw);
      return failClearly(() => plan(input));
    },

    async scaleNodeGroups(raw: ScaleNodeGroupsInput): Promise<ScaleNodeGroupsResult> {
      const input = parse(ScaleInputSchema, raw);
      // Heartbeats on a timer, not per poll: a slow EKS or Kubernetes call must not look like a dead worker.
      return failClearly(() =>
        heartbeating(async (report) => {
          // Planned afresh on every attempt: a retry after a partial update sees the sizes it already set.
          const groups = await plan(input);
          const changed = await applyNodeGroupPlan(client(), groups);
          for (const target of groups.targets.filter((t) => changed.includes(t.group))) {
            await deps.afterScale?.(target);
          }
          if (input.direction === 'up') {
            for (const target of groups.targets.filter((t) => t.desiredSize > 0)) {
              await waitForNodesReady(() => kubeApi(input.clusterName), target.group, target.desiredSize, {
                timeoutMs: input.readyTimeoutMs ?? 15 * 60_000,
                onPoll: report,
                signal: Context.current().cancellationSignal,
              });
            }
          }
          return { plan: groups, changed };
        }),
      );
    },
  };
}

function parse<T>(schema: z.ZodType<T>, raw: unknown): T {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(
      `invalid node group input: ${parsed.error.issues.map((i) => `/${i.path.join('/')}: ${i.message}`).join('; ')}`,
      FailureType.InvalidInput,
    );
  }
  return parsed.data;
}

/** Bad input (no group for a type, a group too small, no such cluster) fails at once; the rest may retry. */
async function failClearly<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof NodeGroupMissingError || err instanceof NodeGroupAtMaxError) {
      throw ApplicationFailure.nonRetryable(err.message, err.name);
    }
    if (err instanceof EksClusterError)
      throw ApplicationFailure.nonRetryable(err.message, FailureType.EksClusterUnavailable);
    throw err;
  }
}
