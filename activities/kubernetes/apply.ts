import { ApplicationFailure, Context } from '@temporalio/activity';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { ArtifactStore } from '../../src/artifacts/store';
import { artifactKeys } from '../../src/artifacts/keys';
import { readTraceBatches } from '../../src/fleet/problem';
import { diffServers, waves } from '../../src/kubernetes/diff';
import {
  COMPONENT,
  FLEET,
  MANAGED_BY,
  MANAGER,
  PLACEMENT,
  SERVER,
  SPEC_HASH,
} from '../../src/kubernetes/labels';
import {
  type KubeObject,
  ManifestError,
  renderFleet,
  type ServedModel,
} from '../../src/kubernetes/manifests';
import { routingConfigMapName } from '../../src/kubernetes/names';
import {
  apply,
  deleteIfPresent,
  ensureNamespace,
  kubeCall,
  type KubeClients,
  kubeClients,
  statusOf,
} from './client';
import type { KubernetesDeps } from './client';
import type {
  KubernetesRolloutPlan,
  PlanKubernetesRolloutInput,
  StoredPlan,
} from '../../src/kubernetes/rollout';
import { heartbeating } from '../heartbeat';
import { FailureType } from '../../src/domain/failures';

const serverSelector = (fleet: string) =>
  `${MANAGED_BY}=${MANAGER},${FLEET}=${fleet},${COMPONENT}=model-server`;

/** Where each model's traced artifact is, as the cluster reads it, and what it needs. */
async function servedModels(
  artifacts: ArtifactStore,
  traceBatches: string[],
  artifactsRoot: string,
): Promise<Map<string, ServedModel>> {
  const models = new Map<string, ServedModel>();
  const root = artifactsRoot.replace(/\/+$/, '');
  for await (const batch of readTraceBatches(artifacts, traceBatches)) {
    for (const t of batch.traced) {
      const prefix = t.artifact.prefix.replace(/^\/+|\/+$/g, '');
      models.set(t.modelId, {
        id: t.modelId,
        uri: `${root}/${prefix}/`,
        memoryGiB: t.demand.memoryGiB,
        hostMemoryGiB: t.demand.hostMemoryGiB,
      });
    }
  }
  return models;
}

/** What the API server set or tracks itself: stripped before a snapshot is applied back. */
function restorable(object: KubeObject & { spec?: Record<string, unknown> }): KubeObject {
  const annotations = Object.fromEntries(
    Object.entries(object.metadata.annotations ?? {}).filter(
      ([k]) => !k.startsWith('deployment.kubernetes.io/'),
    ),
  );
  const spec = { ...object.spec };
  if (object.kind === 'Service') {
    delete spec.clusterIP;
    delete spec.clusterIPs;
  }
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    metadata: {
      name: object.metadata.name,
      namespace: object.metadata.namespace,
      labels: object.metadata.labels,
      annotations,
    },
    spec,
  };
}

/** Why a server's pods are not ready, in the scheduler's and kubelet's own words. */
async function podProblems(clients: KubeClients, namespace: string, server: string): Promise<string> {
  const pods = await kubeCall(clients, `list the pods of ${server}`, () =>
    clients.core.listNamespacedPod({ namespace, labelSelector: `${SERVER}=${server}` }),
  );
  const reasons = pods.items.map((pod: V1Pod) => {
    const unscheduled = pod.status?.conditions?.find(
      (c) => c.type === 'PodScheduled' && c.status === 'False',
    );
    if (unscheduled)
      return `pod ${pod.metadata?.name} ${unscheduled.reason ?? 'unscheduled'}: ${unscheduled.message ?? ''}`.trim();
    const waiting = pod.status?.containerStatuses?.find((c) => c.state?.waiting)?.state?.waiting;
    if (waiting)
      return `pod ${pod.metadata?.name} waiting: ${waiting.reason ?? ''} ${waiting.message ?? ''}`.trim();
    const notReady = pod.status?.conditions?.find((c) => c.type === 'Ready' && c.status !== 'True');
    if (notReady)
      return `pod ${pod.metadata?.name} not ready${notReady.message ? `: ${notReady.message}` : ''}`;
    return undefined;
  });
  const found = reasons.filter((r): r is string => r !== undefined);
  return found.length > 0
    ? found.join('; ')
    : `${pods.items.length} pod(s), none reporting a problem now (${pods.items
        .map((p) => `${p.metadata?.name} ${p.status?.phase} on ${p.spec?.nodeName ?? 'no node'}`)
        .join(', ')}): the deadline passed before they became ready`;
}

/**
 * Deletes servers and waits until their pods are gone too (foreground deletion): the devices they held
 * are free when this returns, so the next wave — or a node-group scale-down — never races a dying pod.
 */
async function deleteServers(
  k: KubeClients,
  namespace: string,
  names: string[],
  timeoutMs = 300_000,
): Promise<void> {
  for (const name of names) {
    await deleteIfPresent(k, `deployment ${name}`, () =>
      k.apps.deleteNamespacedDeployment({ name, namespace, propagationPolicy: 'Foreground' }),
    );
    await deleteIfPresent(k, `service ${name}`, () => k.core.deleteNamespacedService({ name, namespace }));
    await deleteIfPresent(k, `configmap ${name}`, () =>
      k.core.deleteNamespacedConfigMap({ name, namespace }),
    );
  }
  const ctx = Context.current();
  const started = Date.now();
  let left = [...names];
  while (left.length > 0) {
    const still: string[] = [];
    for (const name of left) {
      const pods = await kubeCall(k, `list the pods of ${name}`, () =>
        k.core.listNamespacedPod({ namespace, labelSelector: `${SERVER}=${name}` }),
      );
      const deployment = await kubeCall(k, `read deployment ${name}`, () =>
        k.apps.readNamespacedDeployment({ name, namespace }).then(
          () => true,
          (err: unknown) => (statusOf(err) === 404 ? false : Promise.reject(err)),
        ),
      );
      if (deployment || pods.items.length > 0) still.push(name);
    }
    left = still;
    ctx.heartbeat({ deleting: left.length });
    if (left.length === 0) break;
    if (Date.now() - started > timeoutMs) {
      throw ApplicationFailure.retryable(
        `server(s) ${left.join(', ')} still have pods ${timeoutMs / 1000} s after deletion`,
        FailureType.KubernetesError,
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function rolledOut(d: V1Deployment): boolean {
  const want = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  return (
    (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) &&
    (s.updatedReplicas ?? 0) >= want &&
    (s.availableReplicas ?? 0) >= want &&
    (s.readyReplicas ?? 0) >= want &&
    (s.replicas ?? 0) === want // the replaced pod is gone too
  );
}

function deadlineExceeded(d: V1Deployment): boolean {
  return (
    d.status?.conditions?.some(
      (c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded',
    ) ?? false
  );
}

/**
 * Rollout building blocks for the `kubernetes` runtime (workflows/rollout-kubernetes.ts sequences them):
 * plan, server-side apply, ready-gating, rollback, publishing the routing table and garbage collection.
 * Each is idempotent — applying the same plan twice, deleting what is gone, restoring what is restored —
 * so Temporal may retry any of them.
 */
export function createApplyActivities(deps: KubernetesDeps | undefined, artifacts: ArtifactStore) {
  const loadPlan = (planKey: string) => artifacts.readJson<StoredPlan>(planKey);
  const clients = () => kubeClients(deps);

  return {
    /**
     * Renders the placement's manifests, compares them with what the fleet runs now and cuts the changed
     * servers into waves. Everything that would stop the rollout half-way is refused here, before any
     * object is applied. The plan (full manifests, snapshots for rollback) is saved under runs/<runId>/.
     */
    async planKubernetesRollout(input: PlanKubernetesRolloutInput): Promise<KubernetesRolloutPlan> {
      const { target } = input;
      const models = await servedModels(artifacts, input.traceBatches, target.artifactsRoot);
      let fleet;
      try {
        fleet = renderFleet(
          {
            fleet: target.fleet,
            namespace: target.namespace,
            placementId: input.placementId,
            images: target.images,
            nodeGroups: target.nodeGroups,
            progressDeadlineSeconds: target.progressDeadlineSeconds,
            cpuPerServer: target.cpuPerServer,
            artifactsRoot: target.artifactsRoot,
            fetchImage: target.fetchImage,
          },
          input.placement,
          models,
        );
      } catch (err) {
        if (err instanceof ManifestError)
          throw ApplicationFailure.nonRetryable(err.message, FailureType.InvalidInput);
        throw err;
      }
      const k = await clients();
      const { namespace } = target;
      const live = await kubeCall(k, `list the servers of fleet ${target.fleet} in ${namespace}`, () =>
        k.apps.listNamespacedDeployment({ namespace, labelSelector: serverSelector(target.fleet) }),
      );
      const routing = await kubeCall(k, `read the routing table of fleet ${target.fleet}`, () =>
        k.core.readNamespacedConfigMap({ name: routingConfigMapName(target.fleet), namespace }).then(
          (cm) => cm,
          (err: unknown) => {
            if (statusOf(err) === 404) return undefined;
            throw err;
          },
        ),
      );
      const diff = diffServers(
        live.items.map((d) => ({ name: d.metadata!.name!, specHash: d.metadata?.annotations?.[SPEC_HASH] })),
        fleet.servers,
      );
      const snapshots: KubeObject[] = [];
      for (const name of diff.respecced) {
        const deployment = live.items.find((d) => d.metadata?.name === name)!;
        snapshots.push(
          restorable({ ...deployment, apiVersion: 'apps/v1', kind: 'Deployment' } as unknown as KubeObject),
        );
        const service = await kubeCall(k, `read service ${name}`, () =>
          k.core.readNamespacedService({ name, namespace }).then(
            (s) => s,
            (err: unknown) => (statusOf(err) === 404 ? undefined : Promise.reject(err)),
          ),
        );
        const config = await kubeCall(k, `read configmap ${name}`, () =>
          k.core.readNamespacedConfigMap({ name, namespace }).then(
            (c) => c,
            (err: unknown) => (statusOf(err) === 404 ? undefined : Promise.reject(err)),
          ),
        );
        if (config) {
          const { metadata, data } = config;
          snapshots.push({
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name, namespace, labels: metadata?.labels, annotations: metadata?.annotations },
            data,
          });
        }
        if (service)
          snapshots.push(
            restorable({ ...service, apiVersion: 'v1', kind: 'Service' } as unknown as KubeObject),
          );
      }
      const previousPlacementId = routing?.metadata?.labels?.[PLACEMENT] ?? null;
      const plan: StoredPlan = {
        runId: input.runId,
        target,
        placementId: input.placementId,
        previousPlacementId,
        servers: fleet.servers,
        routingConfigMap: fleet.routingConfigMap,
        routingTable: fleet.routingTable,
        diff,
        snapshots,
      };
      const planKey = artifactKeys.run(input.runId, 'kubernetes-plan.json');
      await artifacts.writeJson(planKey, plan);
      return {
        planKey,
        placementId: input.placementId,
        previousPlacementId,
        diff,
        waves: waves(diff.changed, target.maxUnavailable),
        servers: fleet.servers.map(
          ({ name, instanceType, nodeGroup, instance, device, url, models: ids }) => ({
            name,
            instanceType,
            nodeGroup,
            instance,
            device,
            url,
            models: ids,
          }),
        ),
        routingTable: fleet.routingTable,
      };
    },

    /** Server-side applies the named servers' Deployments and Services (field manager `stowage`). */
    async applyServers(input: {
      planKey: string;
      names: string[];
    }): Promise<{ name: string; resourceVersion: string }[]> {
      const plan = await loadPlan(input.planKey);
      const k = await clients();
      await ensureNamespace(k, plan.target.namespace);
      const applied = [];
      for (const name of input.names) {
        const server = plan.servers.find((s) => s.name === name);
        if (!server)
          throw ApplicationFailure.nonRetryable(
            `server ${name} is not in plan ${input.planKey}`,
            FailureType.InvalidInput,
          );
        await apply(k, server.config);
        const deployment = await apply(k, server.deployment);
        await apply(k, server.service);
        applied.push({ name, resourceVersion: deployment.metadata.resourceVersion ?? '' });
      }
      return applied;
    },

    /**
     * Waits until every named Deployment has rolled out and its pod is Ready (the readiness probe on
     * /readyz), heartbeating as it goes. A Deployment past its progress deadline fails the wait at once,
     * with the reason its pods give (Unschedulable: "0/2 nodes are available: 2 Insufficient
     * aws.amazon.com/neuron", ImagePullBackOff, …); the workflow then rolls the wave back.
     */
    async waitServersReady(input: {
      planKey: string;
      names: string[];
    }): Promise<{ ready: string[]; seconds: number }> {
      // Heartbeats on a timer: a slow API call must not look like a dead worker.
      return heartbeating(async () => {
        const plan = await loadPlan(input.planKey);
        const k = await clients();
        const { namespace, progressDeadlineSeconds } = plan.target;
        const started = Date.now();
        // Backstop for a controller manager that never marks the deadline (it is down, say).
        const giveUpAt = started + (progressDeadlineSeconds + 120) * 1000;
        const ctx = Context.current();
        for (;;) {
          const ready: string[] = [];
          const stuck: string[] = [];
          for (const name of input.names) {
            const d = await kubeCall(k, `read deployment ${name}`, () =>
              k.apps.readNamespacedDeployment({ name, namespace }),
            );
            if (rolledOut(d)) ready.push(name);
            else if (deadlineExceeded(d)) stuck.push(name);
          }
          ctx.heartbeat({ ready: ready.length, of: input.names.length });
          if (ready.length === input.names.length) return { ready, seconds: (Date.now() - started) / 1000 };
          const timedOut = Date.now() > giveUpAt;
          if (stuck.length > 0 || timedOut) {
            const failing = stuck.length > 0 ? stuck : input.names.filter((n) => !ready.includes(n));
            const reasons = [];
            for (const name of failing) {
              const server = plan.servers.find((s) => s.name === name);
              reasons.push(
                `${name} (${server?.instanceType} on node group ${server?.nodeGroup}): ${await podProblems(k, namespace, name)}`,
              );
            }
            throw ApplicationFailure.nonRetryable(
              `${failing.length} server(s) not ready ${
                stuck.length > 0
                  ? `past their progress deadline (${progressDeadlineSeconds} s)`
                  : `after ${progressDeadlineSeconds + 120} s`
              }: ${reasons.join('; ')}`,
              FailureType.ServersNotReady,
            );
          }
          await new Promise((r) => setTimeout(r, 2000));
          ctx.cancellationSignal.throwIfAborted();
        }
      });
    },

    /**
     * Puts the named servers back as they were before this rollout: a server that existed with another
     * spec gets its previous Deployment and Service re-applied; a server this rollout created is deleted.
     */
    async rollbackServers(input: {
      planKey: string;
      names: string[];
    }): Promise<{ restored: string[]; deleted: string[] }> {
      // Heartbeats on a timer: a slow API call must not look like a dead worker.
      return heartbeating(async () => {
        const plan = await loadPlan(input.planKey);
        const k = await clients();
        const { namespace } = plan.target;
        const restored: string[] = [];
        const deleted: string[] = [];
        for (const name of input.names) {
          const previous = plan.snapshots.filter((s) => s.metadata.name === name);
          if (previous.length > 0) {
            for (const object of previous) await apply(k, object);
            restored.push(name);
            continue;
          }
          deleted.push(name);
        }
        await deleteServers(k, namespace, deleted);
        return { restored, deleted };
      });
    },

    /** Applies the fleet's routing ConfigMap: which Service serves which model, and the placement id. */
    async publishRoutingTable(input: {
      planKey: string;
    }): Promise<{ name: string; routes: number; key: string }> {
      const plan = await loadPlan(input.planKey);
      const k = await clients();
      await ensureNamespace(k, plan.target.namespace);
      await apply(k, plan.routingConfigMap);
      // Also as an artifact, like the local runtime's: runs/<rollout id>/routing.json.
      const key = artifactKeys.run(plan.runId, 'routing.json');
      await artifacts.writeJson(key, plan.routingTable);
      return { name: plan.routingConfigMap.metadata.name, routes: plan.routingTable.routes.length, key };
    },

    /**
     * Garbage collection after the new servers are ready: the fleet's servers labelled with another
     * placement that the new placement does not hold. Returns once their pods are gone. Servers kept across placements keep the label of
     * the placement that made them, so the name set decides, not the label alone.
     */
    async deleteRetiredServers(input: { planKey: string }): Promise<{ deleted: string[] }> {
      // Heartbeats on a timer: a slow API call must not look like a dead worker.
      return heartbeating(async () => {
        const plan = await loadPlan(input.planKey);
        const k = await clients();
        const { namespace, fleet } = plan.target;
        const keep = new Set(plan.servers.map((s) => s.name));
        const labelSelector = `${serverSelector(fleet)},${PLACEMENT}!=${plan.placementId}`;
        const [deployments, services, configs] = await Promise.all([
          kubeCall(k, 'list retired deployments', () =>
            k.apps.listNamespacedDeployment({ namespace, labelSelector }),
          ),
          kubeCall(k, 'list retired services', () =>
            k.core.listNamespacedService({ namespace, labelSelector }),
          ),
          kubeCall(k, 'list retired server configmaps', () =>
            k.core.listNamespacedConfigMap({ namespace, labelSelector }),
          ),
        ]);
        const deleted = [...deployments.items, ...services.items, ...configs.items]
          .map((o) => o.metadata!.name!)
          .filter((name, i, all) => !keep.has(name) && all.indexOf(name) === i)
          .sort();
        await deleteServers(k, namespace, deleted);
        return { deleted };
      });
    },
  };
}
