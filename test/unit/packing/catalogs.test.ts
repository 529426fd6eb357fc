import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { checkPlacement, pack, validatePackingProblem, type PackingProblem } from '../../../src/packing';
import { cheapestShareFfd } from '../../../src/packing/heuristics/assignment';
import { downgrade } from '../../../src/packing/improve/downgrade';
import { prepare } from '../../../src/packing/prepare';
import { mixedCatalogProblem, postCatalog, randomCatalogProblem } from './fixtures';

const root = path.resolve(__dirname, '../../../..');
const post = (): PackingProblem =>
  JSON.parse(readFileSync(path.join(root, 'examples/packing/post-3040-bert-base.json'), 'utf8'));

function greedyCost(problem: PackingProblem): number {
  const pk = cheapestShareFfd(prepare(problem));
  downgrade(pk);
  return pk.cost();
}

const spotShare = (
  problem: PackingProblem,
  placement: { instances: { type: string; market?: string }[] },
) => {
  const devices = (name: string) => problem.instanceTypes.find((t) => t.name === name)!.devices;
  let spot = 0;
  let all = 0;
  for (const inst of placement.instances) {
    all += devices(inst.type);
    if (inst.market === 'spot') spot += devices(inst.type);
  }
  return spot / all;
};

describe('packing on mixed catalogs', function () {
  this.timeout(120_000);

  it('is never more expensive than the hand-rolled cheapest-share greedy, with and without quotas', async () => {
    for (const [k, opts] of [
      {},
      { processors: 3 as const },
      { quotas: true },
      { processors: 3 as const, quotas: true },
    ].entries()) {
      const problem = mixedCatalogProblem(400, 50 + k, opts);
      const placement = await pack({ ...problem, timeLimitMs: 1500 });
      assert.deepEqual(checkPlacement(problem, placement), []);
      assert.equal(placement.unplaced.length, 0);
      const greedy = greedyCost(problem);
      assert.ok(
        placement.costPerHour <= greedy + 1e-9,
        `case ${k}: ${placement.costPerHour} vs greedy ${greedy}`,
      );
    }
  });

  it('chooses processor and instance size jointly: cheaper than greedy where one-device types of two processors compete', async () => {
    const base = randomCatalogProblem(600, 101);
    const problem = { ...base, instanceTypes: base.instanceTypes.filter((t) => t.name !== 'inf1.2xlarge') };
    const placement = await pack({ ...problem, timeLimitMs: 3000 });
    assert.deepEqual(checkPlacement(problem, placement), []);
    const greedy = greedyCost(problem);
    assert.match(placement.stats.algorithm, /multiple-choice LP/);
    assert.ok(placement.costPerHour < 0.97 * greedy, `${placement.costPerHour} vs greedy ${greedy}`);
  });

  it("packs the post's 3,040 models at their optimum when inf1.2xlarge is capped at 100", async () => {
    const problem = post();
    problem.instanceTypes = problem.instanceTypes.map((t) =>
      t.name === 'inf1.2xlarge' ? { ...t, available: 100 } : t,
    );
    const placement = await pack({ ...problem, timeLimitMs: 3000 });
    assert.deepEqual(checkPlacement(problem, placement), []);
    // 95 inf1.2xlarge × 24 models + 10 inf1.6xlarge × 76 (host memory): proven by the bounded knapsack.
    assert.equal(placement.costPerHour, 46.19);
    assert.equal(placement.lowerBoundPerHour, 46.19);
  });
});

describe('packing with spot capacity', function () {
  this.timeout(60_000);
  const catalog = (): PackingProblem['instanceTypes'] => {
    const onDemand = postCatalog().filter((t) => t.name === 'inf1.6xlarge' || t.name === 'inf1.xlarge');
    return [
      ...onDemand,
      ...onDemand.map((t) => ({ ...t, market: 'spot' as const, pricePerHour: t.pricePerHour * 0.35 })),
    ];
  };

  it('uses spot where it is cheaper, and holds maxSpotFraction of the devices when given', async () => {
    const models = post()
      .models.slice(0, 760)
      .map((m) => ({ id: m.id, demands: { inf: m.demands.inf } }));
    const free = await pack({ instanceTypes: catalog(), models, timeLimitMs: 1000 });
    assert.deepEqual(checkPlacement({ instanceTypes: catalog(), models }, free), []);
    assert.equal(spotShare({ instanceTypes: catalog(), models }, free), 1);
    for (const cap of [0, 0.3, 0.5]) {
      const problem: PackingProblem = {
        instanceTypes: catalog(),
        models,
        limits: { maxSpotFraction: cap },
        timeLimitMs: 1000,
      };
      const placement = await pack(problem);
      assert.deepEqual(checkPlacement(problem, placement), [], `cap ${cap}`);
      assert.equal(placement.unplaced.length, 0);
      const share = spotShare(problem, placement);
      assert.ok(share <= cap + 1e-9, `cap ${cap}: ${share}`);
      if (cap > 0) assert.ok(share > 0, `cap ${cap}: no spot used at all`);
      assert.ok(placement.costPerHour >= free.costPerHour - 1e-9);
    }
  });

  it('refuses a type twice in one market, an out-of-range maxSpotFraction and a cap with no on-demand type', () => {
    const [t] = postCatalog();
    const models = [{ id: 'm', demands: { inf: { memoryGiB: 1, compute: 1 } } }];
    const twice = validatePackingProblem({ instanceTypes: [t, { ...t, pricePerHour: 0.1 }], models });
    assert.equal(twice.ok, false);
    assert.match(
      !twice.ok ? twice.defects.join('\n') : '',
      /instanceTypes\[1\]\.name: duplicate of instanceTypes\[0\]/,
    );
    assert.equal(validatePackingProblem({ instanceTypes: [t, { ...t, market: 'spot' }], models }).ok, true);
    const range = validatePackingProblem({ instanceTypes: [t], models, limits: { maxSpotFraction: 1.5 } });
    assert.match(!range.ok ? range.defects.join('\n') : '', /limits\.maxSpotFraction: must be in \[0, 1\]/);
    const market = validatePackingProblem({ instanceTypes: [{ ...t, market: 'preemptible' }], models });
    assert.match(
      !market.ok ? market.defects.join('\n') : '',
      /instanceTypes\[0\]\.market: must be "on-demand" or "spot"/,
    );
    const allSpot = validatePackingProblem({
      instanceTypes: [{ ...t, market: 'spot' }],
      models,
      limits: { maxSpotFraction: 0.5 },
    });
    assert.match(
      !allSpot.ok ? allSpot.defects.join('\n') : '',
      /limits\.maxSpotFraction: every instance type is spot; at least one on-demand type/,
    );
  });
});
