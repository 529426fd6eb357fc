import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { artifactKeys } from '../../src/artifacts/keys';
import type { ArtifactStore } from '../../src/artifacts/store';

/**
 * What every ArtifactStore promises (src/artifacts/store.ts), run against each backend: the local
 * folder in test/unit/artifact-store.test.ts, S3 in test/integration/s3-store.test.ts.
 */
export function artifactStoreContract(open: () => Promise<ArtifactStore>): void {
  it('writes, reads back, and reports the content hash', async () => {
    const store = await open();
    const key = artifactKeys.run('pipeline-1', 'report.json');
    assert.equal(await store.exists(key), false);
    const written = await store.writeJson(key, { ok: true });
    assert.equal(await store.exists(key), true);
    assert.deepEqual(await store.readJson(key), { ok: true });
    const bytes = await store.read(key);
    assert.equal(written.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(written.bytes, bytes.length);
    assert.equal(written.uri, store.uri(key));
  });

  it('overwrites a key with new content', async () => {
    const store = await open();
    const key = 'placements/p-overwrite.json';
    await store.write(key, 'first');
    const second = await store.write(key, 'second, longer');
    assert.equal((await store.read(key)).toString(), 'second, longer');
    assert.equal(second.bytes, 'second, longer'.length);
  });

  it('reports a missing key as ENOENT', async () => {
    const store = await open();
    await assert.rejects(store.read('runs/never-written/report.json'), { code: 'ENOENT' });
  });

  it('maps a URI back to its key, and refuses one outside the root', async () => {
    const store = await open();
    const key = 'placements/p-1.json';
    assert.equal(store.keyOf(store.uri(key)), key);
    assert.throws(() => store.keyOf('file:///etc/passwd'), /outside the artifact root/);
    assert.throws(() => store.keyOf('s3://elsewhere/placements/p-1.json'), /outside the artifact root/);
    assert.throws(
      () => store.keyOf(`${store.root}-sibling/placements/p-1.json`),
      /outside the artifact root/,
    );
    assert.throws(() => store.keyOf(`${store.root}/models/%2E%2E/x`), /invalid segment/);
  });

  it('refuses a key that climbs out of the root, and writes nothing', async () => {
    const store = await open();
    await assert.rejects(store.write('runs/../../escape.json', 'x'), /invalid segment/);
    await assert.rejects(store.write('/abs/key', 'x'), /invalid segment/);
    assert.throws(() => store.uri('a/../b'), /invalid segment/);
    assert.equal(await store.exists('escape.json'), false);
  });
}
