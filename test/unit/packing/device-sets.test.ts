import assert from 'node:assert/strict';
import { maximalDeviceSets } from '../../../src/packing/device-sets';
import { prepare } from '../../../src/packing/prepare';
import { seeded, unitBinProblem } from './fixtures';

describe('maximal device sets', () => {
  it('are exactly the subsets that fit one device and that no further model joins', () => {
    const r = seeded(11);
    for (let trial = 0; trial < 6; trial++) {
      const items = Array.from({ length: 11 }, (): [number, number] => [0.1 + 0.4 * r(), 0.1 + 0.4 * r()]);
      const p = prepare(unitBinProblem(items));
      const fits = (mask: number) =>
        [0, 1].every((d) => items.reduce((s, it, i) => s + (mask & (1 << i) ? it[d] : 0), 0) <= 1 + 1e-9);
      const expected: string[] = [];
      for (let mask = 1; mask < 1 << items.length; mask++) {
        if (!fits(mask)) continue;
        const grows = items.some((_, i) => !(mask & (1 << i)) && fits(mask | (1 << i)));
        if (!grows) expected.push(items.flatMap((_, i) => (mask & (1 << i) ? [i] : [])).join(','));
      }
      const sets = maximalDeviceSets(p, p.placeable, 10_000);
      assert.ok(sets, `trial ${trial}: gave up`);
      assert.ok(sets.every((s) => s.type === 0));
      const found = sets.map((s) => [...s.models].sort((a, b) => a - b).join(','));
      assert.deepEqual(found.sort(), expected.sort(), `trial ${trial}`);
    }
  });

  it('gives up past the cap, and skips types priced above the limit', () => {
    // 40 models of 0.1²: every 10 of them are a maximal set, far more than 1,000.
    const dense = prepare(unitBinProblem(Array.from({ length: 40 }, (): [number, number] => [0.1, 0.1])));
    assert.equal(maximalDeviceSets(dense, dense.placeable, 1000), undefined);
    const p = prepare(
      unitBinProblem([
        [0.6, 0.6],
        [0.6, 0.6],
      ]),
    );
    assert.equal(maximalDeviceSets(p, p.placeable, 10)?.length, 2);
    assert.deepEqual(maximalDeviceSets(p, p.placeable, 10, 0.5), []);
  });
});
