import fs from 'node:fs';
import path from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../logging';
import type { ManagedChild } from '../child';
import { ProcessRegistry } from '../process-registry';
import { kubeBinaries } from './binaries';
import { startApiServer, startControllerManager, startScheduler } from './control-plane';
import { IDENTITIES, type Identity, writeCredentials, writeKubeconfig } from './credentials';
import { startEtcd } from './etcd';
import { startKwok } from './kwok';
import { type NodeGroupSpec, NodeGroupSpecSchema, reconcileNodeGroup } from './node-groups';
import { reapOrphans, registryFile } from './orphans';

export interface KubeClusterOptions {
  /** This cluster's folder: etcd data, certificates, kubeconfigs, kwok's stages and logs/. */
  stateDir: string;
  /** Where setup put kube-apiserver, kube-controller-manager, kube-scheduler and kwok. */
  toolsBin: string;
  logger?: Logger;
  /** Where process records live, so a later start reaps what a killed run left; default stateDir. */
  registryDir?: string;
  /** How long node-group changes may take to settle; default 2 minutes (the CI machine is shared). */
  nodeTimeoutMs?: number;
}

/**
 * A real Kubernetes control plane on loopback (etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler) whose nodes are simulated by kwok: Deployments schedule, roll out and become Available
 * on node groups labelled as EKS labels them, without a container ever running.
 */
export class KubeCluster {
  private readonly groups = new Map<string, NodeGroupSpec>();
  private stopped = false;

  private constructor(
    private readonly options: KubeClusterOptions,
    private readonly registry: ProcessRegistry,
    private readonly recordFile: string,
    private readonly children: ManagedChild[],
    /** Admin kubeconfig (system:masters) for tests and for Stowage's activities. */
    readonly kubeconfigPath: string,
    readonly server: string,
    /** Wall time from start() to a cluster ready for node groups. */
    readonly startMs: number,
  ) {}

  static async start(options: KubeClusterOptions): Promise<KubeCluster> {
    const began = Date.now();
    const logger = options.logger;
    const stateDir = path.resolve(options.stateDir);
    const logDir = path.join(stateDir, 'logs');
    const binaries = kubeBinaries(options.toolsBin);
    const registryDir = options.registryDir ?? stateDir;
    for (const orphan of reapOrphans(registryDir)) {
      logger?.warn({ orphan }, 'reaped a cluster process left by an earlier run');
    }
    // Every start is a fresh cluster: yesterday's objects and certificates must not leak into a test.
    for (const dir of ['etcd', 'pki', 'kubeconfig', 'kwok']) {
      fs.rmSync(path.join(stateDir, dir), { recursive: true, force: true });
    }
    const recordFile = registryFile(registryDir);
    const registry = new ProcessRegistry(recordFile);
    const children: ManagedChild[] = [];
    // Recorded the moment it exists, so that a run killed mid-start leaves nothing unrecorded. The state
    // folder's path is in every child's command line: a pid is only reaped while it still is.
    const track = (role: string) => (child: ManagedChild) => {
      children.push(child);
      registry.add({ pid: child.pid, role, marker: stateDir });
    };
    try {
      const etcd = await startEtcd({
        binary: binaries.etcd,
        dataDir: path.join(stateDir, 'etcd'),
        logFile: path.join(logDir, 'etcd.log'),
        onSpawn: track('etcd'),
      });
      const credentials = writeCredentials(path.join(stateDir, 'pki'));
      const apiServer = await startApiServer({
        binary: binaries.apiserver,
        etcdUrl: etcd.clientUrl,
        credentials,
        certDir: path.join(stateDir, 'pki', 'apiserver'),
        logFile: path.join(logDir, 'kube-apiserver.log'),
        onSpawn: track('kube-apiserver'),
      });
      const kubeconfig = (id: Identity) => {
        const file = path.join(stateDir, 'kubeconfig', `${id}.yaml`);
        fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
        writeKubeconfig(file, {
          server: apiServer.url,
          caFile: apiServer.caFile,
          user: IDENTITIES[id].user,
          token: credentials.tokens[id],
        });
        return file;
      };
      logger?.info({ server: apiServer.url }, 'kube-apiserver ready');
      // The three clients only need the API server: they start side by side.
      const results = await Promise.allSettled([
        startControllerManager({
          binary: binaries.controllerManager,
          kubeconfig: kubeconfig('controllerManager'),
          logFile: path.join(logDir, 'kube-controller-manager.log'),
          onSpawn: track('kube-controller-manager'),
        }),
        startScheduler({
          binary: binaries.scheduler,
          kubeconfig: kubeconfig('scheduler'),
          logFile: path.join(logDir, 'kube-scheduler.log'),
          onSpawn: track('kube-scheduler'),
        }),
        startKwok({
          binary: binaries.kwok,
          kubeconfig: kubeconfig('kwok'),
          workDir: path.join(stateDir, 'kwok'),
          logFile: path.join(logDir, 'kwok.log'),
          onSpawn: track('kwok'),
        }),
      ]);
      for (const result of results) {
        if (result.status === 'rejected') throw result.reason;
      }
      const cluster = new KubeCluster(
        options,
        registry,
        recordFile,
        children,
        kubeconfig('admin'),
        apiServer.url,
        Date.now() - began,
      );
      logger?.info({ server: apiServer.url, startMs: cluster.startMs }, 'Kubernetes test cluster ready');
      return cluster;
    } catch (err) {
      await stopAll(children, registry);
      fs.rmSync(recordFile, { force: true });
      throw err;
    }
  }

  /** A client configuration for the admin kubeconfig. */
  kubeConfig(): KubeConfig {
    const config = new KubeConfig();
    config.loadFromFile(this.kubeconfigPath);
    return config;
  }

  /** Creates a group's nodes and resolves once kwok reports every one Ready. */
  async addNodeGroup(spec: NodeGroupSpec): Promise<void> {
    const parsed = NodeGroupSpecSchema.parse(spec);
    if (this.groups.has(parsed.name)) throw new Error(`node group ${parsed.name} already exists`);
    this.groups.set(parsed.name, parsed);
    await reconcileNodeGroup(this.core(), parsed, this.nodeTimeoutMs);
  }

  /** Grows (new nodes Ready) or shrinks (nodes drained, then deleted) a group to count nodes. */
  async scaleNodeGroup(name: string, count: number): Promise<void> {
    const group = this.groups.get(name);
    if (!group)
      throw new Error(`no node group named ${name}; known: ${[...this.groups.keys()].join(', ') || 'none'}`);
    const parsed = NodeGroupSpecSchema.parse({ ...group, count });
    this.groups.set(name, parsed);
    await reconcileNodeGroup(this.core(), parsed, this.nodeTimeoutMs);
  }

  nodeGroups(): NodeGroupSpec[] {
    return [...this.groups.values()];
  }

  /** Pids of the cluster's processes, for tests that check nothing is left running. */
  pids(): number[] {
    return this.children.map((c) => c.pid);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await stopAll(this.children, this.registry);
    fs.rmSync(this.recordFile, { force: true });
    this.options.logger?.info({ server: this.server }, 'Kubernetes test cluster stopped');
  }

  private get nodeTimeoutMs(): number {
    return this.options.nodeTimeoutMs ?? 120_000;
  }

  private core(): CoreV1Api {
    return this.kubeConfig().makeApiClient(CoreV1Api);
  }
}

/** Clients first (kwok, scheduler, controller manager together), then the API server, etcd last. */
async function stopAll(children: ManagedChild[], registry: ProcessRegistry): Promise<void> {
  const byRole = [...children].reverse();
  const clients = byRole.filter((c) => !['etcd', 'kube-apiserver'].includes(c.name));
  await Promise.all(clients.map((c) => c.stop(5000)));
  for (const child of byRole.filter((c) => !clients.includes(c))) await child.stop(10_000);
  for (const child of children) registry.remove(child.pid);
}
