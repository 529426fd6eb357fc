/**
 * Labels and annotations on everything Stowage creates in a cluster (k8s layout: managed-by + placement).
 * Selection is always by label, never by name prefix, so garbage collection cannot touch what another
 * tool made.
 */
export const MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGER = 'stowage';
export const PART_OF = 'app.kubernetes.io/part-of';
export const COMPONENT = 'app.kubernetes.io/component';
/** The placement that produced an object; servers kept across placements keep the one that made them. */
export const PLACEMENT = 'stowage.dev/placement';
/** A pipeline's fleet: rollouts of one fleet never retire another fleet's servers. */
export const FLEET = 'stowage.dev/fleet';
/** The server a Deployment, its pods and its Service belong to (also the pod selector). */
export const SERVER = 'stowage.dev/server';
/** The run (workflow id) that created a k6 Job. */
export const RUN = 'stowage.dev/run';

/** Annotations: what the diff compares, and what a reader of `kubectl describe` wants to know. */
export const SPEC_HASH = 'stowage.dev/spec-hash';
export const INSTANCE_TYPE_ANNOTATION = 'stowage.dev/instance-type';
export const MODEL_COUNT = 'stowage.dev/model-count';

/** EKS node labels (set by EKS on managed node groups, by the harness on kwok nodes). */
export const NODE_GROUP_LABEL = 'eks.amazonaws.com/nodegroup';
export const INSTANCE_TYPE_LABEL = 'node.kubernetes.io/instance-type';

/** Extended resources of accelerator devices, by processor. */
export const DEVICE_RESOURCE: Record<string, string | undefined> = {
  inf: 'aws.amazon.com/neuron',
  gpu: 'nvidia.com/gpu',
  cpu: undefined,
};

export const FIELD_MANAGER = 'stowage';

export function fleetLabels(fleet: string): Record<string, string> {
  return { [MANAGED_BY]: MANAGER, [PART_OF]: 'stowage', [FLEET]: fleet };
}

/** `key=value,…` for a list call. */
export function selector(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export function fleetSelector(fleet: string, component?: string): string {
  return selector({
    [MANAGED_BY]: MANAGER,
    [FLEET]: fleet,
    ...(component ? { [COMPONENT]: component } : {}),
  });
}
