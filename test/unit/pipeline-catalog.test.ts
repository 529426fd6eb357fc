import assert from 'node:assert/strict';
import { checkPlacement, pack, validatePackingProblem, type PackingProblem } from '../../src/packing';
import { parsePipelineInput } from '../../src/pipeline/input';
import { parseRepackInput } from '../../src/domain/repack';

const onDemand = {
  name: 'inf1.xlarge',
  processor: 'inf',
  pricePerHour: 0.228,
  devices: 1,
  device: { memoryGiB: 8, compute: 1 },
};
const spot = { ...onDemand, market: 'spot', pricePerHour: 0.08, available: 3 };
const model = (id: string) => ({ id, source: `./models/${id}` });

function problems(raw: unknown): string[] {
  const parsed = parsePipelineInput(raw);
  assert.equal(parsed.ok, false, 'the input must be rejected');
  return parsed.ok ? [] : parsed.problems;
}

describe('pipeline input: catalogs as the packing contract takes them', () => {
  it('takes a spot twin and limits.maxSpotFraction, and they reach the packer as a valid problem', async () => {
    const parsed = parsePipelineInput({
      models: [model('a')],
      processors: ['inf'],
      catalog: [onDemand, spot],
      limits: { maxSpotFraction: 0.5 },
    });
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.problems.join('\n'));
    assert.equal(parsed.input.catalog?.[1].market, 'spot');
    assert.equal(parsed.input.limits.maxSpotFraction, 0.5);
    // What the pack stage builds from the input: the catalog and the limits as they are.
    const problem: PackingProblem = {
      instanceTypes: parsed.input.catalog!,
      models: Array.from({ length: 8 }, (_, i) => ({
        id: `m${i}`,
        demands: { inf: { memoryGiB: 7, compute: 0.8 } },
      })),
      limits: parsed.input.limits,
      timeLimitMs: 500,
    };
    const placement = await pack(problem);
    assert.deepEqual(checkPlacement(problem, placement), []);
    const spotInstances = placement.instances.filter((i) => i.market === 'spot').length;
    assert.equal(placement.instances.length, 8);
    assert.equal(spotInstances, 3, 'the cap allows 4 of 8 devices on spot, the quota 3');
    assert.ok(parseRepackInput({ catalog: [onDemand, spot], limits: { maxSpotFraction: 0.5 } }).ok);
  });

  it('refuses what the packing contract refuses, each with its pointer', () => {
    const found = problems({
      models: [model('a')],
      processors: ['inf'],
      catalog: [onDemand, { ...onDemand, pricePerHour: 0.3 }, { ...spot, market: 'preemptible' }],
      limits: { maxSpotFraction: 1.5 },
    });
    assert.deepEqual(found.sort(), [
      '/catalog/1/name: duplicate of catalog[0] "inf1.xlarge" (on-demand); an instance type appears at most once per market',
      "/catalog/2/market: Invalid enum value. Expected 'on-demand' | 'spot'",
      '/limits/maxSpotFraction: must be in [0, 1]',
    ]);
    assert.deepEqual(
      problems({
        models: [model('a')],
        processors: ['inf'],
        catalog: [spot],
        limits: { maxSpotFraction: 0 },
      }),
      ['/limits/maxSpotFraction: every instance type is spot; at least one on-demand type is needed'],
    );
  });

  it('accepts a catalog entry exactly when the packing contract does', () => {
    const variants: Record<string, unknown>[] = [
      onDemand,
      spot,
      { ...onDemand, market: 'on-demand' },
      { ...onDemand, hostMemoryGiB: 16, available: 0 },
      { ...onDemand, devices: 16 },
      { ...onDemand, market: 'reserved' },
      { ...onDemand, pricePerHour: 0 },
      { ...onDemand, pricePerHour: Number.MAX_VALUE },
      { ...onDemand, devices: 1.5 },
      { ...onDemand, devices: 257 },
      { ...onDemand, available: -1 },
      { ...onDemand, hostMemoryGiB: 0 },
      { ...onDemand, device: { memoryGiB: 8 } },
      { ...onDemand, device: { memoryGiB: 8, compute: 1, cores: 4 } },
      { ...onDemand, zone: 'us-east-1a' },
    ];
    for (const entry of variants) {
      const pipeline = parsePipelineInput({ models: [model('a')], processors: ['inf'], catalog: [entry] });
      const packing = validatePackingProblem({
        instanceTypes: [entry],
        models: [{ id: 'a', demands: { inf: { memoryGiB: 1, compute: 0.1 } } }],
      });
      assert.equal(pipeline.ok, packing.ok, JSON.stringify(entry));
    }
    for (const limits of [{ maxSpotFraction: 0 }, { maxSpotFraction: 1 }, { memoryFraction: 0 }, { x: 1 }]) {
      const pipeline = parsePipelineInput({
        models: [model('a')],
        processors: ['inf'],
        catalog: [onDemand],
        limits,
      });
      const packing = validatePackingProblem({
        instanceTypes: [onDemand],
        models: [{ id: 'a', demands: { inf: { memoryGiB: 1, compute: 0.1 } } }],
        limits,
      });
      assert.equal(pipeline.ok, packing.ok, JSON.stringify(limits));
    }
  });

  it('narrows the name and processor to what a pipeline can deploy', () => {
    const found = problems({
      models: [model('a')],
      processors: ['inf'],
      catalog: [onDemand, { ...onDemand, name: 'My Type', processor: 'tpu' }],
    });
    assert.ok(found.some((p) => p.startsWith('/catalog/1/name: must be an instance type name')));
    assert.ok(found.some((p) => p.startsWith('/catalog/1/processor:')));
  });

  it('refuses spot on runtime kubernetes, whose node groups are on-demand', () => {
    const found = problems({
      models: [model('a')],
      processors: ['inf'],
      catalog: [onDemand, spot],
      runtime: 'kubernetes',
      kubernetes: {
        registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com',
        baseImages: { inf: 'public.ecr.aws/neuron/base:1' },
        nodeGroups: [{ name: 'inf1-group', instanceType: 'inf1.xlarge' }],
        artifactsRoot: 's3://stowage-artifacts/prod',
      },
    });
    assert.deepEqual(found, [
      '/catalog/1/market: runtime "kubernetes" has no spot node groups yet; spot types pack with runtime "local" and with `stowage pack`',
    ]);
  });
});
