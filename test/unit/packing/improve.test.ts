import assert from 'node:assert/strict';
import { itemCentric } from '../../../src/packing/heuristics/item-centric';
import { maximalDeviceSets } from '../../../src/packing/device-sets';
import { coverByReducedCost } from '../../../src/packing/improve/lp-cover';
import { patternWindowStep } from '../../../src/packing/improve/pattern-window';
import { setPatternBound } from '../../../src/packing/bounds/pattern-lp';
import { rng } from '../../../src/packing/improve/random';
import { recreateStep } from '../../../src/packing/improve/recreate';
import { homeTypes, sortedBy } from '../../../src/packing/measures';
import { HighsSolver } from '../../../src/packing/highs/worker';
import { prepare } from '../../../src/packing/prepare';
import { Packing } from '../../../src/packing/state';
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

describe('set-covering windows', () => {
  it('regroups models that pairs hold into triples, and leaves dense windows and mixed catalogs to the assignment MIP', async () => {
    // Nine models of 0.3 × 0.3 paired up (plus one alone): five instances where three suffice.
    const problem = unitBinProblem(Array.from({ length: 9 }, (): [number, number] => [0.3, 0.3]));
    const p = prepare(problem);
    const pk = new Packing(p);
    for (let i = 0; i < 9; i += 2) {
      const bin = pk.open(0);
      for (const j of [i, i + 1]) if (j < 9) pk.place(j, bin, 0);
    }
    const solver = new HighsSolver();
    try {
      assert.equal(await patternWindowStep(pk, solver, rng(3), Date.now() + 5000), true);
      assertFeasible(problem, pk);
      assert.equal(pk.cost(), 3);
      // 80 models of 0.02²: every device holds them all, far too many sets to enumerate.
      const dense = prepare(unitBinProblem(Array.from({ length: 80 }, (): [number, number] => [0.02, 0.02])));
      const spread = new Packing(dense);
      for (let i = 0; i < 80; i++) spread.place(i, spread.open(0), 0);
      assert.equal(await patternWindowStep(spread, solver, rng(3), Date.now() + 5000), undefined);
      // Multi-device types in the catalog: only the assignment MIP can move models onto them.
      const mixed = prepare(randomCatalogProblem(40, 45));
      const firstFit = itemCentric(mixed, sortedBy(mixed, homeTypes(mixed), 'max'), {
        fit: 'first',
        fixedType: -1,
      });
      assert.equal(await patternWindowStep(firstFit, solver, rng(3), Date.now() + 5000), undefined);
    } finally {
      await solver.close();
    }
  });
});

describe('set cover by reduced cost', () => {
  it('takes a first-fit packing of 60 [.2,.6]² models to the pattern LP, and leaves mixed catalogs alone', async () => {
    const r = seeded(60);
    const problem = unitBinProblem(
      Array.from({ length: 60 }, (): [number, number] => [0.2 + 0.4 * r(), 0.2 + 0.4 * r()]),
    );
    const p = prepare(problem);
    const pk = itemCentric(p, sortedBy(p, homeTypes(p), 'max'), { fit: 'first', fixedType: -1 });
    const solver = new HighsSolver();
    try {
      const sets = maximalDeviceSets(p, p.placeable, 60_000)!;
      const lp = await setPatternBound(solver, p, p.placeable, sets, Date.now() + 20_000, pk);
      assert.ok(lp.converged && lp.duals);
      const before = pk.cost();
      assert.equal(
        await coverByReducedCost(pk, solver, p.placeable, sets, lp.duals, Date.now() + 20_000),
        true,
      );
      assertFeasible(problem, pk);
      // First fit needs 28; the LP proves 26 and the cover meets it.
      assert.ok(before > Math.ceil(lp.value - 1e-7), `first fit ${before} already at the LP ${lp.value}`);
      assert.equal(pk.cost(), Math.ceil(lp.value - 1e-7));
      const mixed = prepare(randomCatalogProblem(40, 45));
      const firstFit = itemCentric(mixed, sortedBy(mixed, homeTypes(mixed), 'max'), {
        fit: 'first',
        fixedType: -1,
      });
      const mixedSets = maximalDeviceSets(mixed, mixed.placeable, 60_000)!;
      const duals = mixed.placeable.map(() => 0);
      assert.equal(
        await coverByReducedCost(firstFit, solver, mixed.placeable, mixedSets, duals, Date.now() + 5000),
        false,
      );
    } finally {
      await solver.close();
    }
  });
});
