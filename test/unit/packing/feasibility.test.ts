import assert from 'node:assert/strict';
import { checkPlacement, pack, type Placement } from '../../../src/packing';
import { postCatalog, randomCatalogProblem, randomVectorProblem } from './fixtures';

describe('packing feasibility (independent checker)', () => {
  it('the checker catches an overfull device, a duplicate and a missing model', () => {
    const problem = randomVectorProblem(3, 1, 0.6, 0.7);
    const bad: Placement = {
      costPerHour: 1,
      lowerBoundPerHour: 1,
      instances: [{ type: 'box', devices: [['v-0', 'v-1', 'v-1']] }],
      unplaced: [],
      stats: { elapsedMs: 0, algorithm: 'hand-made' },
    };
    const found = checkPlacement(problem, bad);
    assert.ok(
      found.some((v) => /memory .* over cap/.test(v)),
      found.join('\n'),
    );
    assert.ok(
      found.some((v) => /"v-1" also at/.test(v)),
      found.join('\n'),
    );
    assert.ok(
      found.some((v) => /"v-2" is neither placed nor unplaced/.test(v)),
      found.join('\n'),
    );
  });

  for (const [name, problem] of [
    ['2-D vectors, small items', randomVectorProblem(400, 3, 0.02, 0.3)],
    ['2-D vectors, large items', randomVectorProblem(200, 4, 0.2, 0.7)],
    ['post catalog, mixed processors', randomCatalogProblem(300, 5)],
    ['post catalog, exact-MIP size', randomCatalogProblem(25, 6)],
  ] as const) {
    it(`every placement passes the checker: ${name}`, async () => {
      const placement = await pack({ ...problem, timeLimitMs: 600 });
      assert.deepEqual(checkPlacement(problem, placement), []);
      assert.ok(placement.lowerBoundPerHour > 0);
      assert.equal(placement.unplaced.length, 0);
    });
  }

  it('respects availability and reports what does not fit', async () => {
    const problem = {
      instanceTypes: postCatalog()
        .map((t) => ({ ...t, available: 1 }))
        .slice(0, 1),
      models: Array.from({ length: 20 }, (_, i) => ({
        id: `m${i}`,
        demands: { inf: { memoryGiB: 0.3, compute: 3, hostMemoryGiB: 0.63 } },
      })),
      timeLimitMs: 300,
    };
    const placement = await pack(problem);
    assert.deepEqual(checkPlacement(problem, placement), []);
    assert.equal(placement.instances.length, 1);
    assert.equal(placement.unplaced.length, 8);
  });
});
