import assert from 'node:assert/strict';
import { checkPlacement, pack, type PackingProblem } from '../../../src/packing';
import { CHUNK_ABOVE_MODELS } from '../../../src/packing/chunks';
import { cheapestShareFfd } from '../../../src/packing/heuristics/assignment';
import { downgrade } from '../../../src/packing/improve/downgrade';
import { prepare } from '../../../src/packing/prepare';
import { mixedCatalogProblem, seeded, unitBinProblem } from './fixtures';

function greedyCost(problem: PackingProblem): number {
  const pk = cheapestShareFfd(prepare(problem));
  downgrade(pk);
  return pk.cost();
}

describe('packing large problems in chunks', function () {
  this.timeout(300_000);

  const n = CHUNK_ABOVE_MODELS + 1000;
  const cases: { name: string; problem: () => PackingProblem; timeLimitMs: number }[] = [
    {
      name: 'random [.1,.4]² on one type',
      problem: () => {
        const r = seeded(4);
        return unitBinProblem(Array.from({ length: n }, () => [0.1 + 0.3 * r(), 0.1 + 0.3 * r()]));
      },
      timeLimitMs: 2000,
    },
    {
      // Three alike sizes (a third of a device plus a little): every chunk rounds its last instances up.
      name: 'a few alike sizes, with a budget too short for the chunks',
      problem: () => {
        const r = seeded(5);
        const sizes: [number, number][] = [
          [0.34, 0.2],
          [0.26, 0.3],
          [0.51, 0.1],
        ];
        return unitBinProblem(Array.from({ length: n }, () => sizes[Math.floor(r() * 3)]));
      },
      timeLimitMs: 50,
    },
    {
      name: 'a mixed catalog of three processors, one- and multi-device types',
      problem: () => mixedCatalogProblem(n, 6, { processors: 3 }),
      timeLimitMs: 3000,
    },
  ];

  for (const { name, problem: make, timeLimitMs } of cases) {
    it(`is never more expensive than the greedy baseline on the whole problem: ${name}`, async () => {
      const problem = make();
      const placement = await pack({ ...problem, timeLimitMs });
      assert.match(placement.stats.algorithm, /chunks/);
      assert.deepEqual(checkPlacement(problem, placement), []);
      assert.equal(placement.unplaced.length, 0);
      const greedy = greedyCost(problem);
      assert.ok(placement.costPerHour <= greedy + 1e-9, `${placement.costPerHour} vs greedy ${greedy}`);
      assert.ok(placement.lowerBoundPerHour <= placement.costPerHour);
    });
  }
});
