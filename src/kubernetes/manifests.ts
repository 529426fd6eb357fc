import type { Processor } from '../domain/task-queues';
import type { RoutingTable } from '../domain/load-sweep';
import {
  COMPONENT,
  DEVICE_RESOURCE,
  FLEET,
  fleetLabels,
  INSTANCE_TYPE_ANNOTATION,
  INSTANCE_TYPE_LABEL,
  MANAGED_BY,
  MANAGER,
  MODEL_COUNT,
  NODE_GROUP_LABEL,
  PLACEMENT,
  SERVER,
  SPEC_HASH,
} from './labels';
import { routingConfigMapName, serverName, stableHash } from './names';
import { chooseServerSettings, serverSettingsArgs, type ServerSettings } from '../domain/server-settings';

/**
 * Manifests of a placement on Kubernetes: per packed device in use one model server —
 * a Deployment pinned to its node group and instance type, asking for one accelerator device and the
 * memory its models need, ready when `/readyz` answers — and a Service in front of it; one ConfigMap with
 * the fleet's routing table. Pure: the same inputs always give the same objects, byte for byte, which is
 * what makes server-side apply a no-op for servers that did not change.
 */

export const SERVER_PORT = 8080;
/** What the server process itself needs besides its models' weights (Python, torch, the HTTP stack). */
export const SERVER_OVERHEAD_GIB = 0.5;
/** Where the model-server image reads its model list (images/server/Containerfile's CMD). */
export const MODELS_FILE = '/etc/stowage/models.json';
/** Where the init container puts each model's artifact folder, pulled from the artifact store. */
export const MODELS_DIR = '/var/stowage/models';
/** Image of the init container that pulls the models (any image with the AWS CLI and a shell). */
export const DEFAULT_FETCH_IMAGE = 'public.ecr.aws/aws-cli/aws-cli:2.22.0';

/**
 * Pulls every model of the server (artifacts.tsv: "<modelId> <uri>" lines) into MODELS_DIR before the
 * server starts: the models come from S3 at start-up, as in the post, and the pod is Ready only once the
 * server has loaded them (/readyz).
 */
const FETCH_SCRIPT = [
  'set -eu',
  'while read -r id uri; do',
  `  aws s3 cp --recursive --only-show-errors "$uri" "${MODELS_DIR}/$id/"`,
  'done < /etc/stowage/artifacts.tsv',
].join('\n');

export interface NodeGroupTarget {
  /** The EKS node group (its nodes carry eks.amazonaws.com/nodegroup=<name>). */
  name: string;
  instanceType: string;
  processor: Processor;
}

/** What a server needs to know of one model: where its traced artifact is, how much memory it takes. */
export interface ServedModel {
  id: string;
  /** Artifact URI of the traced model's folder (s3://…/models/<id>/<processor>/<traceKey>/). */
  uri: string;
  memoryGiB: number;
  hostMemoryGiB?: number;
}

export interface FleetSpec {
  fleet: string;
  namespace: string;
  placementId: string;
  /** Model-server image per processor, from the build stage. */
  images: Partial<Record<Processor, string>>;
  nodeGroups: NodeGroupTarget[];
  progressDeadlineSeconds: number;
  /** CPU request per server (Kubernetes quantity); accelerator servers mostly wait on their device. */
  cpuPerServer?: string;
  artifactsRoot: string;
  fetchImage?: string;
}

export interface DeviceLayoutInput {
  instances: { type: string; devices: string[][] }[];
}

/** A Kubernetes object as plain JSON (what the apply sends). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    /** Set by the API server on what it returns; never sent. */
    resourceVersion?: string;
  };
  [field: string]: unknown;
}

export interface ServerPlan {
  name: string;
  instanceType: string;
  nodeGroup: string;
  processor: Processor;
  /** Position in the placement: instance index and device index (for reports and rollout progress). */
  instance: number;
  device: number;
  models: string[];
  /** Hash of everything but the placement label: equal hashes mean the apply would change nothing. */
  specHash: string;
  url: string;
  /** ConfigMap named as the server: its model list (models.json) and where each model comes from. */
  config: KubeObject;
  deployment: KubeObject;
  service: KubeObject;
}

export interface RenderedFleet {
  servers: ServerPlan[];
  routingTable: RoutingTable;
  routingConfigMap: KubeObject;
}

export class ManifestError extends Error {
  override name = 'ManifestError';
}

/** Kubernetes memory quantity in Mi, rounded up so a server never gets less than its models need. */
export function memoryQuantity(gib: number): string {
  return `${Math.ceil(gib * 1024)}Mi`;
}

export function serviceUrl(name: string, namespace: string): string {
  return `http://${name}.${namespace}.svc.cluster.local:${SERVER_PORT}`;
}

/** Whole cores of a CPU quantity ("2", "1.5", "500m"), at least one. */
export function wholeCores(quantity: string): number {
  const cores = quantity.endsWith('m') ? Number(quantity.slice(0, -1)) / 1000 : Number(quantity);
  return Math.max(1, Math.floor(Number.isFinite(cores) ? cores : 1));
}

/** The server's workers and threads for the cores its pod requests (src/domain/server-settings.ts). */
function podServerSettings(spec: FleetSpec, group: NodeGroupTarget): ServerSettings {
  return chooseServerSettings({
    processor: group.processor,
    cores: wholeCores(spec.cpuPerServer ?? '1'),
    heaviestForwardMs: null,
    sloP90Ms: 0,
  });
}

function renderServer(
  spec: FleetSpec,
  group: NodeGroupTarget,
  instance: number,
  device: number,
  models: ServedModel[],
): ServerPlan {
  const ids = models.map((m) => m.id);
  const name = serverName(spec.fleet, group.instanceType, ids);
  const image = spec.images[group.processor];
  if (!image) {
    throw new ManifestError(`no model-server image was built for processor ${group.processor}`);
  }
  const resource = DEVICE_RESOURCE[group.processor];
  const memory = memoryQuantity(
    models.reduce((sum, m) => sum + (m.hostMemoryGiB ?? m.memoryGiB), 0) + SERVER_OVERHEAD_GIB,
  );
  const podLabels = {
    [MANAGED_BY]: MANAGER,
    [FLEET]: spec.fleet,
    [SERVER]: name,
    [COMPONENT]: 'model-server',
  };
  const labels = { ...fleetLabels(spec.fleet), [COMPONENT]: 'model-server', [SERVER]: name };
  const annotations = {
    [INSTANCE_TYPE_ANNOTATION]: group.instanceType,
    [MODEL_COUNT]: String(models.length),
  };
  const deployment: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: spec.namespace, labels, annotations },
    spec: {
      replicas: 1,
      revisionHistoryLimit: 2,
      progressDeadlineSeconds: spec.progressDeadlineSeconds,
      selector: { matchLabels: { [FLEET]: spec.fleet, [SERVER]: name } },
      // One replica holding one device: the replacement pod starts (surge) before the old one goes, so a
      // re-specced server keeps serving; a node group sized without room for the surge shows as a
      // progress-deadline failure, which rolls the wave back.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        // No placement label on pods: a server kept across placements must not restart for a label.
        metadata: { labels: podLabels },
        spec: {
          nodeSelector: { [NODE_GROUP_LABEL]: group.name, [INSTANCE_TYPE_LABEL]: group.instanceType },
          ...(resource ? { tolerations: [{ key: resource, operator: 'Exists', effect: 'NoSchedule' }] } : {}),
          terminationGracePeriodSeconds: 30,
          volumes: [
            { name: 'config', configMap: { name } },
            { name: 'models', emptyDir: {} },
          ],
          initContainers: [
            {
              name: 'fetch-models',
              image: spec.fetchImage ?? DEFAULT_FETCH_IMAGE,
              command: ['sh', '-c', FETCH_SCRIPT],
              env: [{ name: 'STOWAGE_ARTIFACTS_ROOT', value: spec.artifactsRoot }],
              volumeMounts: [
                {
                  name: 'config',
                  mountPath: '/etc/stowage/artifacts.tsv',
                  subPath: 'artifacts.tsv',
                  readOnly: true,
                },
                { name: 'models', mountPath: MODELS_DIR },
              ],
              resources: { requests: { cpu: '250m', memory: '256Mi' } },
            },
          ],
          containers: [
            {
              name: 'model-server',
              image,
              ports: [{ name: 'http', containerPort: SERVER_PORT, protocol: 'TCP' }],
              args: ['--models', MODELS_FILE, ...serverSettingsArgs(podServerSettings(spec, group))],
              env: [
                { name: 'STOWAGE_SERVER', value: name },
                { name: 'STOWAGE_PROCESSOR', value: group.processor },
              ],
              volumeMounts: [
                { name: 'config', mountPath: MODELS_FILE, subPath: 'models.json', readOnly: true },
                { name: 'models', mountPath: MODELS_DIR, readOnly: true },
              ],
              resources: {
                requests: {
                  cpu: spec.cpuPerServer ?? '1',
                  memory,
                  ...(resource ? { [resource]: '1' } : {}),
                },
                limits: { memory, ...(resource ? { [resource]: '1' } : {}) },
              },
              readinessProbe: {
                httpGet: { path: '/readyz', port: 'http' },
                periodSeconds: 5,
                timeoutSeconds: 2,
                failureThreshold: 3,
              },
            },
          ],
        },
      },
    },
  };
  const service: KubeObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: spec.namespace, labels, annotations },
    spec: {
      type: 'ClusterIP',
      selector: { [FLEET]: spec.fleet, [SERVER]: name },
      ports: [{ name: 'http', port: SERVER_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
  const config: KubeObject = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: spec.namespace, labels, annotations },
    data: {
      // The model server's own format (python-tracer serving: {"models":[{"modelId","path"}]}).
      'models.json': JSON.stringify({
        models: models.map((m) => ({ modelId: m.id, path: `${MODELS_DIR}/${m.id}` })),
      }),
      'artifacts.tsv': models.map((m) => `${m.id} ${m.uri}\n`).join(''),
    },
  };
  const specHash = stableHash(JSON.stringify([config, deployment, service]), 12);
  for (const object of [config, deployment, service]) {
    object.metadata.labels = { ...labels, [PLACEMENT]: spec.placementId };
    object.metadata.annotations = { ...annotations, [SPEC_HASH]: specHash };
  }
  return {
    name,
    instanceType: group.instanceType,
    nodeGroup: group.name,
    processor: group.processor,
    instance,
    device,
    models: ids,
    specHash,
    url: serviceUrl(name, spec.namespace),
    config,
    deployment,
    service,
  };
}

/** ConfigMap data is capped at 1 MiB by the API server; stay clear of it. */
export const MAX_ROUTING_BYTES = 900 * 1024;

export function routingConfigMap(spec: FleetSpec, table: RoutingTable, servers: ServerPlan[]): KubeObject {
  const routing = JSON.stringify(table);
  const placement = JSON.stringify({
    placementId: spec.placementId,
    servers: servers.map((s) => ({ name: s.name, instanceType: s.instanceType, specHash: s.specHash })),
  });
  if (routing.length + placement.length > MAX_ROUTING_BYTES) {
    throw new ManifestError(
      `the routing table of ${table.routes.length} models (${routing.length} bytes) does not fit one ConfigMap`,
    );
  }
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: routingConfigMapName(spec.fleet),
      namespace: spec.namespace,
      labels: { ...fleetLabels(spec.fleet), [COMPONENT]: 'routing', [PLACEMENT]: spec.placementId },
    },
    data: { 'routing.json': routing, 'placement.json': placement },
  };
}

/**
 * Renders a served placement (idle devices already removed). Every problem that would make the rollout
 * fail half-way — a type without a node group, a model without an artifact, a processor without an
 * image — is found here, before anything is applied.
 */
export function renderFleet(
  spec: FleetSpec,
  layout: DeviceLayoutInput,
  models: ReadonlyMap<string, ServedModel>,
): RenderedFleet {
  const groups = new Map(spec.nodeGroups.map((g) => [g.instanceType, g]));
  const problems = new Set<string>();
  for (const { type } of layout.instances) {
    if (!groups.has(type)) {
      problems.add(
        `instance type ${type} has no node group (kubernetes.nodeGroups maps ${
          [...groups.keys()].join(', ') || 'none'
        })`,
      );
    }
  }
  const missing = layout.instances.flatMap((i) => i.devices.flat()).filter((id) => !models.has(id));
  if (missing.length > 0) {
    problems.add(`no traced artifact for model(s) ${missing.slice(0, 10).join(', ')}`);
  }
  if (problems.size > 0) throw new ManifestError([...problems].join('; '));

  const servers: ServerPlan[] = [];
  layout.instances.forEach((inst, i) => {
    inst.devices.forEach((ids, d) => {
      if (ids.length === 0) return;
      servers.push(
        renderServer(
          spec,
          groups.get(inst.type)!,
          i,
          d,
          ids.map((id) => models.get(id)!),
        ),
      );
    });
  });
  const names = new Set<string>();
  for (const s of servers) {
    if (names.has(s.name)) throw new ManifestError(`two servers would be named ${s.name}`);
    names.add(s.name);
  }
  const routingTable: RoutingTable = {
    routes: servers.flatMap((s) => s.models.map((modelId) => ({ modelId, url: s.url }))),
  };
  return { servers, routingTable, routingConfigMap: routingConfigMap(spec, routingTable, servers) };
}
