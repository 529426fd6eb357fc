import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { createActivities } from '../../activities';
import { NOT_MEASURABLE } from '../../activities/kubernetes/load-job';
import { openArtifactStore } from '../../src/artifacts/store';
import { makeTinyModels } from '../../src/dev/tiny-models';
import { serverImageSources } from '../../src/images/server-image';
import { routingConfigMapName } from '../../src/kubernetes/names';
import { testKube } from '../support/kube';
import { kubePipelineInput, runPipelineToDone } from '../support/kube-pipeline';
import { commitLocalBase, scratchBuildah } from '../support/local-images';
import { testRegistry } from '../support/registry';
import { testPaths, testStack } from '../support/stack';

/**
 * The whole pipeline with runtime "kubernetes": tiny BERT models traced by the real Python worker, the
 * model-server image built with buildah and pushed to a loopback docker-registry, the placement rolled
 * out on the real test cluster (kwok node group labelled as EKS's), the routing table published, and the
 * in-cluster load test run as a k6 Job. What this environment cannot do is said, not faked: kwok runs no
 * container, so the smoke test is skipped ("skip-kwok", checked against the nodes) and the report says the
 * load test is not measurable. EKS node-group scaling and an S3 artifact store are in
 * pipeline-kubernetes-s3.test.ts (this one runs on the shared stack, whose store is a folder).
 */
const QUEUE = 'stowage-pipeline-kube-test';
const NAMESPACE = 'pipeline-kube-test';
const BASE = 'localhost/stowage-pipeline-kube-base:1';

describe('pipeline with runtime kubernetes (real API server, registry, buildah, workers)', function () {
  this.timeout(20 * 60_000);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-pipeline-kube-'));
  const { config: buildahConfig, buildah } = scratchBuildah(work);
  const artifacts = openArtifactStore(testPaths().artifacts);
  let connection: NativeConnection;
  let worker: Worker;
  let running: Promise<void>;
  let sources: string[];
  let registryHost: string;
  let apps: AppsV1Api;
  let core: CoreV1Api;

  before(async () => {
    const stack = await testStack();
    const cluster = await testKube();
    await cluster.addNodeGroup({
      name: 'pk-c5',
      instanceType: 'c5.xlarge',
      count: 1,
      allocatable: { cpu: 16, memory: '64Gi' },
    });
    apps = cluster.kubeConfig().makeApiClient(AppsV1Api);
    core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    sources = await makeTinyModels(testPaths(), {
      out: path.join(testPaths().artifacts, 'pipeline-kube-sources'),
      count: 3,
      prefix: 'pk',
    });
    // A base made here, without a download: the server image's steps run nothing inside it.
    await commitLocalBase(buildah, work, BASE);
    const registry = await testRegistry('open');
    registryHost = registry.host;

    connection = await NativeConnection.connect({ address: stack.temporal.address });
    worker = await Worker.create({
      connection,
      namespace: stack.temporal.namespace,
      taskQueue: QUEUE,
      workflowsPath: require.resolve('../../workflows'),
      activities: createActivities({
        paths: testPaths(),
        artifacts,
        kubernetes: { kubeConfig: cluster.kubeConfig() },
        images: {
          buildah: buildahConfig,
          credentials: async () => undefined,
          insecureRegistries: [registry.host],
          server: serverImageSources(testPaths()),
        },
      }),
    });
    running = worker.run();
  });

  after(async () => {
    worker?.shutdown();
    await running?.catch(() => undefined);
    await connection?.close();
    await buildah.run(['rm', '--all']).catch(() => undefined);
    await buildah.run(['rmi', '--all', '--force']).catch(() => undefined);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('builds, traces, packs onto the node group, rolls out Ready, publishes routes and reports the in-cluster test', async () => {
    const stack = await testStack();
    const input = kubePipelineInput({
      name: 'pk',
      sources,
      namespace: NAMESPACE,
      registry: registryHost,
      baseImage: BASE,
      nodeGroup: 'pk-c5',
      artifactsRoot: 's3://stowage-test/pipeline-kube',
    });
    const { result, progress } = await runPipelineToDone(
      stack.client,
      QUEUE,
      `pipeline-kube-${Date.now()}`,
      input,
    );
    assert.equal(result.modelsServed, 3);
    assert.match(progress.stages.build.detail ?? '', new RegExp(`^${registryHost}/stowage/model-server:`));

    // The image really is in the registry.
    const tag = progress.stages.build.detail!.split(':').slice(-1)[0].split(' ')[0];
    const manifest = await fetch(`http://${registryHost}/v2/stowage/model-server/manifests/${tag}`, {
      headers: {
        Accept:
          'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
      },
    });
    assert.equal(manifest.status, 200);

    const deployments = await apps.listNamespacedDeployment({ namespace: NAMESPACE });
    assert.ok(deployments.items.length >= 1);
    for (const d of deployments.items) {
      assert.equal(d.status?.availableReplicas, 1, `${d.metadata?.name} is available`);
      const container = d.spec!.template.spec!.containers[0];
      assert.match(container.image!, new RegExp(`^${registryHost}/stowage/model-server:`));
      assert.equal(d.spec!.template.spec!.nodeSelector!['eks.amazonaws.com/nodegroup'], 'pk-c5');
    }
    const routing = await core.readNamespacedConfigMap({
      name: routingConfigMapName('pk'),
      namespace: NAMESPACE,
    });
    const table = JSON.parse(routing.data!['routing.json']) as { routes: { modelId: string }[] };
    assert.deepEqual(table.routes.map((r) => r.modelId).sort(), ['pk-0', 'pk-1', 'pk-2']);

    assert.ok(progress.stages.test.detail?.startsWith(NOT_MEASURABLE), progress.stages.test.detail);
    const report = await artifacts.readJson<{ stopReason: string; steps: unknown[] }>(
      artifacts.keyOf(result.report!.replace(/report\.html$/, 'report.json')),
    );
    assert.ok(report.stopReason.startsWith(NOT_MEASURABLE));
    assert.deepEqual(report.steps, []);
    assert.equal(result.kneeRequestsPerSecond, undefined, 'no figure is invented');
  });
});
