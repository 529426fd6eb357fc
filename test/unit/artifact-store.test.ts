import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertArtifactKey, artifactKeys } from '../../src/artifacts/keys';
import { openArtifactStore } from '../../src/artifacts/store';

describe('artifact store (local folder)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-artifacts-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes atomically, reads back, and reports the content hash', async () => {
    const store = openArtifactStore(dir);
    const key = artifactKeys.run('pipeline-1', 'report.json');
    assert.equal(await store.exists(key), false);
    const written = await store.writeJson(key, { ok: true });
    assert.equal(await store.exists(key), true);
    assert.deepEqual(await store.readJson(key), { ok: true });
    assert.match(written.sha256, /^[0-9a-f]{64}$/);
    assert.equal(written.uri, store.uri(key));
    assert.deepEqual(
      fs.readdirSync(path.join(dir, 'runs', 'pipeline-1')),
      ['report.json'],
      'no temporary file is left behind',
    );
  });

  it('maps a URI back to its key, and refuses one outside the root', () => {
    const store = openArtifactStore(dir);
    const key = 'placements/p-1.json';
    assert.equal(store.keyOf(store.uri(key)), key);
    assert.equal(openArtifactStore(store.root).root, store.root, 'file:// roots open the same folder');
    assert.throws(() => store.keyOf('file:///etc/passwd'), /outside the artifact root/);
    assert.throws(() => store.keyOf(`${store.root}/models/%2E%2E/x`), /invalid segment/);
  });

  for (const bad of ['', '/abs/key', 'a/../b', 'a//b', 'a/./b', '..', 'a\\b', 'a/b c', '.hidden/x']) {
    it(`rejects the key ${JSON.stringify(bad)}`, () => {
      assert.throws(() => assertArtifactKey(bad), /artifact key/);
    });
  }
});
