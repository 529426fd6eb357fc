import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createPipelineActivities } from '../../activities/pipeline';
import { createRepackActivities } from '../../activities/repack';
import { openArtifactStore } from '../../src/artifacts/store';
import { calibrationFromProbe, calibrationKey } from '../../src/capacity/served-path';
import type { TraceBatchRecord } from '../../src/domain/pipeline-stages';
import { packFailed } from '../../src/fleet/pack-failed';
import type { Placement } from '../../src/packing';
import { C5_XLARGE } from '../support/catalogs';

/**
 * The pack stage of `pipeline` and of `repack` over one artifact store. Placement ids are content
 * addresses that earlier runs' caches and fleet states hold, so they are pinned here: a change to how
 * the problem is assembled (key order, model order, demand figures) shows up as a different id.
 */

function traced(modelId: string, memoryGiB: number, forwardMs: number | null) {
  return {
    modelId,
    artifact: { prefix: `traces/${modelId}/` },
    cached: false,
    attempt: 1,
    resumedFrom: null,
    demand: {
      processor: 'cpu',
      expectedRequestsPerSecond: 2,
      memoryGiB,
      compute: forwardMs === null ? null : (2 * forwardMs) / 1000,
      hostMemoryGiB: 0.1,
      forwardMs,
    },
  };
}

// Mixed case: a locale-aware sort and a code-unit sort order these differently.
const batch = {
  processor: 'cpu',
  traced: [traced('beta', 2, 40), traced('Zeta', 1, 20), traced('alpha', 3, null)],
  failed: [],
} as unknown as TraceBatchRecord;

const tooLarge = {
  processor: 'cpu',
  traced: Array.from({ length: 7 }, (_, i) => traced(`huge-${i}`, 64, 10)),
  failed: [],
} as unknown as TraceBatchRecord;

describe('the pack stage of pipeline and repack', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-fleet-pack-'));
  const artifacts = openArtifactStore(root);
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  const pipeline = createPipelineActivities(artifacts);
  const repack = createRepackActivities(artifacts);
  const limits = { memoryFraction: 0.9 };

  before(async () => {
    await artifacts.writeJson('runs/p/trace-0.json', batch);
    await artifacts.writeJson('runs/huge/trace-0.json', tooLarge);
  });

  it('packs traced demands into a content-addressed placement, and finds it again', async () => {
    const input = { runId: 'p', traceBatches: ['runs/p/trace-0.json'], catalog: [C5_XLARGE], limits };
    const first = await pipeline.packPlacement(input);
    assert.equal(first.placementId, '3560356ee0c80bd6');
    assert.equal(first.placementKey, `placements/${first.placementId}.json`);
    assert.equal(first.cached, false);
    const placement = await artifacts.readJson<Placement>(first.placementKey);
    assert.deepEqual(placement.instances, first.instances);
    assert.deepEqual(first.processors, ['cpu']);
    const again = await pipeline.packPlacement({ ...input, runId: 'p2' });
    assert.equal(again.placementId, first.placementId);
    assert.equal(again.cached, true);
  });

  it('computes demands with the served-path calibration of their processor', async () => {
    const setup = {
      image: 'local-torch-x',
      processor: 'cpu',
      instanceType: 'c5.xlarge',
      maxBatch: 8,
      batchWindowMs: 2,
      sloP90Ms: 100,
    };
    const key = calibrationKey(setup);
    await artifacts.writeJson(
      key,
      calibrationFromProbe(setup, {
        measuredAt: '2026-12-07T18:00:00.000Z',
        models: ['beta'],
        concurrency: 16,
        windows: [40, 40, 40],
        stable: true,
        saturationRps: 40,
        meanForwardMs: 10,
      }),
    );
    const result = await pipeline.packPlacement({
      runId: 'p3',
      traceBatches: ['runs/p/trace-0.json'],
      catalog: [C5_XLARGE],
      limits,
      calibrations: [key],
    });
    assert.equal(result.placementId, '1837f0416278b788');
    assert.deepEqual(Object.keys(result.calibrations ?? {}), ['cpu']);
  });

  it('packs a repack inventory to the same content address each time', async () => {
    await artifacts.writeJson('runs/r/inventory.json', {
      models: ['beta', 'Zeta', 'alpha'].map((id) => ({ id, source: `file:///models/${id}.pt` })),
    });
    const input = {
      runId: 'r',
      name: 'fleet-pack-test',
      inventory: 'inventories/fleet-pack-test.json',
      processors: ['cpu' as const],
      trace: {},
      expectedRatePerModel: 2,
      traceBatches: ['runs/p/trace-0.json'],
      catalog: [C5_XLARGE],
      limits,
      minSavingsFraction: 0.05,
    } as unknown as Parameters<typeof repack.packRepack>[0];
    const result = await repack.packRepack(input);
    assert.equal(result.placementKey, 'placements/4465c0a1ecc2a636.json');
    assert.equal(result.decision, 'initial');
    assert.equal(result.instanceType, 'c5.xlarge');
  });

  it('names the models no instance type could hold, in the same words in both stages', async () => {
    const packed = await pipeline.packPlacement({
      runId: 'huge',
      traceBatches: ['runs/huge/trace-0.json'],
      catalog: [C5_XLARGE],
      limits,
    });
    assert.equal(packed.unplaced.length, 7);
    await artifacts.writeJson('runs/huge/inventory.json', {
      models: tooLarge.traced.map((t) => ({ id: t.modelId, source: `file:///models/${t.modelId}.pt` })),
    });
    await assert.rejects(
      repack.packRepack({
        runId: 'huge',
        name: 'fleet-pack-huge',
        inventory: 'inventories/fleet-pack-huge.json',
        processors: ['cpu'],
        trace: {},
        expectedRatePerModel: 2,
        traceBatches: ['runs/huge/trace-0.json'],
        catalog: [C5_XLARGE],
        limits,
        minSavingsFraction: 0.05,
      } as unknown as Parameters<typeof repack.packRepack>[0]),
      (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure && err.nonRetryable);
        assert.equal(err.type, 'PackFailed');
        assert.match(
          err.message,
          /^no model could be placed on any instance type of the catalog: huge-0: fits no device of any instance type \(c5\.xlarge: memory 64 GiB > 7\.2 GiB\); huge-1: /,
        );
        assert.match(err.message, /huge-4: [^;]*\(and 2 more\)$/);
        assert.doesNotMatch(err.message, /huge-5/);
        // The pipeline workflow raises the same failure from the same unplaced list.
        assert.equal(err.message, packFailed(packed.unplaced).message);
        return true;
      },
    );
  });

  it('refuses a problem the packer rejects as input, without retrying', async () => {
    await assert.rejects(
      pipeline.packPlacement({
        runId: 'bad',
        traceBatches: ['runs/p/trace-0.json'],
        catalog: [{ ...C5_XLARGE, devices: 0 }],
        limits,
      }),
      (err: unknown) => err instanceof ApplicationFailure && err.nonRetryable && err.type === 'InvalidInput',
    );
  });
});
