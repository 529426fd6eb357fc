import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createCapacityActivities } from '../../activities/capacity';
import { openArtifactStore } from '../../src/artifacts/store';
import type { CapacityPlan } from '../../src/capacity/plan';
import { type Calibration, calibrationFromProbe, calibrationKey } from '../../src/capacity/served-path';
import { projectPaths } from '../../src/config/paths';
import type { TraceBatchRecord } from '../../src/domain/pipeline-stages';

const setup = {
  image: 'local-torch-x',
  processor: 'cpu',
  instanceType: 'local-cpu',
  maxBatch: 8,
  batchWindowMs: 2,
  sloP90Ms: 100,
};

function traced(modelId: string, forwardMs: number | undefined, compute: number | null = null) {
  return {
    modelId,
    demand: {
      processor: 'cpu',
      expectedRequestsPerSecond: 2,
      memoryGiB: 0.01,
      compute,
      hostMemoryGiB: 0.01,
      forwardMs,
    },
  };
}

describe('capacity activities', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-capacity-'));
  const artifacts = openArtifactStore(root);
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  const activities = (loadAverage: number) =>
    createCapacityActivities(projectPaths(), artifacts, { loadAverage: () => loadAverage, cpus: 2 });

  it('samples the probe’s models across the fleet’s forward times, fastest to slowest', async () => {
    const batch = {
      processor: 'cpu',
      traced: [
        ...Array.from({ length: 9 }, (_, i) => traced(`m-${i}`, 1 + i)),
        // A profile from before forwardMs: its forward time is rate / compute.
        traced('old', undefined, 0.02),
      ],
      failed: [],
    } as unknown as TraceBatchRecord;
    await artifacts.writeJson('runs/r/trace-0.json', batch);
    const sample = await activities(0).chooseProbeSample({
      traceBatches: ['runs/r/trace-0.json'],
      processor: 'cpu',
      size: 3,
    });
    assert.deepEqual(sample.models, ['m-0', 'm-5', 'old']);
    assert.equal(sample.meanForwardMs, (1 + 6 + 10) / 3);
    await assert.rejects(
      activities(0).chooseProbeSample({ traceBatches: ['runs/r/trace-0.json'], processor: 'gpu', size: 3 }),
      (err: unknown) => err instanceof ApplicationFailure && err.nonRetryable && err.type === 'InvalidInput',
    );
  });

  async function planWith(calibration: Calibration): Promise<string> {
    const key = calibrationKey(setup);
    await artifacts.writeJson(key, calibration);
    const plan: CapacityPlan = {
      computeCap: 0.83,
      calibrations: {
        cpu: {
          key,
          probedAt: calibration.probe.measuredAt,
          checkedAt: null,
          probeTrusted: true,
          openLoopShare: null,
          overheadMs: calibration.overheadMs,
          forwardScale: calibration.forwardScale,
          capacityFactor: calibration.capacityFactor,
        },
      },
      devices: [
        {
          device: 'local-cpu#0/dev0',
          models: 24,
          expectedRps: 48,
          compute: 0.12,
          plannedRps: 332,
          forwardOnlyRps: 1660,
        },
      ],
    };
    await artifacts.writeJson('runs/r/capacity-plan.json', plan);
    return 'runs/r/capacity-plan.json';
  }

  const probe = {
    measuredAt: '2026-12-07T18:00:00.000Z',
    models: ['a'],
    concurrency: 16,
    windows: [400, 400, 400],
    stable: true,
    saturationRps: 400,
    meanForwardMs: 0.5,
  };

  it('records the check and corrects the calibration the plan used by measured / planned', async () => {
    const planKey = await planWith(calibrationFromProbe(setup, probe));
    const measured = [{ device: 'local-cpu#0/dev0', kneeRps: 249 }];
    const { key, check } = await activities(1).recordCapacityCheck({ runId: 'r', planKey, measured });
    assert.equal(key, 'runs/r/capacity-check.json');
    assert.deepEqual(await artifacts.readJson(key), check);
    assert.equal(check.verdict, 'promise broken');
    assert.equal(check.ratio, 0.75);
    assert.equal(check.devices[0].forwardOnlyRatio, 0.15);
    assert.equal(check.note, undefined);
    const corrected = await artifacts.readJson<Calibration>(calibrationKey(setup));
    assert.equal(corrected.capacityFactor, 0.75);
    assert.deepEqual(
      corrected.checks.map((c) => [c.runId, c.ratio]),
      [['r', 0.75]],
    );
    // A retried activity applies the same check once.
    await activities(1).recordCapacityCheck({ runId: 'r', planKey, measured });
    assert.equal((await artifacts.readJson<Calibration>(calibrationKey(setup))).capacityFactor, 0.75);
  });

  it('leaves the calibration alone when the machine had other work, and says so', async () => {
    const planKey = await planWith(calibrationFromProbe(setup, probe));
    const { check } = await activities(9.5).recordCapacityCheck({
      runId: 'r',
      planKey,
      measured: [{ device: 'local-cpu#0/dev0', kneeRps: 100 }],
    });
    assert.match(check.note ?? '', /load average 9\.5 on 2 CPUs/);
    assert.equal((await artifacts.readJson<Calibration>(calibrationKey(setup))).capacityFactor, 1);
  });

  it('does not correct a calibration probed again since the plan was made', async () => {
    const planKey = await planWith(calibrationFromProbe(setup, probe));
    await artifacts.writeJson(
      calibrationKey(setup),
      calibrationFromProbe(setup, { ...probe, measuredAt: '2026-12-08T00:00:00.000Z' }),
    );
    await activities(0).recordCapacityCheck({
      runId: 'r',
      planKey,
      measured: [{ device: 'local-cpu#0/dev0', kneeRps: 100 }],
    });
    const stored = await artifacts.readJson<Calibration>(calibrationKey(setup));
    assert.equal(stored.capacityFactor, 1);
    assert.deepEqual(stored.checks, []);
  });
});
