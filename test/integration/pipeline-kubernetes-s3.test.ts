import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateClusterCommand,
  CreateNodegroupCommand,
  DescribeNodegroupCommand,
  EKSClient,
} from '@aws-sdk/client-eks';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { NOT_MEASURABLE } from '../../activities/kubernetes/load-job';
import { openArtifactStore } from '../../src/artifacts/store';
import { NODE_GROUP_LABEL } from '../../src/aws/node-groups';
import { projectPaths, type ProjectPaths } from '../../src/config/paths';
import { parseTemporalOptions } from '../../src/config/temporal';
import type { ManagedChild } from '../../src/dev/child';
import { freePort } from '../../src/dev/ports';
import { startPythonWorker } from '../../src/dev/python-worker';
import { startEmbeddedServer } from '../../src/dev/temporal-server';
import { makeTinyModels } from '../../src/dev/tiny-models';
import { serverImageSources } from '../../src/images/server-image';
import { routingConfigMapName } from '../../src/kubernetes/names';
import { testKube } from '../support/kube';
import { kubePipelineInput, runPipelineToDone } from '../support/kube-pipeline';
import { commitLocalBase, scratchBuildah } from '../support/local-images';
import { moto, type Moto } from '../support/moto';
import { testRegistry } from '../support/registry';

/**
 * The kubernetes runtime end to end: the pipeline with runtime "kubernetes" whose artifact root
 * is `s3://…` on moto for BOTH workers (the Python tracer writes traced models there, the TypeScript
 * activities the placement and the report), sources read from S3 too, and an EKS cluster (moto: the only
 * stand-in) whose node group starts at 0 and is scaled by the deploy stage; the test cluster's kwok nodes
 * follow EKS's desired size (what the autoscaling group does in production), and the Deployments become
 * Ready on them. The tracer queue is fixed by processor, so this file runs its own Temporal server and
 * Python worker: the shared stack's tracer writes to a local folder.
 */
const QUEUE = 'stowage-pipeline-kube-s3-test';
const NAMESPACE = 'pipeline-kube-s3-test';
const GROUP = 'pks3-c5';
const BASE = 'localhost/stowage-pipeline-kube-s3-base:1';
const ROLE = 'arn:aws:iam::123456789012:role/stowage-test';

describe('pipeline with runtime kubernetes, artifacts in S3 and EKS node groups (moto)', function () {
  this.timeout(20 * 60_000);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-pipeline-kube-s3-'));
  const paths: ProjectPaths = { ...projectPaths(), state: work, artifacts: path.join(work, 'artifacts') };
  const { config: buildahConfig, buildah } = scratchBuildah(work);
  const bucket = `stowage-pks3-${randomBytes(4).toString('hex')}`;
  const prefix = 'pipeline';
  const root = `s3://${bucket}/${prefix}`;
  const clusterName = `stowage-pks3-${randomBytes(4).toString('hex')}`;
  let m: Moto;
  let s3: S3Client;
  let eks: EKSClient;
  let server: ManagedChild | undefined;
  let tracer: ManagedChild | undefined;
  let client: Client;
  let connection: NativeConnection;
  let worker: Worker;
  let running: Promise<void>;
  let sources: string[];
  let registryHost: string;
  let apps: AppsV1Api;
  let core: CoreV1Api;

  const store = () =>
    openArtifactStore(root, { endpoint: m.endpoint, region: m.region, credentials: m.credentials });

  before(async () => {
    m = await moto();
    s3 = new S3Client({
      endpoint: m.endpoint,
      region: m.region,
      credentials: m.credentials,
      forcePathStyle: true,
    });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const artifacts = store();

    // The EKS cluster: one group of the catalog's type, empty until the placement asks for nodes.
    eks = new EKSClient({ endpoint: m.endpoint, region: m.region, credentials: m.credentials });
    await eks.send(
      new CreateClusterCommand({
        name: clusterName,
        roleArn: ROLE,
        resourcesVpcConfig: { subnetIds: ['subnet-0a1b2c3d'] },
      }),
    );
    await eks.send(
      new CreateNodegroupCommand({
        clusterName,
        nodegroupName: GROUP,
        nodeRole: ROLE,
        subnets: ['subnet-0a1b2c3d'],
        instanceTypes: ['c5.xlarge'],
        scalingConfig: { minSize: 0, maxSize: 3, desiredSize: 0 },
      }),
    );
    const cluster = await testKube();
    await cluster.addNodeGroup({
      name: GROUP,
      instanceType: 'c5.xlarge',
      count: 0,
      allocatable: { cpu: 16, memory: '64Gi' },
    });
    apps = cluster.kubeConfig().makeApiClient(AppsV1Api);
    core = cluster.kubeConfig().makeApiClient(CoreV1Api);

    // Sources in S3 as well: the tracer downloads s3:// folders itself.
    const local = await makeTinyModels(paths, { out: path.join(work, 'sources'), count: 3, prefix: 'pks3' });
    sources = [];
    for (const dir of local) {
      const name = path.basename(dir);
      for (const file of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
        if (!file.isFile()) continue;
        const rel = path.relative(dir, path.join(file.parentPath, file.name)).split(path.sep).join('/');
        await artifacts.write(
          `sources/${name}/${rel}`,
          fs.readFileSync(path.join(file.parentPath, file.name)),
        );
      }
      sources.push(artifacts.uri(`sources/${name}`));
    }

    await commitLocalBase(buildah, work, BASE);
    const registry = await testRegistry('open');
    registryHost = registry.host;

    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    server = await startEmbeddedServer(paths, {
      port,
      uiPort: await freePort(),
      dbFile: path.join(work, 'temporal.db'),
      namespace: 'default',
      headless: true,
      logFile: path.join(work, 'logs', 'temporal.log'),
    });
    tracer = await startPythonWorker(paths, {
      temporal: parseTemporalOptions({ address }),
      processors: ['cpu'],
      logFile: path.join(work, 'logs', 'python-tracer.log'),
      env: {
        STOWAGE_ARTIFACTS: root,
        STOWAGE_S3_ENDPOINT: m.endpoint,
        STOWAGE_S3_CACHE: path.join(work, 's3-cache'),
        AWS_ACCESS_KEY_ID: m.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: m.credentials.secretAccessKey,
        AWS_REGION: m.region,
        AWS_DEFAULT_REGION: m.region,
      },
    });
    client = new Client({ connection: await Connection.connect({ address }) });
    connection = await NativeConnection.connect({ address });
    worker = await Worker.create({
      connection,
      namespace: 'default',
      taskQueue: QUEUE,
      workflowsPath: require.resolve('../../workflows'),
      activities: createActivities({
        paths,
        artifacts,
        kubernetes: { kubeConfig: cluster.kubeConfig() },
        images: {
          buildah: buildahConfig,
          credentials: async () => undefined,
          insecureRegistries: [registry.host],
          server: serverImageSources(paths),
        },
        nodeGroups: {
          eks,
          kubeApi: () => core,
          // What EKS's autoscaling group does after a desired-size change: the group's nodes follow it.
          afterScale: (target) => cluster.scaleNodeGroup(target.group, target.desiredSize),
        },
      }),
    });
    running = worker.run();
  });

  after(async () => {
    worker?.shutdown();
    await running?.catch(() => undefined);
    await connection?.close();
    await client?.connection.close();
    await tracer?.stop(3000);
    await server?.stop(3000);
    await buildah.run(['rm', '--all']).catch(() => undefined);
    await buildah.run(['rmi', '--all', '--force']).catch(() => undefined);
    await testKube()
      .then((c) => c.scaleNodeGroup(GROUP, 0))
      .catch(() => undefined);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('traces into S3, scales the EKS node group, rolls out Ready on its nodes and reports from S3', async () => {
    const input = kubePipelineInput({
      name: 'pks3',
      sources,
      namespace: NAMESPACE,
      registry: registryHost,
      baseImage: BASE,
      nodeGroup: GROUP,
      artifactsRoot: root,
      cluster: clusterName,
    });
    const initial = await eks.send(new DescribeNodegroupCommand({ clusterName, nodegroupName: GROUP }));
    assert.equal(initial.nodegroup?.scalingConfig?.desiredSize, 0, 'the group starts empty');
    const { result } = await runPipelineToDone(client, QUEUE, `pipeline-kube-s3-${Date.now()}`, input);
    assert.equal(result.modelsServed, 3);

    // Every reference the pipeline returns is in the bucket, and the objects are really there.
    assert.match(result.placement ?? '', /^placements\/[a-f0-9]+\.json$/);
    assert.ok(result.report?.startsWith(`${root}/runs/`), result.report);
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, ContinuationToken: token }),
      );
      keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    for (let i = 0; i < 3; i++) {
      for (const file of ['model.pt', 'profile.json']) {
        const pattern = new RegExp(`^${prefix}/models/pks3-${i}/cpu/[a-f0-9]+/${file}$`);
        assert.ok(
          keys.some((k) => pattern.test(k)),
          `${file} of pks3-${i} in S3`,
        );
      }
    }
    const artifacts = store();
    const placement = await artifacts.readJson<{ instances: { type: string }[] }>(result.placement!);
    assert.ok(keys.includes(`${prefix}/${result.placement}`), 'the placement in S3');
    assert.ok(placement.instances.length >= 1);
    assert.ok(placement.instances.every((i) => i.type === 'c5.xlarge'));
    const report = await artifacts.readJson<{ stopReason: string; steps: unknown[] }>(
      artifacts.keyOf(result.report!.replace(/report\.html$/, 'report.json')),
    );
    assert.ok(report.stopReason.startsWith(NOT_MEASURABLE), report.stopReason);
    assert.deepEqual(report.steps, []);
    assert.ok((await artifacts.read(artifacts.keyOf(result.report!))).length > 0, 'report.html in S3');
    assert.equal(result.kneeRequestsPerSecond, undefined, 'no figure is invented');

    // EKS's desired size is what the placement needs, and the group's nodes exist and are Ready.
    const group = await eks.send(new DescribeNodegroupCommand({ clusterName, nodegroupName: GROUP }));
    assert.equal(group.nodegroup?.scalingConfig?.desiredSize, placement.instances.length);
    const nodes = await core.listNode({ labelSelector: `${NODE_GROUP_LABEL}=${GROUP}` });
    assert.equal(nodes.items.length, placement.instances.length);
    const nodeNames = new Set(nodes.items.map((n) => n.metadata!.name!));

    // Deployments Ready, selecting the group, their pods on its nodes.
    const deployments = await apps.listNamespacedDeployment({ namespace: NAMESPACE });
    assert.equal(deployments.items.length, placement.instances.length);
    for (const d of deployments.items) {
      assert.equal(d.status?.availableReplicas, 1, `${d.metadata?.name} is available`);
      assert.equal(d.spec!.template.spec!.nodeSelector![NODE_GROUP_LABEL], GROUP);
      assert.match(
        d.spec!.template.spec!.containers[0].image!,
        new RegExp(`^${registryHost}/stowage/model-server:`),
      );
    }
    const pods = await core.listNamespacedPod({
      namespace: NAMESPACE,
      labelSelector: 'app.kubernetes.io/managed-by=stowage',
    });
    const serving = pods.items.filter((p) => p.status?.phase === 'Running');
    assert.ok(serving.length >= deployments.items.length);
    for (const p of serving) assert.ok(nodeNames.has(p.spec!.nodeName!), `${p.metadata?.name} on ${GROUP}`);

    // The servers' configuration points at the models in S3.
    const routing = await core.readNamespacedConfigMap({
      name: routingConfigMapName('pks3'),
      namespace: NAMESPACE,
    });
    const table = JSON.parse(routing.data!['routing.json']) as { routes: { modelId: string }[] };
    assert.deepEqual(table.routes.map((r) => r.modelId).sort(), ['pks3-0', 'pks3-1', 'pks3-2']);
    assert.ok(
      keys.some((k) => k.startsWith(`${prefix}/runs/`) && k.endsWith('/routing.json')),
      'routing.json in S3',
    );
  });
});
