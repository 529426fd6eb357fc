import type { DeviceLayout, RoutingTable } from '../domain/load-sweep';
import type { Processor } from '../domain/task-queues';
import type { ServerDiff } from './diff';
import type { KubeObject, NodeGroupTarget, ServerPlan } from './manifests';

/**
 * Wire types of the Kubernetes rollout, shared by workflows/rollout-kubernetes.ts and its activities.
 */

/** Where and how a placement is rolled out on Kubernetes: the `kubernetes` settings of a pipeline. */
export interface KubernetesTarget {
  namespace: string;
  /** Rollouts of one fleet replace each other's servers; other fleets in the namespace are left alone. */
  fleet: string;
  /** Model-server image per processor (the build stage's output). */
  images: Partial<Record<Processor, string>>;
  nodeGroups: NodeGroupTarget[];
  maxUnavailable: number;
  progressDeadlineSeconds: number;
  /** Root of the artifacts as the cluster reads them (s3://bucket/prefix). */
  artifactsRoot: string;
  cpuPerServer?: string;
  /** Image of the init container that pulls the models from the artifact store (AWS CLI + shell). */
  fetchImage?: string;
  /**
   * `k6`: each wave's models are called once each through their Services by a k6 Job (k6/sequential.ts).
   * `skip-kwok`: only for simulated (kwok) nodes, where no container runs and nothing could answer; the
   * activity checks that every pod really sits on a kwok node before it skips.
   */
  smokeTest: 'k6' | 'skip-kwok';
  /** Image with the k6 binary for the smoke test and the in-cluster load test. */
  k6Image: string;
}

export interface PlanKubernetesRolloutInput {
  /** The rollout workflow's id: the plan is saved under runs/<runId>/. */
  runId: string;
  placementId: string;
  /** The served placement (no idle devices). */
  placement: DeviceLayout;
  /** Trace batch records (artifact keys): where each model's traced artifact lives and what it needs. */
  traceBatches: string[];
  target: KubernetesTarget;
}

export interface PlannedServer {
  name: string;
  instanceType: string;
  nodeGroup: string;
  instance: number;
  device: number;
  url: string;
  models: string[];
}

export interface KubernetesRolloutPlan {
  planKey: string;
  placementId: string;
  /** The placement the fleet ran before (from its routing ConfigMap), or null for a first rollout. */
  previousPlacementId: string | null;
  diff: ServerDiff;
  waves: string[][];
  servers: PlannedServer[];
  routingTable: RoutingTable;
}

/** The plan as saved: everything rollback and garbage collection need, without asking the caller again. */
export interface StoredPlan {
  runId: string;
  target: KubernetesTarget;
  placementId: string;
  previousPlacementId: string | null;
  servers: ServerPlan[];
  routingConfigMap: KubeObject;
  routingTable: RoutingTable;
  diff: ServerDiff;
  /** The live Deployments and Services of re-specced servers before this rollout: what rollback restores. */
  snapshots: KubeObject[];
}

export interface SmokeTestResult {
  mode: 'k6' | 'skipped';
  /** Why nothing was called (skipped only). */
  reason?: string;
  job?: string;
  requests?: number;
  failures?: number;
  minMs?: number | null;
  maxMs?: number | null;
}
