import {
  DescribeNodegroupCommand,
  type EKSClient,
  paginateListNodegroups,
  UpdateNodegroupConfigCommand,
} from '@aws-sdk/client-eks';
import type { V1Node } from '@kubernetes/client-node';
import { NODE_GROUP_LABEL } from '../kubernetes/labels';
import { FailureType } from '../domain/failures';

export { NODE_GROUP_LABEL };

export interface NodeGroup {
  name: string;
  instanceTypes: string[];
  minSize: number;
  maxSize: number;
  desiredSize: number;
  status: string;
}

/** The instance type a group's nodes are all of, or undefined for a mixed group (several types). */
function soleInstanceType(group: NodeGroup): string | undefined {
  return group.instanceTypes.length === 1 ? group.instanceTypes[0] : undefined;
}

export class NodeGroupMissingError extends Error {
  override name = FailureType.NodeGroupMissing;
}
export class NodeGroupAtMaxError extends Error {
  override name = FailureType.NodeGroupAtMax;
}

export async function describeNodeGroups(eks: EKSClient, clusterName: string): Promise<NodeGroup[]> {
  const names: string[] = [];
  for await (const page of paginateListNodegroups({ client: eks }, { clusterName })) {
    names.push(...(page.nodegroups ?? []));
  }
  const groups = await Promise.all(
    names.map(async (nodegroupName) => {
      const { nodegroup } = await eks.send(new DescribeNodegroupCommand({ clusterName, nodegroupName }));
      const scaling = nodegroup?.scalingConfig ?? {};
      return {
        name: nodegroupName,
        instanceTypes: nodegroup?.instanceTypes ?? [],
        minSize: scaling.minSize ?? 0,
        maxSize: scaling.maxSize ?? 0,
        desiredSize: scaling.desiredSize ?? 0,
        status: nodegroup?.status ?? 'UNKNOWN',
      };
    }),
  );
  return groups.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Instances per instance type of a Placement (docs/contracts.md): what the node groups must provide. */
export function instancesPerType(placement: { instances: { type: string }[] }): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { type } of placement.instances) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

export interface NodeGroupScaling {
  group: string;
  instanceType: string;
  minSize: number;
  maxSize: number;
  currentSize: number;
  desiredSize: number;
}

export interface NodeGroupPlan {
  clusterName: string;
  direction: 'up' | 'down';
  /** Groups of the managed instance types, in name order; others are never touched. */
  targets: NodeGroupScaling[];
}

export interface PlanInput {
  clusterName: string;
  /** Instances per instance type the placement needs (instancesPerType). */
  instances: Record<string, number>;
  /**
   * The catalog's instance types: groups of these types belong to Stowage (a type with no need scales to
   * its minimum on the way down); groups of other types (system pods, other tenants) are left alone.
   */
  catalogTypes?: string[];
  /**
   * 'up' before a rollout: never below a group's current size, because the old servers still run there.
   * 'down' only after the old servers are gone: to exactly what the placement needs (within min/max).
   */
  direction: 'up' | 'down';
}

/**
 * Desired sizes per node group for a placement. Several groups of one type are filled in name order,
 * each up to its maxSize. Every problem is found before anything is changed: an instance type with no
 * group of its own, or a need beyond the groups' max sizes, throws and nothing is scaled.
 */
export function planNodeGroupSizes(groups: NodeGroup[], input: PlanInput): NodeGroupPlan {
  const managed = new Set([...(input.catalogTypes ?? []), ...Object.keys(input.instances)]);
  const byType = new Map<string, NodeGroup[]>();
  for (const group of groups) {
    const type = soleInstanceType(group);
    if (type !== undefined && managed.has(type)) byType.set(type, [...(byType.get(type) ?? []), group]);
  }
  const needed = Object.entries(input.instances).filter(([, count]) => count > 0);

  const missing = needed.filter(([type]) => !byType.has(type)).map(([type]) => type);
  if (missing.length > 0) {
    const listed = groups.map((g) => `${g.name} [${g.instanceTypes.join(', ')}]`).join(', ') || 'none';
    const mixed = groups.some((g) => g.instanceTypes.length > 1)
      ? '; a group of several instance types cannot be sized for one of them'
      : '';
    throw new NodeGroupMissingError(
      `instance type${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ` +
        `ha${missing.length > 1 ? 've' : 's'} no node group in EKS cluster ${input.clusterName} ` +
        `(node groups: ${listed}${mixed})`,
    );
  }
  const tooMany = needed.flatMap(([type, count]) => {
    const candidates = byType.get(type)!;
    const capacity = candidates.reduce((sum, g) => sum + g.maxSize, 0);
    if (count <= capacity) return [];
    return [
      candidates.length === 1
        ? `node group ${candidates[0].name} is at its max size ${capacity}, the placement needs ${count}`
        : `node groups ${candidates.map((g) => g.name).join(', ')} (${type}) are at their max sizes ` +
          `${candidates.map((g) => g.maxSize).join(' + ')} = ${capacity}, the placement needs ${count}`,
    ];
  });
  if (tooMany.length > 0) throw new NodeGroupAtMaxError(tooMany.join('; '));

  const targets: NodeGroupScaling[] = [];
  for (const [type, candidates] of [...byType].sort(([a], [b]) => (a < b ? -1 : 1))) {
    let remaining = input.instances[type] ?? 0;
    for (const group of candidates) {
      const share = Math.min(remaining, group.maxSize);
      remaining -= share;
      const floor = input.direction === 'up' ? Math.max(group.desiredSize, share) : share;
      targets.push({
        group: group.name,
        instanceType: type,
        minSize: group.minSize,
        maxSize: group.maxSize,
        currentSize: group.desiredSize,
        desiredSize: Math.min(group.maxSize, Math.max(group.minSize, floor)),
      });
    }
  }
  targets.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
  return { clusterName: input.clusterName, direction: input.direction, targets };
}

/** Sets each changed group's desiredSize (within its min/max); returns the groups it changed. */
export async function applyNodeGroupPlan(eks: EKSClient, plan: NodeGroupPlan): Promise<string[]> {
  const changed = plan.targets.filter((t) => t.desiredSize !== t.currentSize);
  for (const target of changed) {
    if (target.desiredSize < target.minSize || target.desiredSize > target.maxSize) {
      throw new NodeGroupAtMaxError(
        `node group ${target.group}: desired size ${target.desiredSize} is outside its limits ${target.minSize}..${target.maxSize}`,
      );
    }
    await eks.send(
      new UpdateNodegroupConfigCommand({
        clusterName: plan.clusterName,
        nodegroupName: target.group,
        scalingConfig: { desiredSize: target.desiredSize },
      }),
    );
  }
  return changed.map((t) => t.group);
}

/** The part of CoreV1Api that waiting needs: a real CoreV1Api fits, so does anything listing nodes. */
export interface NodeLister {
  listNode(param: { labelSelector?: string }): Promise<{ items: V1Node[] }>;
}

export function isNodeReady(node: V1Node): boolean {
  return (
    !node.spec?.unschedulable &&
    !node.metadata?.deletionTimestamp &&
    (node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false)
  );
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Called after every look (activities heartbeat here). */
  onPoll?: (state: { group: string; ready: number; wanted: number }) => void;
  signal?: AbortSignal;
}

/** Resolves once the group has at least `count` Ready, schedulable nodes; fails with the count at the deadline. */
export async function waitForNodesReady(
  kubeApi: NodeLister | (() => Promise<NodeLister>),
  group: string,
  count: number,
  options: WaitOptions,
): Promise<number> {
  const lister = typeof kubeApi === 'function' ? kubeApi : async () => kubeApi;
  const deadline = Date.now() + options.timeoutMs;
  let ready = 0;
  let lastError: unknown;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const nodes = await (await lister()).listNode({ labelSelector: `${NODE_GROUP_LABEL}=${group}` });
      ready = nodes.items.filter(isNodeReady).length;
      lastError = undefined;
    } catch (err) {
      lastError = err; // an API server that blips is asked again until the deadline
    }
    options.onPoll?.({ group, ready, wanted: count });
    if (lastError === undefined && ready >= count) return ready;
    if (Date.now() >= deadline) {
      throw new Error(
        `node group ${group} has ${ready} of ${count} node(s) Ready after ${Math.round(options.timeoutMs / 1000)} s` +
          (lastError
            ? `; the API server last answered: ${String((lastError as Error).message ?? lastError)}`
            : ''),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 2_000));
  }
}
