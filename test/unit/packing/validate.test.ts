import assert from 'node:assert/strict';
import { pack, validatePackingProblem } from '../../../src/packing';
import { postCatalog } from './fixtures';

function defects(raw: unknown): string[] {
  const result = validatePackingProblem(raw);
  assert.equal(result.ok, false, 'the problem must be rejected');
  return result.ok ? [] : result.defects;
}

const model = (id: string, memoryGiB = 0.3) => ({ id, demands: { inf: { memoryGiB, compute: 3 } } });

describe('packing problem validation', () => {
  it('accepts the post catalog with a model', () => {
    assert.ok(validatePackingProblem({ instanceTypes: postCatalog(), models: [model('a')] }).ok);
  });

  it('lists every defect with the path of its field', () => {
    const found = defects({
      instanceTypes: [
        { ...postCatalog()[0], devices: 0 },
        { ...postCatalog()[1], pricePerHour: -1 },
      ],
      models: [
        model('a'),
        model('a'),
        { id: 'b', demands: { inf: { memoryGiB: -1, compute: 3 } } },
        { id: 'c', demands: { inf: { memoryGiB: 1, compute: Number.NaN } } },
      ],
      limits: { memoryFraction: 1.5, computeFraction: 0 },
    });
    const has = (prefix: string) =>
      assert.ok(
        found.some((d) => d.startsWith(prefix)),
        `${prefix} in\n${found.join('\n')}`,
      );
    has('instanceTypes[0].devices: must be an integer ≥ 1');
    has('instanceTypes[1].pricePerHour: must be a finite number > 0');
    has('models[2].demands.inf.memoryGiB: must be a finite number ≥ 0');
    has('models[3].demands.inf.compute: must be a finite number');
    has('limits.memoryFraction: must be in (0, 1]');
    has('limits.computeFraction: must be in (0, 1]');
  });

  it('reports duplicate ids and unknown processors once the structure is sound', () => {
    const found = defects({
      instanceTypes: postCatalog(),
      models: [model('a'), model('a'), { id: 'x', demands: { tpu: { memoryGiB: 1, compute: 1 } } }],
    });
    assert.ok(found.includes('models[1].id: duplicate of models[0].id "a"'), found.join('\n'));
    assert.ok(
      found.some((d) => d.startsWith('models[2].demands.tpu: unknown processor "tpu"')),
      found.join('\n'),
    );
  });

  it('rejects empty lists and non-objects', () => {
    assert.ok(
      defects({ instanceTypes: [], models: [] }).includes('instanceTypes: the instance type list is empty'),
    );
    assert.ok(
      defects({ instanceTypes: postCatalog(), models: [] }).includes('models: the model list is empty'),
    );
    assert.deepEqual(defects([1]), ['(root): a packing problem must be one JSON object']);
  });

  it('packs the rest and reports a model that fits no device as unplaced', async () => {
    const placement = await pack({
      instanceTypes: postCatalog(),
      models: [model('ok'), model('huge', 50)],
      timeLimitMs: 300,
    });
    assert.deepEqual(
      placement.unplaced.map((u) => u.id),
      ['huge'],
    );
    assert.match(placement.unplaced[0].reason, /fits no device/);
    assert.deepEqual(
      placement.instances.flatMap((i) => i.devices.flat()),
      ['ok'],
    );
  });
});

describe('packing input: names', () => {
  it('refuses control and bidi characters in ids, type names and processors, naming the code point', () => {
    const problem = {
      instanceTypes: [
        {
          name: 'c5\u202Exl',
          processor: 'cpu',
          pricePerHour: 1,
          devices: 1,
          device: { memoryGiB: 1, compute: 1 },
        },
      ],
      models: [{ id: 'm\u001b[2J', demands: { cpu: { memoryGiB: 0.5, compute: 0.5 } } }],
    };
    const result = validatePackingProblem(problem);
    assert.equal(result.ok, false);
    const text = result.ok ? '' : result.defects.join('\n');
    assert.match(text, /instanceTypes\[0\]\.name: U\+202E/);
    assert.match(text, /models\[0\]\.id: U\+001B/);
    assert.ok(!text.includes('\u202E') && !text.includes('\u001b'), text);
  });
});

describe('packing input: models checked without the schema', () => {
  // Large problems skip the schema for models that plainly pass it; every model below must get the
  // schema's verdict all the same, among thousands of valid ones.
  const variants: { name: string; model: unknown; ok: boolean }[] = [
    { name: 'plain', model: model('p'), ok: true },
    {
      name: 'host memory, explicit undefined host memory, zero demands',
      model: {
        id: 'h',
        demands: {
          inf: { memoryGiB: 0, compute: 0, hostMemoryGiB: 2 },
          gpu: { memoryGiB: 1, compute: 1, hostMemoryGiB: undefined },
        },
      },
      ok: true,
    },
    { name: 'an extra key', model: { ...model('e'), weight: 1 }, ok: false },
    { name: 'an empty id', model: model(''), ok: false },
    { name: 'an id of 257 characters', model: model('x'.repeat(257)), ok: false },
    { name: 'a control character in the id', model: model('a\u0007'), ok: false },
    { name: 'a numeric id', model: { id: 7, demands: model('n').demands }, ok: false },
    { name: 'no demands', model: { id: 'd', demands: {} }, ok: false },
    { name: 'demands as a list', model: { id: 'd', demands: [] }, ok: false },
    {
      name: '17 processors',
      model: {
        id: 'd',
        demands: Object.fromEntries(
          Array.from({ length: 17 }, (_, k) => [`p${k}`, { memoryGiB: 1, compute: 1 }]),
        ),
      },
      ok: false,
    },
    { name: 'NaN compute', model: { id: 'c', demands: { inf: { memoryGiB: 1, compute: NaN } } }, ok: false },
    { name: 'negative memory', model: model('m', -1), ok: false },
    { name: 'memory over the limit', model: model('m', 2 ** 21), ok: false },
    {
      name: 'host memory as text',
      model: { id: 'h', demands: { inf: { memoryGiB: 1, compute: 1, hostMemoryGiB: '1' } } },
      ok: false,
    },
    {
      name: 'an extra demand key',
      model: { id: 'h', demands: { inf: { memoryGiB: 1, compute: 1, latency: 1 } } },
      ok: false,
    },
    { name: 'null', model: null, ok: false },
  ];

  for (const { name, model: odd, ok } of variants) {
    it(`${ok ? 'accepts' : 'rejects'} a model with ${name} in the middle of 5,000`, () => {
      const models = Array.from({ length: 5000 }, (_, k) => (k === 2500 ? odd : model(`m-${k}`)));
      const catalog = [...postCatalog(), { ...postCatalog()[3], name: 'p-gpu', processor: 'gpu' }];
      const result = validatePackingProblem({ instanceTypes: catalog, models });
      assert.equal(result.ok, ok, result.ok ? 'accepted' : result.defects.join('\n'));
      if (!result.ok)
        assert.ok(
          result.defects.every((d) => d.startsWith('models[2500]')),
          result.defects.join('\n'),
        );
    });
  }
});
