import assert from 'node:assert/strict';
import { itemCentric } from '../../../src/packing/heuristics/item-centric';
import { rng } from '../../../src/packing/improve/random';
import { recreateStep } from '../../../src/packing/improve/recreate';
import { homeTypes, sortedBy } from '../../../src/packing/measures';
import { prepare } from '../../../src/packing/prepare';
import { randomCatalogProblem, seeded, unitBinProblem } from './fixtures';
import { assertFeasible } from './packing-check';

describe('ruin and recreate', () => {
  it('never loses a model or raises the cost, and drains a first-fit packing', () => {
    const r = seeded(5);
    const items = Array.from({ length: 300 }, (): [number, number] => {
      const a = 0.1 + 0.3 * r();
      return [a, Math.max(0.01, 0.5 - a + 0.1 * (r() - 0.5))];
    });
    const problem = unitBinProblem(items);
    const p = prepare(problem);
    const pk = itemCentric(p, sortedBy(p, homeTypes(p), 'max'), { fit: 'first', fixedType: -1 });
    const start = pk.cost();
    const random = rng(1);
    for (let step = 0; step < 400; step++) {
      const before = pk.cost();
      recreateStep(pk, random);
      assert.ok(pk.cost() <= before + 1e-9, `step ${step} raised the cost from ${before} to ${pk.cost()}`);
    }
    pk.dropEmpty();
    assertFeasible(problem, pk);
    assert.ok(pk.cost() < start, `no instance saved from ${start}`);
  });

  it('keeps device, host and processor constraints on mixed catalogs, and honours maxMoves', () => {
    const problem = randomCatalogProblem(200, 31);
    const p = prepare(problem);
    const pk = itemCentric(p, sortedBy(p, homeTypes(p), 'max'), { fit: 'first', fixedType: -1 });
    pk.homeBin = new Int32Array(p.n).fill(-1);
    pk.homeDev = new Int32Array(p.n).fill(-1);
    pk.bins.forEach((bin, k) => {
      bin.origin = k;
      bin.items.forEach((ids, d) =>
        ids.forEach((i) => {
          pk.homeBin![i] = k;
          pk.homeDev![i] = d;
        }),
      );
    });
    const random = rng(2);
    for (let step = 0; step < 200; step++) recreateStep(pk, random, 3);
    pk.dropEmpty();
    assertFeasible(problem, pk);
    assert.ok(pk.moves <= 3, `${pk.moves} moves against maxMoves 3`);
  });
});
