import assert from 'node:assert/strict';
import { checkPlacement, pack } from '../../../src/packing';
import { zeroWasteCompletion } from '../../../src/packing/improve/zero-waste';
import { prepare } from '../../../src/packing/prepare';
import { perfectSplitItems, randomVectorProblem, seeded, tripletItems, unitBinProblem } from './fixtures';

/** Every model once, `bins` devices, each exactly full in both dimensions. */
function assertExactPacking(items: [number, number][], bins: number): void {
  const p = prepare(unitBinProblem(items));
  const outcome = zeroWasteCompletion(p, p.placeable, bins, Date.now() + 60_000);
  assert.ok(outcome.packing, `no packing: ${outcome.reason}`);
  const devices = outcome.packing.instances.map((inst) => inst.devices[0]);
  assert.equal(devices.length, bins);
  assert.deepEqual(
    devices.flat().sort((a, b) => a - b),
    p.placeable.map((_, i) => i),
  );
  for (const device of devices)
    for (const k of [0, 1]) {
      const load = device.reduce((s, i) => s + items[i][k], 0);
      assert.ok(Math.abs(load - 1) < 1e-9, `a device holds ${load} of dimension ${k}`);
    }
}

describe('packing: zero-waste completion', () => {
  it('finds the planted packing of triplets and of 2–4-model fills at 450–500 models', () => {
    assertExactPacking(tripletItems(167, seeded(91 + 1 + 501)), 167);
    assertExactPacking(perfectSplitItems(150, seeded(77 + 1 + 450)), 150);
  });

  it('covers classes of identical models by their counts, with two patterns sharing a class', () => {
    // [.5,.3] + [.5,.7] and [.5,.3] + 2 × [.25,.35] fill a device; [.5,.3] twice does not.
    const items: [number, number][] = [
      ...Array.from({ length: 40 }, (): [number, number] => [0.5, 0.3]),
      ...Array.from({ length: 30 }, (): [number, number] => [0.5, 0.7]),
      ...Array.from({ length: 20 }, (): [number, number] => [0.25, 0.35]),
    ];
    assertExactPacking(items, 40);
  });

  it('says exhausted when the totals match but no exact partition exists, and finds nothing', () => {
    const items: [number, number][] = [
      [0.6, 0.5],
      [0.6, 0.5],
      [0.8, 1],
    ];
    const p = prepare(unitBinProblem(items));
    const outcome = zeroWasteCompletion(p, p.placeable, 2, Date.now() + 10_000);
    assert.equal(outcome.packing, undefined);
    assert.equal(outcome.reason, 'exhausted');
  });

  it('does not apply where the bound leaves waste in every dimension', () => {
    const p = prepare(randomVectorProblem(60, 5));
    const bins = Math.ceil(
      Math.max(...[0, 1].map((k) => p.placeable.reduce((s, i) => s + [p.mem, p.cpu][k][i], 0))),
    );
    const outcome = zeroWasteCompletion(p, p.placeable, bins, Date.now() + 10_000);
    assert.equal(outcome.packing, undefined);
    assert.equal(outcome.reason, 'no zero-waste dimension');
  });

  it('takes the packer to a planted optimum of 300 triplets that its other phases miss', async () => {
    const items = tripletItems(100, seeded(2026));
    const problem = unitBinProblem(items);
    // A generous budget: what is tested is the path to the optimum, not its speed on a busy machine.
    const placement = await pack({ ...problem, timeLimitMs: 60_000 });
    assert.deepEqual(checkPlacement(problem, placement), []);
    assert.equal(placement.costPerHour, 100);
    assert.match(placement.stats.algorithm, /zero-waste completion/);
  });
});
