import fs from 'node:fs';
import path from 'node:path';
import { ManagedChild, waitUntil } from '../child';
import { freePort } from '../ports';
import type { ClusterCredentials } from './credentials';
import { probe } from './probe';

/**
 * The controllers Deployments, Services, Jobs, drains and namespace clean-up need, and nothing else (each
 * idle controller still lists and watches). Not run: node IPAM, routes, cloud, volumes, certificates,
 * taint-based eviction (a simulated node never fails on its own).
 */
export const CONTROLLERS = [
  // Lifts the not-ready taint admission puts on every new node once kwok reports it Ready (kwok renews
  // the node leases this controller watches).
  'node-lifecycle-controller',
  'serviceaccount-controller',
  'namespace-controller',
  'garbage-collector-controller',
  'deployment-controller',
  'replicaset-controller',
  'endpoints-controller',
  'endpointslice-controller',
  'job-controller',
  'ttl-after-finished-controller',
  'pod-garbage-collector-controller',
  // Computes PodDisruptionBudget status, without which every eviction (a node-group drain) is refused.
  'disruption-controller',
];

const SERVICE_CIDR = '10.96.0.0/16';

async function started(
  child: ManagedChild,
  what: string,
  ready: () => Promise<boolean>,
): Promise<ManagedChild> {
  try {
    await waitUntil(what, ready, { timeoutMs: 120_000, child, intervalMs: 300 });
    return child;
  } catch (err) {
    await child.stop(2000);
    throw err;
  }
}

export interface ApiServer {
  child: ManagedChild;
  url: string;
  /** The self-signed serving certificate (with its CA) that kubeconfigs trust. */
  caFile: string;
}

/**
 * kube-apiserver on 127.0.0.1 with a serving certificate it generates itself (--cert-dir), static
 * tokens for authentication, Node and RBAC authorization and the default admission plugins.
 */
export async function startApiServer(options: {
  binary: string;
  etcdUrl: string;
  credentials: ClusterCredentials;
  certDir: string;
  logFile: string;
  /** Called as soon as the process exists, so that it is on record before it is ready. */
  onSpawn?: (child: ManagedChild) => void;
}): Promise<ApiServer> {
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const certDir = path.resolve(options.certDir);
  fs.mkdirSync(certDir, { recursive: true, mode: 0o700 });
  const { credentials } = options;
  const child = ManagedChild.spawn(
    'kube-apiserver',
    options.binary,
    [
      `--etcd-servers=${options.etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${port}`,
      `--cert-dir=${certDir}`,
      `--token-auth-file=${credentials.tokenFile}`,
      '--anonymous-auth=false',
      '--authorization-mode=Node,RBAC',
      `--service-account-key-file=${credentials.serviceAccountPub}`,
      `--service-account-signing-key-file=${credentials.serviceAccountKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--allow-privileged=false',
      // The `kubernetes` Service cannot point at a loopback address, and nothing in the cluster dials it.
      '--endpoint-reconciler-type=none',
      '--profiling=false',
      '--v=1',
    ],
    { logFile: options.logFile },
  );
  options.onSpawn?.(child);
  await started(child, `kube-apiserver ${url} to be ready`, () =>
    probe(`${url}/readyz`, { token: credentials.tokens.admin }),
  );
  return { child, url, caFile: path.join(certDir, 'apiserver.crt') };
}

/** A component with its own (self-signed, in-memory) secure port whose /healthz needs no credentials. */
async function startComponent(
  name: string,
  binary: string,
  args: string[],
  logFile: string,
  onSpawn?: (child: ManagedChild) => void,
): Promise<ManagedChild> {
  const port = await freePort();
  const child = ManagedChild.spawn(
    name,
    binary,
    [
      ...args,
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      '--leader-elect=false',
      '--profiling=false',
      '--v=1',
    ],
    { logFile },
  );
  onSpawn?.(child);
  return started(child, `${name} to be healthy`, () => probe(`https://127.0.0.1:${port}/healthz`));
}

export function startControllerManager(options: {
  binary: string;
  kubeconfig: string;
  logFile: string;
  onSpawn?: (child: ManagedChild) => void;
}): Promise<ManagedChild> {
  return startComponent(
    'kube-controller-manager',
    options.binary,
    [
      `--kubeconfig=${options.kubeconfig}`,
      // Each controller acts as its own service account, so RBAC sees what the real ones do.
      '--use-service-account-credentials=true',
      `--controllers=${CONTROLLERS.join(',')}`,
      // A starved kwok on a busy CI machine may renew leases late: that is no reason to declare nodes lost.
      '--node-monitor-grace-period=2m',
    ],
    options.logFile,
    options.onSpawn,
  );
}

export function startScheduler(options: {
  binary: string;
  kubeconfig: string;
  logFile: string;
  onSpawn?: (child: ManagedChild) => void;
}): Promise<ManagedChild> {
  return startComponent(
    'kube-scheduler',
    options.binary,
    [`--kubeconfig=${options.kubeconfig}`],
    options.logFile,
    options.onSpawn,
  );
}
