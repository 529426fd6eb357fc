import assert from 'node:assert/strict';
import path from 'node:path';
import { imageSettingsFromEnv } from '../../activities/kubernetes/images';
import { projectPaths } from '../../src/config/paths';

describe('image build settings from the worker environment', () => {
  const paths = projectPaths();

  it('defaults: buildah on PATH, its default storage, reproducible timestamps, the checkout sources', () => {
    const settings = imageSettingsFromEnv(paths, { env: {} });
    // JSON drops the unset (undefined) settings.
    assert.deepEqual(JSON.parse(JSON.stringify(settings.buildah)), {
      binary: 'buildah',
      pull: 'missing',
      timestamp: 0,
    });
    assert.deepEqual(settings.insecureRegistries, []);
    assert.equal(settings.server.containerfile, path.join(paths.root, 'images', 'server', 'Containerfile'));
    assert.equal(settings.server.contextRoot, paths.pythonTracer);
  });

  it('reads buildah settings and insecure registries', () => {
    const settings = imageSettingsFromEnv(paths, {
      env: {
        STOWAGE_BUILDAH: '/opt/buildah',
        STOWAGE_BUILDAH_STORAGE_DRIVER: 'vfs',
        STOWAGE_BUILDAH_ISOLATION: 'chroot',
        STOWAGE_BUILDAH_TIMESTAMP: 'now',
        STOWAGE_INSECURE_REGISTRIES: '127.0.0.1:5000, registry.local ,',
      },
    });
    assert.equal(settings.buildah.binary, '/opt/buildah');
    assert.equal(settings.buildah.storageDriver, 'vfs');
    assert.equal(settings.buildah.isolation, 'chroot');
    assert.equal(settings.buildah.timestamp, null);
    assert.deepEqual(settings.insecureRegistries, ['127.0.0.1:5000', 'registry.local']);
  });

  it('refuses an unknown isolation at worker start, not at the first build', () => {
    assert.throws(
      () => imageSettingsFromEnv(paths, { env: { STOWAGE_BUILDAH_ISOLATION: 'docker' } }),
      /isolation/,
    );
  });
});
