import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createPipelineActivities } from '../../activities/pipeline';
import { openArtifactStore } from '../../src/artifacts/store';

describe('model manifests (the inventory for lists too long to travel inline)', () => {
  const store = openArtifactStore(fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-manifest-')));
  const activities = createPipelineActivities(store);
  const models = Array.from({ length: 600 }, (_, i) => ({ id: `m-${i}`, source: `./models/m-${i}` }));

  function invalid(pattern: RegExp) {
    return (err: unknown) =>
      err instanceof ApplicationFailure &&
      err.type === 'InvalidInput' &&
      err.nonRetryable &&
      pattern.test(err.message);
  }

  it('counts a valid manifest and serves it in pages', async () => {
    await store.writeJson('inventory/models.json', { models });
    assert.deepEqual(await activities.inspectModelManifest({ key: 'inventory/models.json' }), { count: 600 });
    const page = await activities.readModelManifestPage({
      key: 'inventory/models.json',
      offset: 500,
      limit: 250,
    });
    assert.deepEqual(
      page.map((m) => m.id),
      models.slice(500).map((m) => m.id),
    );
  });

  it('refuses a manifest with duplicate ids or bad entries, naming each problem', async () => {
    await store.writeJson('inventory/bad.json', {
      models: [models[0], models[0], { id: 'Bad Id', source: '' }],
    });
    await assert.rejects(
      activities.inspectModelManifest({ key: 'inventory/bad.json' }),
      invalid(/\/models\/2\/id: must be lowercase[\s\S]*\/models\/2\/source/),
    );
    await store.writeJson('inventory/dupes.json', { models: [models[0], models[0]] });
    await assert.rejects(
      activities.inspectModelManifest({ key: 'inventory/dupes.json' }),
      invalid(/\/models\/1\/id: duplicate model id "m-0"/),
    );
  });

  it('refuses a missing manifest and one that is not JSON', async () => {
    await assert.rejects(
      activities.inspectModelManifest({ key: 'inventory/none.json' }),
      invalid(/does not exist/),
    );
    await store.write('inventory/text.json', 'models: all of them');
    await assert.rejects(
      activities.inspectModelManifest({ key: 'inventory/text.json' }),
      invalid(/is not JSON/),
    );
  });
});
