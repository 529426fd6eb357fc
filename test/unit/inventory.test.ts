import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openArtifactStore } from '../../src/artifacts/store';
import {
  addModel,
  inventoryHash,
  InventoryError,
  ModelExistsError,
  ModelNotFoundError,
  readInventory,
  removeModel,
} from '../../src/inventory';

describe('model inventory (add, remove, list through the artifact store)', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-inventory-'));
  const store = openArtifactStore(root);
  const file = path.join(root, 'inventory', 'models.json');

  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('starts empty, adds models in order and writes a valid manifest', async () => {
    assert.equal(await readInventory(store), null);
    await addModel(store, { id: 'bert-a', source: './models/a' });
    const after = await addModel(store, { id: 'bert-b', source: 'bert-base-uncased' });
    assert.deepEqual(
      after.models.map((m) => m.id),
      ['bert-a', 'bert-b'],
    );
    const onDisk = JSON.parse(fs.readFileSync(file, 'utf8')) as { models: { id: string }[] };
    assert.deepEqual(onDisk, { models: after.models });
    assert.equal((await readInventory(store))?.sha256, after.sha256);
  });

  it('refuses a duplicate id and a malformed entry, and then writes nothing', async () => {
    const before = fs.readFileSync(file, 'utf8');
    await assert.rejects(addModel(store, { id: 'bert-a', source: './elsewhere' }), ModelExistsError);
    await assert.rejects(
      addModel(store, { id: '../etc', source: '' }),
      (err: unknown) =>
        err instanceof InventoryError &&
        /\/id: must be lowercase/.test(err.message) &&
        /\/source:/.test(err.message),
    );
    await assert.rejects(addModel(store, { id: 'ok', source: 'x', extra: 1 }), InventoryError);
    assert.equal(fs.readFileSync(file, 'utf8'), before);
  });

  it('refuses an inventory key that climbs out of the store', async () => {
    await assert.rejects(addModel(store, { id: 'm', source: 's' }, '../outside.json'), InventoryError);
    assert.equal(fs.existsSync(path.join(root, '..', 'outside.json')), false);
  });

  it('removes a model, refuses an unknown one and keeps the last', async () => {
    const after = await removeModel(store, 'bert-a');
    assert.deepEqual(
      after.models.map((m) => m.id),
      ['bert-b'],
    );
    await assert.rejects(removeModel(store, 'bert-a'), ModelNotFoundError);
    await assert.rejects(removeModel(store, 'bert-b'), /last model/);
    assert.deepEqual((await readInventory(store))?.models, after.models);
  });

  it('reports every problem of a hand-edited inventory', async () => {
    await store.writeJson('inventory/bad.json', {
      models: [
        { id: 'x', source: 'a' },
        { id: 'x', source: 'b' },
      ],
    });
    await assert.rejects(readInventory(store, 'inventory/bad.json'), /duplicate of models\[0\]\.id "x"/);
    await store.write('inventory/broken.json', '{ not json');
    await assert.rejects(readInventory(store, 'inventory/broken.json'), /is not JSON/);
  });

  it('concurrent edits in one process all land', async () => {
    const key = 'inventory/concurrent.json';
    const ids = Array.from({ length: 20 }, (_, i) => `c-${i}`);
    const settled = await Promise.allSettled([
      ...ids.map((id) => addModel(store, { id, source: `./${id}` }, key)),
      addModel(store, { id: 'c-3', source: './again' }, key),
    ]);
    assert.equal(settled.filter((s) => s.status === 'rejected').length, 1, 'only the duplicate is refused');
    const listed = (await readInventory(store, key))!.models.map((m) => m.id);
    assert.deepEqual([...listed].sort(), [...ids].sort());
    await Promise.all(ids.slice(0, 10).map((id) => removeModel(store, id, key)));
    assert.deepEqual(
      (await readInventory(store, key))!.models.map((m) => m.id),
      ids.slice(10),
    );
  });

  it('hashes the set of models, not the file layout', () => {
    const a = { id: 'a', source: 's1' };
    const b = { id: 'b', source: 's2' };
    assert.equal(inventoryHash([a, b]), inventoryHash([b, a]));
    assert.notEqual(inventoryHash([a, b]), inventoryHash([a, { ...b, source: 's3' }]));
    assert.notEqual(inventoryHash([a]), inventoryHash([a, b]));
  });
});
