import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  type V1Deployment,
  type V1Pod,
} from '@kubernetes/client-node';
import { projectPaths } from '../../src/config/paths';
import { waitUntil } from '../../src/dev/child';
import type { KubeCluster } from '../../src/dev/kube/cluster';
import { INSTANCE_TYPE_LABEL, NODE_GROUP_LABEL } from '../../src/dev/kube/node-groups';
import { reapOrphans } from '../../src/dev/kube/orphans';
import { stopTestKube, testKube } from '../support/kube';
import { isAlive } from '../support/processes';

const NAMESPACE = 'kube-cluster-test';
const NEURON = 'aws.amazon.com/neuron';
// EKS figures for the two instance types: allocatable after the kubelet's reservation, max pods per ENI
// limits, and the Neuron device plugin's count of Inferentia chips (4 on an inf1.6xlarge).
const INF1 = {
  name: 'inf1-6xlarge',
  instanceType: 'inf1.6xlarge',
  count: 2,
  allocatable: { cpu: '23870m', memory: '45Gi', pods: 234, [NEURON]: 4 },
};
const G4DN = {
  name: 'g4dn-xlarge',
  instanceType: 'g4dn.xlarge',
  count: 1,
  allocatable: { cpu: '3920m', memory: '14Gi', pods: 29, 'nvidia.com/gpu': 1 },
};
const C5 = {
  name: 'c5-xlarge',
  instanceType: 'c5.xlarge',
  count: 2,
  allocatable: { cpu: '3920m', memory: '6900Mi', pods: 58 },
};

function deployment(
  name: string,
  group: { name: string; instanceType: string },
  replicas: number,
  requests: Record<string, string>,
): V1Deployment {
  const labels = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/managed-by': 'stowage' };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NAMESPACE, labels },
    spec: {
      replicas,
      selector: { matchLabels: { 'app.kubernetes.io/name': name } },
      template: {
        metadata: { labels },
        spec: {
          nodeSelector: { [NODE_GROUP_LABEL]: group.name, [INSTANCE_TYPE_LABEL]: group.instanceType },
          containers: [
            {
              name: 'server',
              image: 'registry.invalid/model-server:test',
              resources: { requests, limits: requests },
            },
          ],
        },
      },
    },
  };
}

describe('Kubernetes test cluster (real apiserver, controllers and scheduler; kwok node groups)', function () {
  this.timeout(600_000);
  let cluster: KubeCluster;
  let objects: KubernetesObjectApi;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let batch: BatchV1Api;

  const apply = <T extends KubernetesObject>(object: T) =>
    objects.patch(object, undefined, undefined, 'stowage', true, PatchStrategy.ServerSideApply);
  const pods = async (name: string): Promise<V1Pod[]> =>
    (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: `app.kubernetes.io/name=${name}` }))
      .items;
  const unschedulable = (pod: V1Pod) =>
    pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False')?.reason ===
    'Unschedulable';
  const available = async (name: string, replicas: number) => {
    const status = (await apps.readNamespacedDeployment({ name, namespace: NAMESPACE })).status;
    return (
      status?.readyReplicas === replicas &&
      status.availableReplicas === replicas &&
      (status.conditions ?? []).some((c) => c.type === 'Available' && c.status === 'True')
    );
  };
  const wait = (what: string, check: () => Promise<boolean>) =>
    waitUntil(what, check, { timeoutMs: 180_000, intervalMs: 500 });

  before(async () => {
    cluster = await testKube();
    console.log(`      cluster start: ${(cluster.startMs / 1000).toFixed(1)} s`);
    const began = Date.now();
    await Promise.all([cluster.addNodeGroup(INF1), cluster.addNodeGroup(C5), cluster.addNodeGroup(G4DN)]);
    console.log(`      3 node groups (5 nodes) Ready: ${((Date.now() - began) / 1000).toFixed(1)} s`);
    const config = cluster.kubeConfig();
    objects = KubernetesObjectApi.makeApiClient(config);
    core = config.makeApiClient(CoreV1Api);
    apps = config.makeApiClient(AppsV1Api);
    batch = config.makeApiClient(BatchV1Api);
    await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });
  });

  it('node groups carry EKS labels and their instance type’s allocatable devices', async () => {
    const nodes = (await core.listNode({ labelSelector: `${NODE_GROUP_LABEL}=${INF1.name}` })).items;
    assert.deepEqual(nodes.map((n) => n.metadata?.name).sort(), ['inf1-6xlarge-0', 'inf1-6xlarge-1']);
    for (const node of nodes) {
      assert.equal(node.metadata?.labels?.[INSTANCE_TYPE_LABEL], 'inf1.6xlarge');
      assert.equal(node.status?.allocatable?.[NEURON], '4');
      assert.ok(node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    }
    const c5 = (await core.listNode({ labelSelector: `${NODE_GROUP_LABEL}=${C5.name}` })).items;
    assert.equal(c5.length, 2);
    assert.ok(c5.every((n) => n.status?.allocatable?.[NEURON] === undefined));
  });

  it('refuses a malformed or duplicate node group with a clear error and creates no node', async () => {
    const nodesBefore = (await core.listNode()).items.length;
    await assert.rejects(
      cluster.addNodeGroup({ ...C5, name: 'Bad_Name', allocatable: { cpu: 'lots', memory: '1Gi' } }),
      (err: Error) => /DNS label/.test(err.message) && /Kubernetes quantity/.test(err.message),
    );
    await assert.rejects(
      cluster.addNodeGroup({ ...INF1, allocatable: { ...INF1.allocatable, [NEURON]: 1.5 } }),
      /integer/,
    );
    await assert.rejects(cluster.addNodeGroup(C5), /node group c5-xlarge already exists/);
    await assert.rejects(cluster.scaleNodeGroup('p4d-24xlarge', 1), /no node group named p4d-24xlarge/);
    assert.equal((await core.listNode()).items.length, nodesBefore);
  });

  it('neuron pods land only on the inf1 group, two 2-device pods per 4-device node, and roll out Available', async () => {
    await apply(deployment('neuron-server', INF1, 4, { [NEURON]: '2', cpu: '2', memory: '4Gi' }));
    await apply(deployment('cpu-server', C5, 2, { cpu: '1', memory: '1Gi' }));
    await wait('neuron-server to be Available with 4 ready replicas', () => available('neuron-server', 4));
    await wait('cpu-server to be Available with 2 ready replicas', () => available('cpu-server', 2));

    const neuronPods = await pods('neuron-server');
    assert.equal(neuronPods.length, 4);
    const perNode = new Map<string, number>();
    for (const pod of neuronPods) {
      assert.equal(pod.status?.phase, 'Running');
      perNode.set(pod.spec!.nodeName!, (perNode.get(pod.spec!.nodeName!) ?? 0) + 1);
    }
    // 8 devices asked of 8 present: the scheduler had to fill both inf1 nodes exactly.
    assert.deepEqual([...perNode].sort(), [
      ['inf1-6xlarge-0', 2],
      ['inf1-6xlarge-1', 2],
    ]);
    assert.ok((await pods('cpu-server')).every((p) => p.spec?.nodeName?.startsWith('c5-xlarge-')));
  });

  it('re-applying an unchanged manifest with server-side apply changes nothing', async () => {
    const before = await apps.readNamespacedDeployment({ name: 'cpu-server', namespace: NAMESPACE });
    await apply(deployment('cpu-server', C5, 2, { cpu: '1', memory: '1Gi' }));
    const after = await apps.readNamespacedDeployment({ name: 'cpu-server', namespace: NAMESPACE });
    assert.equal(after.metadata?.resourceVersion, before.metadata?.resourceVersion);
    assert.ok(after.metadata?.managedFields?.some((f) => f.manager === 'stowage' && f.operation === 'Apply'));
  });

  it('a Deployment asking for more neuron devices than a node has stays Pending (Unschedulable)', async () => {
    await apply(deployment('too-many-devices', INF1, 1, { [NEURON]: '5' }));
    await wait('the 5-device pod to be marked Unschedulable', async () =>
      (await pods('too-many-devices')).some(unschedulable),
    );
    const [pod] = await pods('too-many-devices');
    assert.equal(pod.status?.phase, 'Pending');
    assert.equal(pod.spec?.nodeName, undefined);
    const message = pod.status?.conditions?.find((c) => c.type === 'PodScheduled')?.message ?? '';
    assert.match(message, /Insufficient aws\.amazon\.com\/neuron/);
    const status = (await apps.readNamespacedDeployment({ name: 'too-many-devices', namespace: NAMESPACE }))
      .status;
    assert.ok(!status?.availableReplicas);
  });

  it('scaling the node group up places a waiting pod; scaling down drains the node and it waits again', async () => {
    // Every inf1 device is taken by neuron-server: one more device has to wait for a node.
    await apply(deployment('one-more-device', INF1, 1, { [NEURON]: '1' }));
    await wait('the 1-device pod to be Unschedulable', async () =>
      (await pods('one-more-device')).some(unschedulable),
    );

    await cluster.scaleNodeGroup(INF1.name, 3);
    await wait('one-more-device to be Available', () => available('one-more-device', 1));
    const [placed] = await pods('one-more-device');
    assert.equal(placed.spec?.nodeName, 'inf1-6xlarge-2');
    // The 5-device pod still fits nowhere: the new node has 4 devices too.
    assert.ok((await pods('too-many-devices')).every(unschedulable));

    await cluster.scaleNodeGroup(INF1.name, 2);
    const nodes = (await core.listNode({ labelSelector: `${NODE_GROUP_LABEL}=${INF1.name}` })).items;
    assert.deepEqual(nodes.map((n) => n.metadata?.name).sort(), ['inf1-6xlarge-0', 'inf1-6xlarge-1']);
    await wait('the evicted pod’s replacement to wait for a node', async () => {
      const current = await pods('one-more-device');
      return (
        current.length === 1 && current[0].metadata?.uid !== placed.metadata?.uid && unschedulable(current[0])
      );
    });
    assert.ok(await available('neuron-server', 4), 'the drained node held no neuron-server pod');
  });

  it('a Job asking for a GPU runs on the g4dn group and completes', async () => {
    await apply({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'gpu-job', namespace: NAMESPACE },
      spec: {
        backoffLimit: 0,
        template: {
          spec: {
            restartPolicy: 'Never',
            nodeSelector: { [NODE_GROUP_LABEL]: G4DN.name },
            containers: [
              {
                name: 'work',
                image: 'registry.invalid/k6:test',
                resources: { limits: { 'nvidia.com/gpu': '1' } },
              },
            ],
          },
        },
      },
    });
    await wait('gpu-job to complete', async () => {
      const job = await batch.readNamespacedJob({ name: 'gpu-job', namespace: NAMESPACE });
      return (job.status?.conditions ?? []).some((c) => c.type === 'Complete' && c.status === 'True');
    });
    const job = await batch.readNamespacedJob({ name: 'gpu-job', namespace: NAMESPACE });
    assert.equal(job.status?.succeeded, 1);
    const jobPods = (
      await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: 'job-name=gpu-job' })
    ).items;
    assert.deepEqual(
      jobPods.map((p) => [p.spec?.nodeName, p.status?.phase]),
      [['g4dn-xlarge-0', 'Succeeded']],
    );
  });

  it('stop() leaves no cluster process running', async () => {
    const pids = cluster.pids();
    assert.equal(pids.length, 5);
    assert.ok(pids.every(isAlive));
    await stopTestKube();
    assert.deepEqual(pids.filter(isAlive), []);
  });
});

/** Running, not a zombie waiting for whichever process adopted it to collect its status. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('Kubernetes test cluster left behind by a killed run', function () {
  this.timeout(300_000);

  it('outlives its SIGKILLed owner, and the next start reaps it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-kube-reap-'));
    // The owner is a separate Node process so that it can die the way a killed mocha run does.
    const owner = spawn(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(require.resolve('../../src/dev/kube/cluster'))}).KubeCluster.start(${JSON.stringify(
          {
            stateDir: path.join(dir, 'cluster'),
            toolsBin: projectPaths().toolsBin,
            registryDir: path.join(dir, 'records'),
          },
        )}).then((c) => { console.log(JSON.stringify(c.pids())); setInterval(() => {}, 60_000); });`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const pids = await new Promise<number[]>((resolve, reject) => {
        let out = '';
        owner.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) resolve(JSON.parse(out) as number[]);
        });
        owner.once('exit', (code) =>
          reject(new Error(`the owner exited (${code}) before its cluster was ready`)),
        );
      });
      assert.equal(pids.length, 5);
      owner.kill('SIGKILL');
      await new Promise((resolve) => owner.once('exit', resolve));
      assert.deepEqual(pids.filter(running), pids, "nothing stops a dead owner's children");

      const reaped = reapOrphans(path.join(dir, 'records'));
      assert.deepEqual(reaped.map((r) => r.pid).sort(), [...pids].sort());
      assert.deepEqual(reaped.map((r) => r.role).sort(), [
        'etcd',
        'kube-apiserver',
        'kube-controller-manager',
        'kube-scheduler',
        'kwok',
      ]);
      await waitUntil('the reaped processes to be gone', async () => !pids.some(running), {
        timeoutMs: 30_000,
      });
      assert.deepEqual(fs.readdirSync(path.join(dir, 'records')), [], "the dead owner's record is gone");
    } finally {
      owner.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
