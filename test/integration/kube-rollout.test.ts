import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { createActivities } from '../../activities';
import { createKubernetesActivities } from '../../activities/kubernetes';
import { NOT_MEASURABLE } from '../../activities/kubernetes/load-job';
import { SIMULATED_SMOKE_REASON } from '../../activities/kubernetes/smoke';
import type { KubernetesTarget } from '../../src/kubernetes/rollout';
import { openArtifactStore } from '../../src/artifacts/store';
import type { KubeCluster } from '../../src/dev/kube/cluster';
import { freePort } from '../../src/dev/ports';
import type { DeviceLayout } from '../../src/domain/load-sweep';
import type { TraceBatchRecord } from '../../src/domain/pipeline-stages';
import { routingConfigMapName, serverName } from '../../src/kubernetes/names';
import type { RolloutInput, RolloutResult } from '../../workflows/rollout';
import { testKube } from '../support/kube';
import { testPaths, testStack } from '../support/stack';

/**
 * The kubernetes runtime's rollout against the real test cluster (kube-apiserver + etcd + controller
 * manager + scheduler, nodes simulated by kwok as EKS node groups), driven by the real `rollout` workflow
 * on the real Temporal dev server. kwok runs no containers: pods become Ready without a model server, so
 * the smoke test runs in its "skip-kwok" mode (which checks the pods really are on kwok nodes) and the
 * load test reports that nothing is measurable — the test asserts exactly that, not invented figures.
 */
const QUEUE = 'stowage-kube-rollout-test';
const NAMESPACE = 'kube-rollout-test';
const FLEET = 'kr';
const INF = 'inf1.6xlarge';
const CPU = 'c5.xlarge';
const MODELS = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'];

const TARGET: KubernetesTarget = {
  namespace: NAMESPACE,
  fleet: FLEET,
  images: { inf: 'registry.test/stowage/server-inf:1', cpu: 'registry.test/stowage/server-cpu:1' },
  nodeGroups: [
    { name: 'kr-inf1', instanceType: INF, processor: 'inf' },
    { name: 'kr-c5', instanceType: CPU, processor: 'cpu' },
  ],
  maxUnavailable: 2,
  // Long enough for a shared, busy machine (load average above 15 on two cores was seen) to schedule a
  // pod and have kwok mark it Ready; it is also how long the failing wave takes to fail.
  progressDeadlineSeconds: 90,
  artifactsRoot: 's3://stowage-test/artifacts',
  smokeTest: 'skip-kwok',
  k6Image: 'grafana/k6:1.4.2',
};

function batch(processor: 'inf' | 'cpu', ids: string[]): TraceBatchRecord {
  return {
    processor,
    failed: [],
    traced: ids.map((modelId) => ({
      modelId,
      cached: false,
      attempt: 1,
      resumedFrom: null,
      artifact: {
        modelId,
        processor,
        traceKey: 'k1',
        prefix: `models/${modelId}/${processor}/k1`,
        modelUri: `s3://stowage-test/artifacts/models/${modelId}/${processor}/k1/model.pt`,
        manifestUri: `s3://stowage-test/artifacts/models/${modelId}/${processor}/k1/manifest.json`,
        profileUri: `s3://stowage-test/artifacts/models/${modelId}/${processor}/k1/profile.json`,
      },
      demand: { processor, expectedRequestsPerSecond: 1, memoryGiB: 1, compute: 0.2, hostMemoryGiB: 1 },
    })),
  };
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => assert.fail('the workflow must fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError, String(err));
  assert.ok(err.cause instanceof ApplicationFailure, String(err.cause));
  return err.cause;
}

describe('kubernetes rollout (real API server, kwok node groups)', function () {
  this.timeout(20 * 60_000);
  let cluster: KubeCluster;
  let connection: NativeConnection;
  let worker: Worker;
  let running: Promise<void>;
  let apps: AppsV1Api;
  let core: CoreV1Api;
  let batchApi: BatchV1Api;
  let traceBatches: string[];
  const artifacts = openArtifactStore(testPaths().artifacts);

  async function rollout(placementId: string, placement: DeviceLayout, target = TARGET) {
    const stack = await testStack();
    const input: RolloutInput = {
      deploymentId: `kube-${placementId}`,
      placement,
      processor: 'inf',
      runtime: 'kubernetes',
      placementId,
      traceBatches,
      kubernetes: target,
    };
    return stack.client.workflow.execute('rollout', {
      taskQueue: QUEUE,
      workflowId: `kube-rollout-${placementId}-${Date.now()}`,
      args: [input],
    }) as Promise<RolloutResult>;
  }

  interface LiveServer {
    resourceVersion: string;
    generation: number;
    /** When the stowage field manager last applied it (server-side apply records it per manager). */
    appliedAt: string;
    placement?: string;
  }

  async function deployments(): Promise<Map<string, LiveServer>> {
    const list = await apps.listNamespacedDeployment({ namespace: NAMESPACE });
    return new Map(
      list.items.map((d) => [
        d.metadata!.name!,
        {
          resourceVersion: d.metadata!.resourceVersion!,
          generation: d.metadata!.generation!,
          appliedAt: String(
            d.metadata!.managedFields?.find((f) => f.manager === 'stowage' && f.operation === 'Apply')?.time,
          ),
          placement: d.metadata!.labels?.['stowage.dev/placement'],
        },
      ]),
    );
  }

  before(async function () {
    const stack = await testStack();
    cluster = await testKube();
    await Promise.all([
      cluster.addNodeGroup({
        name: 'kr-inf1',
        instanceType: INF,
        count: 1,
        allocatable: { cpu: 24, memory: '48Gi', 'aws.amazon.com/neuron': 4 },
      }),
      cluster.addNodeGroup({
        name: 'kr-c5',
        instanceType: CPU,
        count: 1,
        allocatable: { cpu: 4, memory: '8Gi' },
      }),
    ]);
    const config = cluster.kubeConfig();
    apps = config.makeApiClient(AppsV1Api);
    core = config.makeApiClient(CoreV1Api);
    batchApi = config.makeApiClient(BatchV1Api);
    traceBatches = [
      (
        await artifacts.writeJson(
          'runs/kube-rollout-test/trace-inf.json',
          batch(
            'inf',
            MODELS.filter((m) => m !== 'm3'),
          ),
        )
      ).uri,
      (await artifacts.writeJson('runs/kube-rollout-test/trace-cpu.json', batch('cpu', ['m3']))).uri,
    ].map((uri) => artifacts.keyOf(uri));
    connection = await NativeConnection.connect({ address: stack.temporal.address });
    worker = await Worker.create({
      connection,
      namespace: stack.temporal.namespace,
      taskQueue: QUEUE,
      workflowsPath: require.resolve('./kube-rollout-workflows'),
      activities: createActivities({ paths: testPaths(), artifacts, kubernetes: { kubeConfig: config } }),
    });
    running = worker.run();
  });

  after(async () => {
    worker?.shutdown();
    await running?.catch(() => undefined);
    await connection?.close();
  });

  const A: DeviceLayout = {
    instances: [
      { type: INF, devices: [['m0', 'm1'], ['m2']] },
      { type: CPU, devices: [['m3']] },
    ],
  };
  // One model added: only the device that holds it changes.
  const B: DeviceLayout = {
    instances: [
      {
        type: INF,
        devices: [
          ['m0', 'm1'],
          ['m2', 'm4'],
        ],
      },
      { type: CPU, devices: [['m3']] },
    ],
  };

  it('rolls a placement out in waves: Deployments Ready on the right node groups, routing table published', async () => {
    const result = await rollout('placement-a', A);
    const k = result.kubernetes!;
    const names = [
      serverName(FLEET, INF, ['m0', 'm1']),
      serverName(FLEET, INF, ['m2']),
      serverName(FLEET, CPU, ['m3']),
    ];
    assert.deepEqual([...k.changed].sort(), [...names].sort());
    assert.deepEqual(
      k.waves.map((w) => w.servers.length),
      [2, 1],
      'waves of at most maxUnavailable',
    );
    for (const wave of k.waves) {
      assert.equal(wave.smokeTest.mode, 'skipped');
      assert.equal(wave.smokeTest.reason, SIMULATED_SMOKE_REASON);
    }
    for (const name of names) {
      const d = await apps.readNamespacedDeployment({ name, namespace: NAMESPACE });
      assert.equal(d.status?.availableReplicas, 1, `${name} is available`);
      const pods = await core.listNamespacedPod({
        namespace: NAMESPACE,
        labelSelector: `stowage.dev/server=${name}`,
      });
      assert.equal(pods.items.length, 1);
      const node = await core.readNode({ name: pods.items[0].spec!.nodeName! });
      const group = name.includes('c5') ? 'kr-c5' : 'kr-inf1';
      assert.equal(node.metadata?.labels?.['eks.amazonaws.com/nodegroup'], group, `${name} runs on ${group}`);
      assert.equal(d.metadata?.labels?.['stowage.dev/placement'], 'placement-a');
      assert.equal(d.metadata?.labels?.['app.kubernetes.io/managed-by'], 'stowage');
      const managers = (d.metadata?.managedFields ?? [])
        .filter((f) => f.operation === 'Apply')
        .map((f) => f.manager);
      assert.deepEqual(managers, ['stowage'], 'server-side applied by the stowage field manager');
    }
    const routing = await core.readNamespacedConfigMap({
      name: routingConfigMapName(FLEET),
      namespace: NAMESPACE,
    });
    assert.equal(routing.metadata?.labels?.['stowage.dev/placement'], 'placement-a');
    const table = JSON.parse(routing.data!['routing.json']) as { routes: { modelId: string; url: string }[] };
    assert.deepEqual(table.routes.map((r) => r.modelId).sort(), ['m0', 'm1', 'm2', 'm3']);
    assert.match(
      table.routes[0].url,
      new RegExp(`^http://[a-z0-9-]+\\.${NAMESPACE}\\.svc\\.cluster\\.local:8080$`),
    );
    assert.equal(result.routingTable.routes.length, 4);
  });

  it('re-run with one model added changes only the server holding it; untouched Deployments keep their resourceVersion', async () => {
    const before = await deployments();
    const result = await rollout('placement-b', B);
    const k = result.kubernetes!;
    const kept = [serverName(FLEET, INF, ['m0', 'm1']), serverName(FLEET, CPU, ['m3'])];
    const added = serverName(FLEET, INF, ['m2', 'm4']);
    const retired = serverName(FLEET, INF, ['m2']);
    assert.deepEqual([...k.unchanged].sort(), [...kept].sort());
    assert.deepEqual(k.changed, [added]);
    assert.equal(k.previousPlacementId, 'placement-a');
    const after = await deployments();
    for (const name of kept) {
      assert.equal(after.get(name)?.resourceVersion, before.get(name)?.resourceVersion, `${name} untouched`);
      assert.equal(
        after.get(name)?.placement,
        'placement-a',
        'a kept server keeps the label of the placement that made it',
      );
    }
    assert.equal(after.get(added)?.placement, 'placement-b');
    assert.ok(k.retired.includes(retired), 'the replaced server is garbage-collected');
    assert.equal(after.has(retired), false);
    await assert.rejects(
      core.readNamespacedService({ name: retired, namespace: NAMESPACE }),
      /404|not found/i,
    );
    await assert.rejects(
      core.readNamespacedConfigMap({ name: retired, namespace: NAMESPACE }),
      /404|not found/i,
    );
    assert.deepEqual([...after.keys()].sort(), [...kept, added].sort());
  });

  it('a wave whose pods cannot be scheduled rolls every applied wave back; the previous placement is intact', async () => {
    const before = await deployments();
    const routingBefore = await core.readNamespacedConfigMap({
      name: routingConfigMapName(FLEET),
      namespace: NAMESPACE,
    });
    // Three more Inferentia servers where the node group has two free devices: wave 1 (two servers) is
    // ready, wave 2 stays Unschedulable past its progress deadline.
    const C: DeviceLayout = {
      instances: [
        { type: INF, devices: [['m0', 'm1'], ['m2', 'm4'], ['m5'], ['m6'], ['m7']] },
        { type: CPU, devices: [['m3']] },
      ],
    };
    const failure = await failureOf(rollout('placement-c', C));
    assert.equal(failure.type, 'RolloutFailed');
    assert.match(failure.message, /rolled back \(3 new server\(s\) deleted/);
    assert.match(failure.message, /progress deadline/);
    assert.match(failure.message, /Insufficient aws\.amazon\.com\/neuron/);
    assert.match(failure.message, /previous placement placement-b keeps serving/);
    const after = await deployments();
    assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort(), 'only the previous servers remain');
    for (const [name, d] of before) {
      // Not resourceVersion here: over the 90 s this test waits, the controllers may update a kept
      // Deployment's status (a node's readiness flickering on a loaded machine). What Stowage would
      // change — the spec (generation) and its own apply — must not move.
      assert.equal(after.get(name)?.generation, d.generation, `${name}: spec untouched`);
      assert.equal(after.get(name)?.appliedAt, d.appliedAt, `${name}: not re-applied by stowage`);
    }
    const routingAfter = await core.readNamespacedConfigMap({
      name: routingConfigMapName(FLEET),
      namespace: NAMESPACE,
    });
    assert.equal(
      routingAfter.metadata?.resourceVersion,
      routingBefore.metadata?.resourceVersion,
      'routing table unchanged',
    );
  });

  it('a failed rollout restores re-specced servers (new image) to their previous spec', async () => {
    const kept = [serverName(FLEET, INF, ['m0', 'm1']), serverName(FLEET, INF, ['m2', 'm4'])];
    const imageOf = async (name: string) =>
      (await apps.readNamespacedDeployment({ name, namespace: NAMESPACE })).spec!.template.spec!.containers[0]
        .image;
    for (const name of kept) assert.equal(await imageOf(name), TARGET.images.inf);
    // A new Inferentia image re-specs both Inferentia servers (same names); three new servers follow,
    // and the last of them has no device left: wave 3 fails, and waves 1 and 2 are undone.
    const newImage = { ...TARGET, images: { ...TARGET.images, inf: 'registry.test/stowage/server-inf:2' } };
    const C: DeviceLayout = {
      instances: [
        { type: INF, devices: [['m0', 'm1'], ['m2', 'm4'], ['m5'], ['m6'], ['m7']] },
        { type: CPU, devices: [['m3']] },
      ],
    };
    const failure = await failureOf(rollout('placement-e', C, newImage));
    assert.equal(failure.type, 'RolloutFailed');
    assert.match(failure.message, /3 new server\(s\) deleted, 2 restored/);
    for (const name of kept)
      assert.equal(await imageOf(name), TARGET.images.inf, `${name} has its old image back`);
    const after = await deployments();
    assert.deepEqual([...after.keys()].sort(), [...kept, serverName(FLEET, CPU, ['m3'])].sort());
  });

  it('refuses an instance type with no node group before applying anything', async () => {
    const before = await deployments();
    const failure = await failureOf(
      rollout('placement-d', { instances: [{ type: 'g4dn.xlarge', devices: [['m5']] }, ...B.instances] }),
    );
    assert.equal(failure.type, 'InvalidInput');
    assert.match(failure.message, /instance type g4dn\.xlarge has no node group/);
    const after = await deployments();
    assert.deepEqual(
      [...after].map(([n, d]) => [n, d.resourceVersion]),
      [...before].map(([n, d]) => [n, d.resourceVersion]),
    );
  });

  it('names an unreachable API server', async () => {
    const port = await freePort();
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: 'gone', server: `https://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'c', cluster: 'gone', user: 'u' }],
      currentContext: 'c',
    });
    const activities = createKubernetesActivities({ kubeConfig: config }, artifacts, testPaths().root);
    await assert.rejects(
      activities.planKubernetesRollout({
        runId: 'kube-unreachable',
        placementId: 'x',
        placement: A,
        traceBatches,
        target: TARGET,
      }),
      (err: ApplicationFailure) =>
        err.type === 'KubernetesUnreachable' &&
        err.message.includes(
          `the Kubernetes API server https://127.0.0.1:${port} is unreachable (ECONNREFUSED)`,
        ),
    );
  });

  it('runs the load test as a k6 Job next to the servers and reports it not measurable on kwok nodes', async () => {
    const stack = await testStack();
    const runId = `kube-load-${Date.now()}`;
    const result = (await stack.client.workflow.execute('kubeLoadTestOnly', {
      taskQueue: QUEUE,
      workflowId: runId,
      args: [
        {
          runId,
          namespace: NAMESPACE,
          fleet: FLEET,
          k6Image: TARGET.k6Image,
          slo: { p90Ms: 100, maxErrorRate: 0.001 },
          sweep: {
            minRate: 1,
            maxRate: 100,
            stepSeconds: 5,
            maxSteps: 3,
            factor: 2,
            tolerance: 0.05,
            maxVUs: 20,
          },
          random: { rate: 2, seconds: 5 },
          placement: B,
        },
      ],
    })) as {
      measurable: boolean;
      jobs: string[];
      stopReason: string;
      steps: unknown[];
      report: { json: string };
    };
    assert.equal(result.measurable, false);
    assert.ok(result.stopReason.startsWith(NOT_MEASURABLE), result.stopReason);
    assert.deepEqual(result.steps, []);
    assert.equal(
      result.jobs.length,
      1,
      'nothing more is attempted once the first Job shows nothing can be measured',
    );
    const job = await batchApi.readNamespacedJob({ name: result.jobs[0], namespace: NAMESPACE });
    const container = job.spec!.template.spec!.containers[0];
    assert.equal(container.image, 'grafana/k6:1.4.2');
    assert.deepEqual(container.args, [
      'run',
      '--quiet',
      '--no-usage-report',
      '--no-color',
      '/scripts/sequential.ts',
    ]);
    assert.equal(job.metadata?.labels?.['app.kubernetes.io/managed-by'], 'stowage');
    const items = job.spec!.template.spec!.volumes![0].configMap!.items!.map((i) => i.path);
    for (const file of ['sequential.ts', 'sweep.ts', 'lib/routing.ts', 'lib/summary.ts', 'routing.json']) {
      assert.ok(items.includes(file), `${file} is mounted`);
    }
    const scripts = await core.readNamespacedConfigMap({ name: result.jobs[0], namespace: NAMESPACE });
    const table = JSON.parse(scripts.data!['routing.json']) as { routes: { modelId: string }[] };
    assert.deepEqual(table.routes.map((r) => r.modelId).sort(), ['m0', 'm1', 'm2', 'm3', 'm4']);
    const report = await artifacts.readJson<{ stopReason: string; steps: unknown[] }>(
      artifacts.keyOf(result.report.json),
    );
    assert.ok(report.stopReason.startsWith(NOT_MEASURABLE));
    assert.deepEqual(report.steps, []);
  });
});
