import fs from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { V1Job } from '@kubernetes/client-node';
import type { RoutingTable } from '../../src/domain/load-sweep';
import { COMPONENT, fleetLabels } from '../../src/kubernetes/labels';
import type { KubeObject } from '../../src/kubernetes/manifests';
import { jobName } from '../../src/kubernetes/names';
import { apply, ensureNamespace, kubeCall, type KubeClients } from './client';
import { FailureType } from '../../src/domain/failures';

/**
 * k6 as a Kubernetes Job next to the servers (the post tested in-cluster, away from ingress latency).
 * The scripts are the repository's own k6/*.ts, shipped in a ConfigMap and run by a stock k6 image (k6
 * ≥ 1.0 runs TypeScript natively); their handleSummary prints one JSON document on stdout, which is read
 * back from the pod's log. On a simulated (kwok) node no container runs, so there is no log and nothing
 * was measured: that is reported as such, never filled in.
 */

export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';
export const DEFAULT_K6_IMAGE = 'grafana/k6:1.4.2';
const SCRIPT_DIR = '/scripts';

export interface K6JobSpec {
  kind: 'smoke' | 'load';
  runId: string;
  /** Tells a run's Jobs apart (the step index, the wave). */
  discriminator: string;
  namespace: string;
  fleet: string;
  image: string;
  script: 'sequential.ts' | 'random.ts' | 'sweep.ts';
  env: Record<string, string>;
  routingTable: RoutingTable;
  activeDeadlineSeconds: number;
}

export type K6JobOutcome<T> =
  { kind: 'measured'; job: string; summary: T } | { kind: 'simulated'; job: string; node: string };

/** ConfigMap keys cannot hold "/": lib/routing.ts travels as lib.routing.ts and is mounted back. */
const keyOf = (file: string) => file.replace(/\//g, '.');

export async function k6Scripts(root: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const dir of ['', 'lib']) {
    for (const name of await fs.readdir(path.join(root, 'k6', dir))) {
      if (!name.endsWith('.ts')) continue;
      const file = dir ? `${dir}/${name}` : name;
      files[file] = await fs.readFile(path.join(root, 'k6', file), 'utf8');
    }
  }
  return files;
}

export function k6JobManifests(
  spec: K6JobSpec,
  scripts: Record<string, string>,
): { configMap: KubeObject; job: KubeObject } {
  const name = jobName(spec.kind, spec.runId, spec.discriminator);
  const labels = {
    ...fleetLabels(spec.fleet),
    [COMPONENT]: spec.kind === 'smoke' ? 'smoke-test' : 'load-test',
  };
  const annotations = { 'stowage.dev/run': spec.runId };
  const files = { ...scripts, 'routing.json': JSON.stringify(spec.routingTable) };
  const configMap: KubeObject = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: spec.namespace, labels, annotations },
    data: Object.fromEntries(Object.entries(files).map(([file, text]) => [keyOf(file), text])),
  };
  const job: KubeObject = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: spec.namespace, labels, annotations },
    spec: {
      // One attempt: a retried load step must be a new measurement the workflow asked for, not k8s's.
      backoffLimit: 0,
      activeDeadlineSeconds: spec.activeDeadlineSeconds,
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'k6',
              image: spec.image,
              args: ['run', '--quiet', '--no-usage-report', '--no-color', `${SCRIPT_DIR}/${spec.script}`],
              env: Object.entries({
                ...spec.env,
                ROUTING_TABLE: `${SCRIPT_DIR}/routing.json`,
                K6_NO_USAGE_REPORT: 'true',
              }).map(([k, value]) => ({ name: k, value })),
              volumeMounts: [{ name: 'scripts', mountPath: SCRIPT_DIR, readOnly: true }],
              resources: { requests: { cpu: '1', memory: '512Mi' }, limits: { memory: '2Gi' } },
            },
          ],
          volumes: [
            {
              name: 'scripts',
              configMap: {
                name,
                items: Object.keys(files).map((file) => ({ key: keyOf(file), path: file })),
              },
            },
          ],
        },
      },
    },
  };
  return { configMap, job };
}

function finished(job: V1Job): 'succeeded' | 'failed' | undefined {
  const conditions = job.status?.conditions ?? [];
  if (
    conditions.some((c) => c.type === 'Complete' && c.status === 'True') ||
    (job.status?.succeeded ?? 0) > 0
  )
    return 'succeeded';
  if (conditions.some((c) => c.type === 'Failed' && c.status === 'True') || (job.status?.failed ?? 0) > 0)
    return 'failed';
  return undefined;
}

/** The last line of a log that parses as JSON: what handleSummary printed. */
export function lastJson<T>(log: string): T | undefined {
  for (const line of log.trim().split('\n').reverse()) {
    try {
      return JSON.parse(line) as T;
    } catch {
      /* k6 or the shell printed something else */
    }
  }
  return undefined;
}

/** Applies the Job (idempotent: a retried activity finds its Job and reads its result), waits, collects. */
export async function runK6Job<T>(
  clients: KubeClients,
  spec: K6JobSpec,
  scripts: Record<string, string>,
): Promise<K6JobOutcome<T>> {
  const { configMap, job } = k6JobManifests(spec, scripts);
  const name = job.metadata.name;
  const { namespace } = spec;
  await ensureNamespace(clients, namespace);
  await apply(clients, configMap);
  await apply(clients, job);
  const ctx = Context.current();
  const started = Date.now();
  let state: 'succeeded' | 'failed' | undefined;
  for (;;) {
    const live = await kubeCall(clients, `read job ${name}`, () =>
      clients.batch.readNamespacedJob({ name, namespace }),
    );
    state = finished(live);
    ctx.heartbeat({ job: name, elapsedMs: Date.now() - started });
    if (state) break;
    if (Date.now() - started > (spec.activeDeadlineSeconds + 60) * 1000) {
      throw ApplicationFailure.nonRetryable(
        `k6 job ${name} did not finish within ${spec.activeDeadlineSeconds + 60} s`,
        FailureType.LoadJobFailed,
      );
    }
    await new Promise((r) => setTimeout(r, 2000));
    ctx.cancellationSignal.throwIfAborted();
  }
  const pods = await kubeCall(clients, `list the pods of job ${name}`, () =>
    clients.core.listNamespacedPod({ namespace, labelSelector: `batch.kubernetes.io/job-name=${name}` }),
  );
  const pod = pods.items[0];
  const nodeName = pod?.spec?.nodeName;
  if (!pod || !nodeName) {
    throw ApplicationFailure.nonRetryable(
      `k6 job ${name} ${state} without a scheduled pod`,
      FailureType.LoadJobFailed,
    );
  }
  const node = await kubeCall(clients, `read node ${nodeName}`, () =>
    clients.core.readNode({ name: nodeName }),
  );
  if (node.metadata?.annotations?.[KWOK_NODE_ANNOTATION] !== undefined) {
    return { kind: 'simulated', job: name, node: nodeName };
  }
  const log = await kubeCall(clients, `read the log of ${pod.metadata!.name}`, () =>
    clients.core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace, container: 'k6' }),
  );
  const summary = lastJson<T>(String(log));
  // k6 exits 99 when a threshold is crossed (the smoke test's checks): its summary is still the result.
  if (summary === undefined) {
    throw ApplicationFailure.nonRetryable(
      `k6 job ${name} ${state} without a summary: ${String(log).trim().split('\n').slice(-5).join(' | ')}`,
      FailureType.LoadJobFailed,
    );
  }
  return { kind: 'measured', job: name, summary };
}
