import assert from 'node:assert/strict';
import { calibrationKey, type ServingSetup } from '../../src/capacity/served-path';
import { wholeCores } from '../../src/kubernetes/manifests';
import { chooseServerSettings, serverSettingsArgs } from '../../src/domain/server-settings';

describe('model server settings', () => {
  it('gives a small model one worker per core with one torch thread each', () => {
    assert.deepEqual(
      chooseServerSettings({ processor: 'cpu', cores: 4, heaviestForwardMs: 2, sloP90Ms: 100 }),
      {
        workers: 4,
        threads: 1,
      },
    );
    // Unmeasured models are taken as small.
    assert.deepEqual(
      chooseServerSettings({ processor: 'cpu', cores: 2, heaviestForwardMs: null, sloP90Ms: 100 }),
      {
        workers: 2,
        threads: 1,
      },
    );
  });

  it('gives a model whose pass outlasts a quarter of the SLO more threads per pass and fewer workers', () => {
    // 150 ms at one thread against a 300 ms SLO (75 ms budget): two threads per pass.
    assert.deepEqual(
      chooseServerSettings({ processor: 'cpu', cores: 8, heaviestForwardMs: 150, sloP90Ms: 300 }),
      { workers: 4, threads: 2 },
    );
    // Never more threads than cores, never no worker.
    assert.deepEqual(
      chooseServerSettings({ processor: 'cpu', cores: 2, heaviestForwardMs: 10_000, sloP90Ms: 100 }),
      { workers: 1, threads: 2 },
    );
  });

  it('runs an accelerator with one worker', () => {
    assert.deepEqual(
      chooseServerSettings({ processor: 'gpu', cores: 8, heaviestForwardMs: 5, sloP90Ms: 100 }),
      {
        workers: 1,
        threads: 1,
      },
    );
  });

  it('passes the settings as the server arguments', () => {
    assert.deepEqual(serverSettingsArgs({ workers: 3, threads: 2 }), ['--workers', '3', '--threads', '2']);
  });

  it('reads whole cores from a Kubernetes CPU quantity', () => {
    assert.deepEqual(['2', '1.5', '500m', '4000m', 'x'].map(wholeCores), [2, 1, 1, 4, 1]);
  });

  it('keys a calibration by the server settings it was measured with', () => {
    const setup: ServingSetup = {
      image: 'local-torch-2.5.1',
      processor: 'cpu',
      instanceType: 'local-cpu',
      maxBatch: 8,
      batchWindowMs: 2,
      sloP90Ms: 100,
    };
    const before = calibrationKey(setup);
    const two = calibrationKey({ ...setup, workers: 2, threads: 1 });
    const one = calibrationKey({ ...setup, workers: 1, threads: 2 });
    assert.equal(before, 'calibration/cpu/local-cpu/local-torch-2.5.1-b8-w2-slo100.json');
    assert.equal(new Set([before, two, one]).size, 3);
  });
});
