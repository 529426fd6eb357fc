import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { createImageActivities } from '../../activities/kubernetes/images';
import { k6JobManifests, k6Scripts, lastJson } from '../../activities/kubernetes/k6-job';
import { openArtifactStore } from '../../src/artifacts/store';
import { projectPaths } from '../../src/config/paths';
import { waitUntil } from '../../src/dev/child';
import { freePort } from '../../src/dev/ports';
import type { StepFigures } from '../../src/domain/step-figures';
import { probeContainerRuntime } from '../../src/images/container-runtime';
import { renderFleet, SERVER_PORT, type ServerPlan } from '../../src/kubernetes/manifests';
import { inActivity } from '../support/activity-context';
import {
  commitLocalK6Image,
  commitLocalPythonBase,
  cpuBasePackages,
  type LocalPythonBase,
  scratchBuildah,
} from '../support/local-images';
import { moto, type Moto } from '../support/moto';
import { type PodExtras, PodmanPods, type PodSpec, type RunningPod } from '../support/podman';
import { testRegistry } from '../support/registry';

const ROOT = path.resolve(__dirname, '../../..');
const MODELS = ['ct-0', 'ct-1'];
const TRACE = 'cpu/bs1-seq32';

/**
 * The images Stowage builds, started: the model-server image (images/server/Containerfile on a CPU base
 * made here) and a k6 image run under podman + runc exactly as the rendered Deployment and smoke Job
 * describe them — the init container pulls the models from S3 (moto) with the AWS CLI, the server runs
 * as its image says (entrypoint, user, port, model list), is Ready by its own /readyz probe, answers
 * predictions as the local runtime does, and the smoke script run by the k6 image calls every model.
 * Where this machine cannot run containers the tests are skipped, and the reason is printed.
 */
describe('container images started (podman + runc): model server and k6', function () {
  this.timeout(15 * 60_000);

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-containers-'));
  const { config: buildahConfig, buildah } = scratchBuildah(work);
  const pods = new PodmanPods(path.join(work, 'podman'));
  const artifacts = path.join(work, 'artifacts');
  let m: Moto;
  let base: LocalPythonBase;
  let fetchBase: LocalPythonBase;
  let server: ServerPlan;
  let k6Image: string;
  let pod: RunningPod;

  before(async function () {
    const runtime = await probeContainerRuntime();
    if (!runtime.runtime) {
      console.log(`    skipped: this machine cannot run containers: ${runtime.reason}`);
      this.skip();
    }
    m = await moto();
    const registry = await testRegistry('open');
    const bucket = `stowage-ct-${randomBytes(4).toString('hex')}`;
    const s3 = new S3Client({
      endpoint: m.endpoint,
      region: m.region,
      credentials: m.credentials,
      forcePathStyle: true,
    });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const root = `s3://${bucket}/stowage`;
    const store = openArtifactStore(root, {
      endpoint: m.endpoint,
      region: m.region,
      credentials: m.credentials,
    });

    // Traced models, in the artifact layout, uploaded where the pipeline's trace stage puts them.
    const paths = projectPaths();
    await promisify(execFile)(
      paths.python,
      ['-m', 'stowage_tracer.serving.tiny_artifacts', '--root', artifacts, '--models', MODELS.join(',')],
      { cwd: paths.pythonTracer },
    );
    for (const id of MODELS) {
      const dir = path.join(artifacts, 'models', id, TRACE);
      for (const file of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
        if (!file.isFile()) continue;
        const rel = path.relative(dir, path.join(file.parentPath, file.name)).split(path.sep).join('/');
        await store.write(
          `models/${id}/${TRACE}/${rel}`,
          fs.readFileSync(path.join(file.parentPath, file.name)),
        );
      }
    }

    // The images: the server on the local CPU base (built and pushed by the build stage's activity),
    // the init container's AWS CLI image and the k6 image, all pulled by the pods from the registry.
    const baseTag = 'localhost/stowage-ct-base:1';
    base = await commitLocalPythonBase(
      buildah,
      work,
      baseTag,
      cpuBasePackages(path.join(ROOT, 'images/base/cpu/Containerfile')),
    );
    const fetchImage = `${registry.host}/stowage-ct/aws-cli:1`;
    fetchBase = await commitLocalPythonBase(buildah, work, fetchImage, ['awscli'], ['aws']);
    k6Image = `${registry.host}/stowage-ct/k6:1`;
    await commitLocalK6Image(buildah, work, k6Image);
    for (const image of [fetchImage, k6Image])
      await buildah.push({ image, destination: image, tlsVerify: false });
    const built = await inActivity(
      () =>
        createImageActivities({
          buildah: buildahConfig,
          credentials: async () => undefined,
          insecureRegistries: [registry.host],
          server: {
            containerfile: path.join(ROOT, 'images/server/Containerfile'),
            contextRoot: path.join(ROOT, 'python-tracer'),
          },
        }).buildServerImage({
          processor: 'cpu',
          registry: registry.host,
          repository: 'stowage-ct/model-server',
          base: baseTag,
        }),
      { activityType: 'buildServerImage' },
    );

    // The Deployment the kubernetes runtime would apply for one c5 device holding both models.
    const fleet = renderFleet(
      {
        fleet: 'ct',
        namespace: 'ct',
        placementId: 'p1',
        images: { cpu: built.image },
        nodeGroups: [{ name: 'c5', instanceType: 'c5.xlarge', processor: 'cpu' }],
        progressDeadlineSeconds: 300,
        artifactsRoot: root,
        fetchImage,
      },
      { instances: [{ type: 'c5.xlarge', devices: [MODELS] }] },
      new Map(MODELS.map((id) => [id, { id, uri: `${root}/models/${id}/${TRACE}/`, memoryGiB: 0.1 }])),
    );
    server = fleet.servers[0];
  });

  after(async () => {
    await pods.stopAll().catch(() => undefined);
    await buildah.run(['rmi', '--all', '--force']).catch(() => undefined);
    fs.rmSync(work, { recursive: true, force: true });
  });

  /** The S3 stand-in's endpoint and keys, as EKS's pod identity would inject them; the bases' packages. */
  const extras = (): PodExtras => ({
    env: {
      AWS_ENDPOINT_URL_S3: m.endpoint,
      AWS_ACCESS_KEY_ID: m.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: m.credentials.secretAccessKey,
      AWS_DEFAULT_REGION: m.region,
    },
    mounts: [...new Set([...base.mounts, ...fetchBase.mounts])],
  });

  const predict = async (url: string, model: string) => {
    const res = await fetch(`${url}/predictions/${model}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ seq_0: 'the museum is in paris', seq_1: 'where is the museum?' }),
    });
    assert.equal(res.status, 200, `${model}: ${await res.clone().text()}`);
    return (await res.json()) as Record<string, unknown>;
  };

  it('the model-server Deployment runs: models fetched from S3 by its init container, Ready on /readyz, answers as the local runtime', async () => {
    const deployment = server.deployment as unknown as { spec: { template: { spec: PodSpec } } };
    pod = await pods.start(
      server.name,
      deployment.spec.template.spec,
      { [server.name]: server.config.data as Record<string, string> },
      extras(),
    );
    await pod.ready();

    // It runs as the image's non-root user, not as root.
    const { pid } = await pod.state();
    const uid = /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    assert.equal(uid, '10001', 'the server process runs as uid 10001');

    // The local runtime's server on the same traced models, on this host.
    const local = path.join(work, 'local-models.json');
    fs.writeFileSync(
      local,
      JSON.stringify({
        models: MODELS.map((id) => ({ modelId: id, path: path.join(artifacts, 'models', id, TRACE) })),
      }),
    );
    const port = await freePort();
    const paths = projectPaths();
    const host = spawn(
      paths.python,
      ['-m', 'stowage_tracer', 'serve', '--models', local, '--port', String(port)],
      {
        cwd: paths.pythonTracer,
        stdio: 'ignore',
      },
    );
    try {
      const localUrl = `http://127.0.0.1:${port}`;
      await waitUntil(
        'the local model server to be ready',
        async () => (await fetch(`${localUrl}/readyz`)).ok,
        {
          timeoutMs: 120_000,
        },
      );
      for (const model of MODELS) {
        const inContainer = await predict(pod.url(SERVER_PORT), model);
        assert.equal(inContainer.modelId, model);
        assert.deepEqual(
          inContainer,
          await predict(localUrl, model),
          `${model} answers as on the local runtime`,
        );
      }
    } finally {
      host.kill('SIGTERM');
    }
  });

  it("the k6 image runs the smoke Job's script against the server: every model answers", async () => {
    assert.ok(pod, 'the server pod started');
    const scripts = await k6Scripts(ROOT);
    const { configMap, job } = k6JobManifests(
      {
        kind: 'smoke',
        runId: 'ct',
        discriminator: 'wave-0',
        namespace: 'ct',
        fleet: 'ct',
        image: k6Image,
        script: 'sequential.ts',
        env: {},
        routingTable: { routes: MODELS.map((modelId) => ({ modelId, url: pod.url(SERVER_PORT) })) },
        activeDeadlineSeconds: 120,
      },
      scripts,
    );
    const template = (job as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
    const { exitCode, log } = await pods.complete(job.metadata.name, template, {
      [configMap.metadata.name]: configMap.data as Record<string, string>,
    });
    const summary = lastJson<StepFigures>(log);
    assert.ok(summary, `k6 printed its summary (exit ${exitCode}): ${log.slice(-500)}`);
    assert.equal(summary.requests, MODELS.length, 'one call per model');
    assert.equal(summary.failures, 0);
    assert.equal(exitCode, 0);
  });
});
