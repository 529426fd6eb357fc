import assert from 'node:assert/strict';
import { minSlack } from '../../../src/packing/heuristics/min-slack';
import { itemCentric } from '../../../src/packing/heuristics/item-centric';
import { homeTypes, sortedBy } from '../../../src/packing/measures';
import { prepare } from '../../../src/packing/prepare';
import { assertFeasible } from './packing-check';
import { randomCatalogProblem, seeded, unitBinProblem } from './fixtures';

describe('minimum-slack construction', () => {
  it('fills instances in both dimensions where first- and best-fit leave one of them slack', () => {
    // Anti-correlated shapes (memory + compute ≈ 0.5): four fit one bin only when their memory and their
    // compute both sum to about 1, which greedy fits stop pairing up long before the last bins.
    for (const seed of [1, 2]) {
      const r = seeded(seed);
      const items = Array.from({ length: 400 }, (): [number, number] => {
        const a = 0.1 + 0.3 * r();
        return [a, Math.max(0.01, 0.5 - a + 0.1 * (r() - 0.5))];
      });
      const problem = unitBinProblem(items);
      const p = prepare(problem);
      const order = sortedBy(p, homeTypes(p), 'max');
      const pk = minSlack(p, -1);
      assertFeasible(problem, pk);
      const volume = Math.ceil(Math.max(...[0, 1].map((d) => items.reduce((s, x) => s + x[d], 0))));
      assert.ok(pk.bins.length <= volume + 2, `${pk.bins.length} bins, volume bound ${volume}`);
      const greedy = Math.min(
        itemCentric(p, order, { fit: 'first', fixedType: -1 }).bins.length,
        itemCentric(p, order, { fit: 'best', fixedType: -1 }).bins.length,
      );
      assert.ok(pk.bins.length < greedy, `${pk.bins.length} bins, greedy fits ${greedy}`);
    }
  });

  it('keeps every device, host and processor constraint on multi-device, mixed-processor catalogs', () => {
    const problem = randomCatalogProblem(400, 9);
    const p = prepare(problem);
    for (const fixed of [-1, ...p.types.map((_, t) => t)]) assertFeasible(problem, minSlack(p, fixed));
    assertFeasible(problem, minSlack(p, -1, { deep: true }));
  });
});
