import assert from 'node:assert/strict';
import { checkPlacement, pack, type PackingProblem } from '../../../src/packing';
import { itemCentric } from '../../../src/packing/heuristics/item-centric';
import { binCompletion } from '../../../src/packing/improve/completion';
import { homeTypes, sortedBy } from '../../../src/packing/measures';
import { prepare } from '../../../src/packing/prepare';
import { perfectSplitItems, randomVectorProblem, seeded, unitBinProblem } from './fixtures';

function perfectSplit(bins: number, seed: number): PackingProblem {
  return unitBinProblem(perfectSplitItems(bins, seeded(seed)));
}

describe('packing: bin completion', () => {
  it('finds a perfect packing that first-fit misses, and every instance passes the checker', async () => {
    for (const seed of [77, 78, 79]) {
      const problem = perfectSplit(10, seed);
      const placement = await pack({ ...problem, timeLimitMs: 3000 });
      assert.deepEqual(checkPlacement(problem, placement), []);
      assert.equal(placement.costPerHour, 10);
      assert.equal(placement.lowerBoundPerHour, 10);
    }
  });

  it('fills 11 instances where memory leaves less than 5% of one instance spare', async () => {
    // 40 models of [.1,.4]²: 10.95 instances of memory. The tight dimension leads the search order;
    // summed size first, bin completion ran out of nodes and the answer was 12.
    const r = seeded(1040);
    const problem = unitBinProblem(Array.from({ length: 40 }, () => [0.1 + 0.3 * r(), 0.1 + 0.3 * r()]));
    const p = prepare(problem);
    const sub = binCompletion(p, p.placeable, 11, Date.now() + 20_000, Infinity).packing;
    assert.ok(sub, 'no packing into 11 instances');
    const placement = await pack(problem);
    assert.deepEqual(checkPlacement(problem, placement), []);
    assert.equal(placement.costPerHour, 11);
    assert.equal(placement.lowerBoundPerHour, 11);
  });

  it('returns nothing when the waste budget rules the bin count out', () => {
    const problem = perfectSplit(5, 3);
    const p = prepare(problem);
    assert.equal(binCompletion(p, p.placeable, 4, Date.now() + 1000).infeasible, true);
    const sub = binCompletion(p, p.placeable, 5, Date.now() + 1000).packing;
    assert.ok(sub);
    assert.equal(sub.instances.length, 5);
    assert.deepEqual(
      sub.instances.flatMap((s) => s.devices.flat()).sort((a, b) => a - b),
      p.placeable,
    );
  });
});

describe('packing: large problems in chunks', () => {
  it('packs every model feasibly and beats first-fit decreasing', async () => {
    const problem = randomVectorProblem(21_000, 7, 0.1, 0.4);
    const placement = await pack({ ...problem, timeLimitMs: 3000 });
    assert.deepEqual(checkPlacement(problem, placement), []);
    assert.equal(placement.unplaced.length, 0);
    assert.match(placement.stats.algorithm, /chunks/);
    assert.ok(placement.lowerBoundPerHour <= placement.costPerHour);
    const p = prepare(problem);
    const ffd = itemCentric(p, sortedBy(p, homeTypes(p), 'max'), { fit: 'first', fixedType: -1 }).cost();
    assert.ok(placement.costPerHour < ffd, `${placement.costPerHour} vs FFD ${ffd}`);
  });
});
