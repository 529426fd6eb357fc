import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertArtifactKey, artifactKeys } from '../../src/artifacts/keys';
import { openArtifactStore } from '../../src/artifacts/store';
import { artifactStoreContract } from '../support/artifact-store-contract';

describe('artifact store (local folder)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-artifacts-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  artifactStoreContract(async () => openArtifactStore(dir));

  it('writes atomically: no temporary file is left behind', async () => {
    const store = openArtifactStore(dir);
    await store.writeJson(artifactKeys.run('pipeline-atomic', 'report.json'), { ok: true });
    assert.deepEqual(fs.readdirSync(path.join(dir, 'runs', 'pipeline-atomic')), ['report.json']);
  });

  it('opens the same folder from its file:// root', () => {
    const store = openArtifactStore(dir);
    assert.equal(openArtifactStore(store.root).root, store.root);
  });

  for (const bad of ['', '/abs/key', 'a/../b', 'a//b', 'a/./b', '..', 'a\\b', 'a/b c', '.hidden/x']) {
    it(`rejects the key ${JSON.stringify(bad)}`, () => {
      assert.throws(() => assertArtifactKey(bad), /artifact key/);
    });
  }
});
