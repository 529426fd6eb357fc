import assert from 'node:assert/strict';
import { MODELS_IN_PICTURE, packingBars, packingTableHtml } from '../../activities/load/report-packing';

const fleet = (devices: number, perDevice: number) =>
  Array.from({ length: devices }, (_, d) => ({
    device: `local-cpu#0/dev${d}`,
    models: Array.from({ length: perDevice }, (_, i) => ({ modelId: `m-${d}-${i}`, memoryBytes: 2 ** 20 })),
  }));

describe('report: the packing picture at thousands of models', () => {
  it('stacks each model while the picture stays readable', () => {
    const { bars, aggregated } = packingBars(fleet(2, MODELS_IN_PICTURE / 2));
    assert.equal(aggregated, false);
    assert.equal(bars.length, MODELS_IN_PICTURE);
  });

  it('aggregates per device beyond that, and the table names every model', () => {
    const packing = fleet(2, 1520);
    const { bars, aggregated } = packingBars(packing);
    assert.equal(aggregated, true);
    assert.deepEqual(
      bars.map((b) => [b.device, b.model, b.memoryMiB]),
      [
        ['local-cpu#0/dev0', '1520 models', 1520],
        ['local-cpu#0/dev1', '1520 models', 1520],
      ],
    );
    const html = packingTableHtml(packing);
    assert.equal(html.match(/<details>/g)?.length, 2);
    assert.equal(html.match(/<tr><td>m-/g)?.length, 3040);
  });
});
