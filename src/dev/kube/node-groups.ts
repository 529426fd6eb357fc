import { z } from 'zod';
import type { CoreV1Api, V1Node } from '@kubernetes/client-node';
import { waitUntil } from '../child';
import { KWOK_ANNOTATION } from './kwok';

/** EKS's node labels: what Stowage's node selectors and the node-group scaler match on. */
export const NODE_GROUP_LABEL = 'eks.amazonaws.com/nodegroup';
export const INSTANCE_TYPE_LABEL = 'node.kubernetes.io/instance-type';

const quantity = z.union([
  z.number().nonnegative(),
  z
    .string()
    .regex(/^\d+(\.\d+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/, 'a Kubernetes quantity such as "24", "500m" or "48Gi"'),
]);
const devices = z.number().int().nonnegative();

export const NodeGroupSpecSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?$/, 'a DNS label of at most 52 characters'),
    instanceType: z
      .string()
      .regex(/^[a-z0-9]+[a-z0-9-]*\.[a-z0-9]+$/, 'an EC2 instance type such as inf1.6xlarge'),
    count: z.number().int().min(0).max(200),
    allocatable: z
      .object({
        cpu: quantity,
        memory: quantity,
        pods: z.number().int().positive().optional(),
        'aws.amazon.com/neuron': devices.optional(),
        'nvidia.com/gpu': devices.optional(),
      })
      .strict(),
  })
  .strict();
export type NodeGroupSpec = z.infer<typeof NodeGroupSpecSchema>;

const DEFAULT_MAX_PODS = 110;

export function nodeName(group: string, index: number): string {
  return `${group}-${index}`;
}

/**
 * One simulated node of a group, labelled as EKS labels a managed node group's nodes. Capacity equals
 * allocatable (no system reservation is simulated). kwok takes it from here and reports it Ready.
 */
export function nodeManifest(spec: NodeGroupSpec, index: number): V1Node {
  const name = nodeName(spec.name, index);
  const { pods, ...resources } = spec.allocatable;
  const allocatable: Record<string, string> = { pods: String(pods ?? DEFAULT_MAX_PODS) };
  for (const [resource, value] of Object.entries(resources)) {
    if (value !== undefined) allocatable[resource] = String(value);
  }
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        [NODE_GROUP_LABEL]: spec.name,
        [INSTANCE_TYPE_LABEL]: spec.instanceType,
        'eks.amazonaws.com/capacityType': 'ON_DEMAND',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
      },
      annotations: { [KWOK_ANNOTATION.key]: KWOK_ANNOTATION.value },
    },
    spec: {},
    status: { allocatable, capacity: allocatable },
  };
}

/**
 * Ready as the scheduler sees it: the Ready condition, and the not-ready taint that admission puts on
 * every new node lifted again by the node lifecycle controller.
 */
export function isReady(node: V1Node): boolean {
  const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  return ready && !node.spec?.taints?.some((t) => t.key === 'node.kubernetes.io/not-ready');
}

function indexOf(group: string, node: V1Node): number {
  return Number(node.metadata!.name!.slice(group.length + 1));
}

export async function groupNodes(core: CoreV1Api, group: string): Promise<V1Node[]> {
  const list = await core.listNode({ labelSelector: `${NODE_GROUP_LABEL}=${group}` });
  return list.items.sort((a, b) => indexOf(group, a) - indexOf(group, b));
}

/**
 * Brings the group to spec.count nodes: new nodes get the lowest free indices and are waited for until
 * Ready; removed ones (highest indices first) are drained first, as EKS drains a managed group's node
 * before terminating it: cordoned, pods evicted (so PodDisruptionBudgets hold), then deleted.
 */
export async function reconcileNodeGroup(
  core: CoreV1Api,
  spec: NodeGroupSpec,
  timeoutMs: number,
): Promise<void> {
  const current = await groupNodes(core, spec.name);
  const taken = new Set(current.map((n) => indexOf(spec.name, n)));
  const added: string[] = [];
  for (let index = 0; taken.size + added.length < spec.count; index++) {
    if (taken.has(index)) continue;
    const node = nodeManifest(spec, index);
    await core.createNode({ body: node });
    added.push(node.metadata!.name!);
  }
  const removed = current.slice(spec.count).map((n) => n.metadata!.name!);
  for (const name of removed) await drainAndDelete(core, name, timeoutMs);

  await waitUntil(
    `node group ${spec.name} to have ${spec.count} Ready node(s)`,
    async () => {
      const nodes = await groupNodes(core, spec.name);
      return nodes.length === spec.count && nodes.every(isReady);
    },
    { timeoutMs, intervalMs: 250 },
  );
}

async function drainAndDelete(core: CoreV1Api, name: string, timeoutMs: number): Promise<void> {
  await core.patchNode({ name, body: [{ op: 'add', path: '/spec/unschedulable', value: true }] });
  // Evictions a PodDisruptionBudget refuses (429) are asked again on the next round, as kubectl drain does.
  const evictRemaining = async () => {
    const pods = (await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name}` })).items;
    for (const pod of pods.filter((p) => !p.metadata?.deletionTimestamp)) {
      const { name: podName, namespace } = pod.metadata!;
      await core
        .createNamespacedPodEviction({
          name: podName!,
          namespace: namespace!,
          body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: podName, namespace } },
        })
        .catch(() => undefined);
    }
    return pods.length === 0;
  };
  await waitUntil(`node ${name} to be drained`, evictRemaining, { timeoutMs, intervalMs: 500 });
  await core.deleteNode({ name });
}
