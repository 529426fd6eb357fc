import assert from 'node:assert/strict';
import { checkPlacement, pack, type PackingProblem } from '../../../src/packing';
import { itemCentric } from '../../../src/packing/heuristics/item-centric';
import { binCompletion } from '../../../src/packing/improve/completion';
import { homeTypes, sortedBy } from '../../../src/packing/measures';
import { prepare } from '../../../src/packing/prepare';
import { randomVectorProblem, seeded } from './fixtures';

/** `bins` unit bins filled exactly in both dimensions, each split at random into 2–4 models. */
function perfectSplit(bins: number, seed: number): PackingProblem {
  const r = seeded(seed);
  const items: [number, number][] = [];
  for (let b = 0; b < bins; b++) {
    const k = 2 + Math.floor(r() * 3);
    const cut = (): number[] => {
      const c = new Set<number>();
      while (c.size < k - 1) c.add(1 + Math.floor(r() * 999));
      const s = [...c].sort((x, y) => x - y);
      return [...s, 1000].map((v, j) => (v - (j === 0 ? 0 : s[j - 1])) / 1000);
    };
    const m = cut();
    const c = cut();
    for (let j = 0; j < k; j++) items.push([m[j], c[j]]);
  }
  return {
    instanceTypes: [
      { name: 'bin', processor: 'cpu', pricePerHour: 1, devices: 1, device: { memoryGiB: 1, compute: 1 } },
    ],
    limits: { memoryFraction: 1, computeFraction: 1 },
    models: items.map(([m, c], i) => ({ id: `i${i}`, demands: { cpu: { memoryGiB: m, compute: c } } })),
  };
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
  it('packs every model feasibly, within the time limit, and beats first-fit decreasing', async () => {
    const problem = randomVectorProblem(21_000, 7, 0.1, 0.4);
    const placement = await pack({ ...problem, timeLimitMs: 3000 });
    assert.deepEqual(checkPlacement(problem, placement), []);
    assert.equal(placement.unplaced.length, 0);
    assert.match(placement.stats.algorithm, /chunks/);
    assert.ok(placement.stats.elapsedMs < 4500, `${placement.stats.elapsedMs} ms`);
    assert.ok(placement.lowerBoundPerHour <= placement.costPerHour);
    const p = prepare(problem);
    const ffd = itemCentric(p, sortedBy(p, homeTypes(p), 'max'), { fit: 'first', fixedType: -1 }).cost();
    assert.ok(placement.costPerHour < ffd, `${placement.costPerHour} vs FFD ${ffd}`);
  });
});
