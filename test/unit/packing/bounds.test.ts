import assert from 'node:assert/strict';
import { pack, type PackingProblem } from '../../../src/packing';
import { lowerBound } from '../../../src/packing/bounds/lower-bound';
import { HighsSolver } from '../../../src/packing/highs/worker';
import { maximalDeviceSets } from '../../../src/packing/device-sets';
import { gridPatternBound, patternBound, setPatternBound } from '../../../src/packing/bounds/pattern-lp';
import { demandClasses, prepare } from '../../../src/packing/prepare';
import { seeded, unitBinProblem } from './fixtures';

/** Exhaustive minimum number of unit 2-D bins for a handful of items: the ground truth for small cases. */
function optimumBins(items: [number, number][]): number {
  let best = items.length;
  const loads: [number, number][] = [];
  const place = (k: number) => {
    if (loads.length >= best) return;
    if (k === items.length) {
      best = loads.length;
      return;
    }
    const [a, b] = items[k];
    for (const l of loads) {
      if (l[0] + a <= 1 + 1e-9 && l[1] + b <= 1 + 1e-9) {
        l[0] += a;
        l[1] += b;
        place(k + 1);
        l[0] -= a;
        l[1] -= b;
      }
    }
    loads.push([a, b]);
    place(k + 1);
    loads.pop();
  };
  place(0);
  return best;
}

function vectorProblem(items: [number, number][]): PackingProblem {
  return {
    instanceTypes: [
      { name: 'box', processor: 'cpu', pricePerHour: 1, devices: 1, device: { memoryGiB: 1, compute: 1 } },
    ],
    limits: { memoryFraction: 1, computeFraction: 1 },
    models: items.map(([m, c], i) => ({ id: `i${i}`, demands: { cpu: { memoryGiB: m, compute: c } } })),
    timeLimitMs: 500,
  };
}

describe('packing lower bounds', () => {
  it('never exceed the exhaustive optimum on small random instances', async () => {
    const r = seeded(7);
    for (let trial = 0; trial < 12; trial++) {
      const items = Array.from({ length: 9 }, () => [0.05 + r() * 0.6, 0.05 + r() * 0.6] as [number, number]);
      const optimum = optimumBins(items);
      const placement = await pack(vectorProblem(items));
      assert.ok(
        placement.lowerBoundPerHour <= optimum + 1e-9,
        `bound ${placement.lowerBoundPerHour} > optimum ${optimum}`,
      );
      assert.ok(
        placement.costPerHour >= optimum - 1e-9,
        'a cost below the optimum means an infeasible placement',
      );
    }
  });

  it('equal the optimum on perfectly filled bins split at random', async () => {
    const r = seeded(11);
    const items: [number, number][] = [];
    for (let bin = 0; bin < 6; bin++) {
      const cuts = [r(), r()].sort();
      const cutsC = [r(), r()].sort();
      items.push([cuts[0], cutsC[0]], [cuts[1] - cuts[0], cutsC[1] - cutsC[0]], [1 - cuts[1], 1 - cutsC[1]]);
    }
    const placement = await pack(vectorProblem(items));
    assert.ok(placement.lowerBoundPerHour <= 6 + 1e-9);
    assert.ok(
      placement.lowerBoundPerHour >= 6 - 1e-9,
      `the volume bound of a perfect split is exact, got ${placement.lowerBoundPerHour}`,
    );
  });

  it('proves the optimum of the post scenario (identical models, mixed catalog)', async () => {
    const { postCatalog } = await import('./fixtures');
    const models = Array.from({ length: 3040 }, (_, i) => ({
      id: `bert-${i}`,
      demands: {
        inf: { memoryGiB: 0.3, compute: 3, hostMemoryGiB: 0.63 },
        gpu: { memoryGiB: 0.8, compute: 4.5, hostMemoryGiB: 0.85 },
      },
    }));
    const placement = await pack({ instanceTypes: postCatalog(), models, timeLimitMs: 2000 });
    // 123 × inf1.2xlarge (24 each) + 1 × inf1.6xlarge (76) + 1 × inf1.xlarge (12), found by enumeration.
    assert.equal(placement.lowerBoundPerHour, 45.934);
    assert.equal(placement.costPerHour, 45.934);
  });

  it('the multiple-choice LP counts whole models per device: 1,050 of a quarter device and a bit need 350', async () => {
    // Two processors with a one-device type each: the LP path, with more (model, type) pairs than the
    // exact LP takes. Memory comes in two sizes, one just over a quarter (three per device, and 1% less
    // would fit four), compute in thousands of values far from binding.
    const r = seeded(11);
    const type = (name: string, processor: string) => ({
      name,
      processor,
      pricePerHour: 1,
      devices: 1,
      device: { memoryGiB: 10, compute: 1 },
    });
    const problem: PackingProblem = {
      instanceTypes: [type('x1', 'x'), type('y1', 'y')],
      limits: { memoryFraction: 1, computeFraction: 1 },
      models: Array.from({ length: 2100 }, (_, i) => {
        const demand = { memoryGiB: i % 2 === 0 ? 2.502 : 0.5, compute: 0.01 + 0.12 * r() };
        return { id: `m${i}`, demands: { x: demand, y: { ...demand } } };
      }),
    };
    const p = prepare(problem);
    const solver = new HighsSolver();
    try {
      const bound = await lowerBound(solver, p, p.placeable, 60);
      assert.match(bound.method, /multiple-choice LP/);
      // The volume says 316; three large and four small models per device are both the bound and a packing.
      assert.equal(bound.value, 350);
    } finally {
      await solver.close();
    }
  });

  it('the pattern LP never exceeds the exhaustive optimum and beats the per-dimension bound', async () => {
    const solver = new HighsSolver();
    try {
      const r = seeded(23);
      let stronger = 0;
      for (let trial = 0; trial < 16; trial++) {
        const items = Array.from({ length: 9 }, () => [0.2 + r() * 0.4, 0.2 + r() * 0.4] as [number, number]);
        const optimum = optimumBins(items);
        const p = prepare(unitBinProblem(items));
        const pattern = await patternBound(solver, p, demandClasses(p, p.placeable), Date.now() + 2000);
        assert.ok(pattern.converged, `trial ${trial}: column generation did not converge`);
        assert.ok(pattern.value <= optimum + 1e-9, `pattern LP ${pattern.value} > optimum ${optimum}`);
        const perDimension = await lowerBound(solver, p, p.placeable, 1);
        if (Math.ceil(pattern.value - 1e-7) > perDimension.value) stronger++;
      }
      assert.ok(stronger > 0, 'the pattern LP never proved more than volume and dual-feasible functions');
    } finally {
      await solver.close();
    }
  });

  it('the grid pattern LP stays below the exact one and the optimum, and beats the per-dimension bound at 200 models', async () => {
    const solver = new HighsSolver();
    try {
      const r = seeded(29);
      for (let trial = 0; trial < 8; trial++) {
        const items = Array.from({ length: 9 }, () => [0.2 + r() * 0.4, 0.2 + r() * 0.4] as [number, number]);
        const p = prepare(unitBinProblem(items));
        const exact = await patternBound(solver, p, demandClasses(p, p.placeable), Date.now() + 2000);
        const grid = await gridPatternBound(solver, p, p.placeable, 20, Date.now() + 2000);
        assert.ok(grid.converged, `trial ${trial}: grid column generation did not converge`);
        assert.ok(grid.value <= exact.value + 1e-9, `grid ${grid.value} > exact pattern LP ${exact.value}`);
        assert.ok(grid.value <= optimumBins(items) + 1e-9);
      }
      // 200 models of [.2,.6]²: volume and dual-feasible functions prove 82 instances; the grid LP 82.75.
      const big = seeded(1200);
      const items = Array.from({ length: 200 }, (): [number, number] => [
        0.2 + 0.4 * big(),
        0.2 + 0.4 * big(),
      ]);
      const p = prepare(unitBinProblem(items));
      const perDimension = await lowerBound(solver, p, p.placeable, 1);
      const grid = await gridPatternBound(solver, p, p.placeable, 100, Date.now() + 30_000);
      assert.ok(grid.converged);
      assert.ok(
        Math.ceil(grid.value - 1e-7) > perDimension.value,
        `grid ${grid.value} vs ${perDimension.value}`,
      );
    } finally {
      await solver.close();
    }
  });

  it('the pattern LP over device sets equals the exact one, and proves 85 instances where the grid LP proves 83', async () => {
    const solver = new HighsSolver();
    try {
      const r = seeded(31);
      for (let trial = 0; trial < 8; trial++) {
        const items = Array.from({ length: 9 }, () => [0.2 + r() * 0.4, 0.1 + r() * 0.5] as [number, number]);
        const p = prepare(unitBinProblem(items));
        const exact = await patternBound(solver, p, demandClasses(p, p.placeable), Date.now() + 2000);
        const sets = maximalDeviceSets(p, p.placeable, 10_000)!;
        const overSets = await setPatternBound(solver, p, p.placeable, sets, Date.now() + 2000);
        assert.ok(
          exact.converged && overSets.converged,
          `trial ${trial}: column generation did not converge`,
        );
        assert.ok(
          Math.abs(overSets.value - exact.value) < 1e-6,
          `trial ${trial}: ${overSets.value} vs ${exact.value}`,
        );
        assert.equal(overSets.duals?.length, items.length);
      }
      // The benchmark's first [.2,.6]² instance of 200 models: its optimum is 85 (set partitioning, offline).
      const big = seeded(1200);
      const items = Array.from({ length: 200 }, (): [number, number] => [
        0.2 + 0.4 * big(),
        0.2 + 0.4 * big(),
      ]);
      const p = prepare(unitBinProblem(items));
      const sets = maximalDeviceSets(p, p.placeable, 60_000);
      assert.ok(sets, 'more than 60,000 maximal sets');
      const lp = await setPatternBound(solver, p, p.placeable, sets, Date.now() + 30_000);
      assert.ok(lp.converged);
      assert.equal(Math.ceil(lp.value - 1e-7), 85, `LP ${lp.value}`);
    } finally {
      await solver.close();
    }
  });

  it('proves optimal a 40-model [.2,.6] instance the per-dimension bounds leave two instances short', async () => {
    const r = seeded(1040);
    const items = Array.from({ length: 40 }, (): [number, number] => [0.2 + 0.4 * r(), 0.2 + 0.4 * r()]);
    const placement = await pack(unitBinProblem(items));
    assert.match(placement.stats.algorithm, /pattern LP/);
    assert.equal(placement.lowerBoundPerHour, placement.costPerHour);
    assert.equal(placement.costPerHour, 20);
  });
});
