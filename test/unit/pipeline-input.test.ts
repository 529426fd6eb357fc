import assert from 'node:assert/strict';
import { MAX_INLINE_MODELS, parsePipelineInput } from '../../src/pipeline/input';

function problems(raw: unknown): string[] {
  const parsed = parsePipelineInput(raw);
  assert.equal(parsed.ok, false, 'the input must be rejected');
  return parsed.ok ? [] : parsed.problems;
}

const model = (id: string) => ({ id, source: `./models/${id}` });

describe('pipeline input validation', () => {
  it('fills defaults for a minimal input', () => {
    const parsed = parsePipelineInput({ models: [model('bert-0')] });
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.input.processors, ['cpu']);
    assert.equal(parsed.input.loadTest.sloP90Ms, 100);
    assert.equal(parsed.input.runtime, 'local');
    assert.equal(parsed.input.trace.sequenceLength, 128);
  });

  it('lists every problem with a pointer to its field', () => {
    const found = problems({
      models: [model('bert-0'), model('bert-0'), { id: 'Bad_Id', source: '' }],
      processors: ['tpu'],
      loadTest: { sloP90Ms: -1 },
    });
    assert.ok(found.includes('/models/1/id: duplicate of models[0].id "bert-0"'), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('/models/2/id: must be lowercase letters')));
    assert.ok(found.some((p) => p.startsWith('/models/2/source:')));
    assert.ok(found.some((p) => p.startsWith('/processors/0:')));
    assert.ok(found.some((p) => p.startsWith('/loadTest/sloP90Ms:')));
  });

  it('rejects an empty model list, a non-object, and unknown fields', () => {
    assert.deepEqual(problems({ models: [] }), ['/models: the model list is empty']);
    assert.deepEqual(problems([1, 2]), ['/: the pipeline input must be one JSON object']);
    assert.ok(
      problems({ models: [model('a')], colour: 'red' }).some((p) => /Unrecognized key.*colour/.test(p)),
    );
  });

  it('sends long lists to a manifest instead of the workflow payload', () => {
    const many = Array.from({ length: MAX_INLINE_MODELS + 1 }, (_, i) => model(`m-${i}`));
    assert.ok(problems({ models: many }).some((p) => p.includes('pass { "manifest"')));
    const million = Array.from({ length: 1_000_000 }, (_, i) => model(`m-${i}`));
    assert.deepEqual(problems({ models: million }), [
      `/models: 1000000 inline models is more than ${MAX_INLINE_MODELS}: pass { "manifest": "<artifact key>" }`,
    ]);
    assert.ok(parsePipelineInput({ models: { manifest: 'inventory/models.json' } }).ok);
    for (const outside of [
      '../models.json',
      '/etc/passwd',
      'file:///tmp/models.json',
      'inventory/../../x.json',
    ]) {
      assert.deepEqual(problems({ models: { manifest: outside } }), [
        '/models/manifest: must be an artifact key inside the artifact root, like inventory/models.json',
      ]);
    }
  });

  it('rejects a processor the catalog cannot serve', () => {
    const catalog = [
      {
        name: 'local-cpu',
        processor: 'cpu',
        pricePerHour: 0.1,
        devices: 1,
        device: { memoryGiB: 8, compute: 1 },
      },
    ];
    assert.deepEqual(problems({ models: [model('a')], processors: ['inf'], catalog }), [
      '/processors/0: no instance type in the catalog has processor "inf"',
    ]);
  });
});
