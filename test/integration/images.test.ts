import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ECRClient } from '@aws-sdk/client-ecr';
import { ApplicationFailure } from '@temporalio/activity';
import { createImageActivities } from '../../activities/kubernetes/images';
import { resolveBuildContext } from '../../src/images/context';
import { EcrCredentials } from '../../src/images/ecr';
import { MEDIA_TYPES, RegistryClient, RegistryRefused } from '../../src/images/registry';
import type { ImageBuildSettings } from '../../src/images/server-image';
import { inActivity as inContext } from '../support/activity-context';
import { commitLocalBase, scratchBuildah } from '../support/local-images';
import { moto } from '../support/moto';
import { testRegistry } from '../support/registry';

const ROOT = path.resolve(__dirname, '../../..');
const SERVER_CONTAINERFILE = path.join(ROOT, 'images/server/Containerfile');
const BASE = 'localhost/stowage-test-base:1';
const REPOSITORY = 'stowage/model-server';

/** The image activities inside an activity Context, recording their heartbeats. */
const inActivity = <T>(fn: () => Promise<T>, heartbeats: unknown[] = []) =>
  inContext(fn, { activityType: 'buildServerImage', heartbeats });

/** Regular-file paths in a (gzipped) tar layer. */
function tarFiles(blob: Buffer): string[] {
  const tar = blob[0] === 0x1f && blob[1] === 0x8b ? gunzipSync(blob) : blob;
  const files: string[] = [];
  let longName: string | undefined;
  for (let offset = 0; offset + 512 <= tar.length;) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const field = (start: number, length: number) =>
      header
        .subarray(start, start + length)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1);
    const body = tar.subarray(offset + 512, offset + 512 + size);
    if (type === 'x') {
      const pathRecord = /\d+ path=([^\n]*)\n/.exec(body.toString('utf8'));
      longName = pathRecord?.[1];
    } else {
      const prefix = field(345, 155);
      const name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
      if (type === '0' || type === '') files.push(name.replace(/^\.?\//, ''));
      longName = undefined;
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files.sort();
}

describe('model-server images: buildah build, push to a loopback docker-registry, read back', function () {
  this.timeout(600_000);

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-images-'));
  const { config: buildahConfig, buildah } = scratchBuildah(work);
  const contextRoot = path.join(work, 'src');
  const runs: string[][] = [];
  let settings: ImageBuildSettings;
  let registryHost: string;

  before(async () => {
    // A copy of the real package, so the test can change a file without touching the checkout.
    fs.cpSync(path.join(ROOT, 'python-tracer/stowage_tracer'), path.join(contextRoot, 'stowage_tracer'), {
      recursive: true,
      filter: (src) => !src.includes('__pycache__') && !src.endsWith('.pyc'),
    });
    await commitLocalBase(
      buildah,
      work,
      BASE,
      {
        'etc/passwd': {
          content: 'root:x:0:0::/root:/bin/sh\nstowage:x:10001:10001::/nonexistent:/sbin/nologin\n',
        },
        'usr/local/bin/python': { content: '#!/bin/false\n# a stand-in name; never run\n', mode: 0o755 },
      },
      ['PATH=/usr/local/bin:/usr/bin:/bin'],
    );

    const registry = await testRegistry('open');
    registryHost = registry.host;
    settings = {
      buildah: buildahConfig,
      credentials: async () => undefined,
      insecureRegistries: [registry.host],
      server: { containerfile: SERVER_CONTAINERFILE, contextRoot },
      onBuildahRun: (args) => runs.push(args),
    };
  });

  after(async () => {
    await buildah.run(['rm', '--all']).catch(() => undefined);
    await buildah.run(['rmi', '--all', '--force']).catch(() => undefined);
    fs.rmSync(work, { recursive: true, force: true });
  });

  const request = (overrides: Record<string, string> = {}) => ({
    processor: 'cpu' as const,
    registry: registryHost,
    repository: REPOSITORY,
    base: BASE,
    ...overrides,
  });

  let first: { image: string; digest: string; built: boolean; tag: string };

  it('builds the server image on the local base, pushes it, and the registry serves what the Containerfile says', async () => {
    const heartbeats: unknown[] = [];
    runs.length = 0;
    first = await inActivity(() => createImageActivities(settings).buildServerImage(request()), heartbeats);

    // The tag is the context hash, computed here independently of the activity.
    const expected = resolveBuildContext({
      containerfile: SERVER_CONTAINERFILE,
      root: contextRoot,
      base: BASE,
      buildArgs: { PROCESSOR: 'cpu' },
    });
    assert.equal(first.built, true);
    assert.equal(first.tag, expected.tag);
    assert.equal(first.image, `${registryHost}/${REPOSITORY}:${expected.tag}`);
    assert.match(first.digest, /^sha256:[a-f0-9]{64}$/);
    assert.deepEqual(
      runs.map((args) => args[args.indexOf('vfs') + 1]),
      ['bud', 'push'],
    );
    const phases = heartbeats.map((h) => (h as { phase: string }).phase);
    for (const phase of ['lookup', 'build', 'push', 'verify'])
      assert.ok(phases.includes(phase), `heartbeat in ${phase}`);

    const client = new RegistryClient({ registry: registryHost, insecure: true });
    const image = await client.image(REPOSITORY, first.tag);
    assert.equal(image.digest, first.digest);
    assert.ok(([MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest] as string[]).includes(image.mediaType));
    assert.equal(image.manifest.layers.length, 2, 'the base layer and the COPY layer');
    assert.equal(image.config.rootfs.diff_ids.length, 2);
    assert.deepEqual(image.config.config.Entrypoint, [
      'python',
      '-m',
      'stowage_tracer',
      'serve',
      '--host',
      '0.0.0.0',
      '--port',
      '8080',
    ]);
    assert.deepEqual(image.config.config.Cmd, ['--models', '/etc/stowage/models.json']);
    assert.equal(image.config.config.User, '10001:10001');
    assert.ok(image.config.config.Env?.includes('PYTHONPATH=/opt/stowage'));
    assert.ok(image.config.config.Env?.includes('STOWAGE_PROCESSOR=cpu'));
    assert.deepEqual(Object.keys(image.config.config.ExposedPorts ?? {}), ['8080/tcp']);

    // The top layer holds exactly the hashed context files, under the Containerfile's destination.
    const top = await client.blob(REPOSITORY, image.manifest.layers[1].digest);
    assert.deepEqual(
      tarFiles(top),
      expected.files.map((f) => `opt/stowage/${f.path}`),
    );
  });

  it('does not rebuild an unchanged context: same tag and digest, built: false, no buildah run at all', async () => {
    runs.length = 0;
    const again = await inActivity(() => createImageActivities(settings).buildServerImage(request()));
    assert.deepEqual(again, { ...first, built: false });
    assert.deepEqual(runs, []);
    // Not even a buildah binary is needed to find it.
    const without = { ...settings, buildah: { ...settings.buildah, binary: path.join(work, 'no-buildah') } };
    const third = await inActivity(() => createImageActivities(without).buildServerImage(request()));
    assert.equal(third.built, false);
  });

  it('one changed file gives a new tag and a new image; the old tag still serves the old one', async () => {
    fs.appendFileSync(
      path.join(contextRoot, 'stowage_tracer/serving/__init__.py'),
      '\n# changed by the image test\n',
    );
    const changed = await inActivity(() => createImageActivities(settings).buildServerImage(request()));
    assert.equal(changed.built, true);
    assert.notEqual(changed.tag, first.tag);
    assert.notEqual(changed.digest, first.digest);
    const client = new RegistryClient({ registry: registryHost, insecure: true });
    assert.equal(await client.manifestDigest(REPOSITORY, first.tag), first.digest);
    assert.equal(await client.manifestDigest(REPOSITORY, changed.tag), changed.digest);
  });

  it('pushes to a registry that requires credentials when it has them', async () => {
    const secured = await testRegistry('auth');
    const withAuth: ImageBuildSettings = {
      ...settings,
      insecureRegistries: [secured.host],
      credentials: async (registry) => (registry === secured.host ? secured.credentials : undefined),
    };
    const pushed = await inActivity(() =>
      createImageActivities(withAuth).buildServerImage(request({ registry: secured.host })),
    );
    assert.equal(pushed.built, true);
    const client = new RegistryClient({
      registry: secured.host,
      insecure: true,
      credentials: async () => secured.credentials,
    });
    assert.equal((await client.image(REPOSITORY, pushed.tag)).digest, pushed.digest);
  });

  it('a registry that refuses (wrong credentials): RegistryRefused with its message, nothing pushed', async () => {
    const secured = await testRegistry('auth');
    assert.ok(secured.credentials);
    const wrong = { username: secured.credentials.username, password: 'wrong' };
    const repository = 'stowage/refused';
    const client = new RegistryClient({
      registry: secured.host,
      insecure: true,
      credentials: async () => secured.credentials,
    });

    // Through the activity: refused at the lookup, before any build starts.
    runs.length = 0;
    const refusing: ImageBuildSettings = {
      ...settings,
      insecureRegistries: [secured.host],
      credentials: async () => wrong,
    };
    await assert.rejects(
      inActivity(() =>
        createImageActivities(refusing).buildServerImage(request({ registry: secured.host, repository })),
      ),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        err.type === 'RegistryRefused' &&
        err.nonRetryable &&
        /refused/.test(err.message) &&
        /401/.test(err.message),
    );
    assert.deepEqual(runs, []);

    // buildah's own push with wrong credentials: the registry's words come back, and nothing is there.
    const destination = `${secured.host}/${repository}:refused`;
    await assert.rejects(
      buildah.push({ image: first.image, destination, credentials: wrong, tlsVerify: false }),
      (err: unknown) =>
        err instanceof RegistryRefused && /unauthorized: authentication required/.test(err.registryMessage),
    );
    assert.equal(await client.manifestDigest(repository, 'refused'), undefined);
  });

  it('buildah missing: ImageToolMissing, not retried', async () => {
    const missing = { ...settings, buildah: { ...settings.buildah, binary: path.join(work, 'no-buildah') } };
    await assert.rejects(
      inActivity(() =>
        createImageActivities(missing).buildServerImage(request({ repository: 'stowage/never-built' })),
      ),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        err.type === 'ImageToolMissing' &&
        err.nonRetryable &&
        /buildah is not installed/.test(err.message),
    );
  });

  it('bad input: InvalidImageRequest naming each field, nothing run', async () => {
    runs.length = 0;
    await assert.rejects(
      inActivity(() =>
        createImageActivities(settings).buildServerImage({
          processor: 'tpu' as 'cpu',
          registry: 'Not A Host',
          repository: 'Upper/Case',
          base: '--pull=always',
        }),
      ),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        err.type === 'InvalidImageRequest' &&
        ['/processor', '/registry', '/repository', '/base'].every((p) => err.message.includes(p)),
    );
    assert.deepEqual(runs, []);
  });

  it("ECR push credentials come from GetAuthorizationToken (moto's ECR)", async () => {
    const aws = await moto();
    const ecr = new EcrCredentials(
      (region) => new ECRClient({ region, endpoint: aws.endpoint, credentials: aws.credentials }),
    );
    const credentials = await ecr.forRegistry(`123456789012.dkr.ecr.${aws.region}.amazonaws.com`);
    assert.equal(credentials.username, 'AWS');
    assert.ok(credentials.password.length > 0);
  });
});
