import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openArtifactStore } from '../../src/artifacts/store';
import { unsafeCharacter } from '../../src/domain/ids';
import { TraceModelsInputSchema } from '../../src/domain/tracing';
import { addModel, InventoryError } from '../../src/inventory';
import { parsePipelineInput } from '../../src/pipeline/input';
import { HOSTILE_SOURCES, unsafeIn } from '../support/hostile-text';

describe('text that names something: no control, bidi or lone-surrogate characters', () => {
  for (const c of HOSTILE_SOURCES) {
    it(`refuses ${c.name}, naming the code point and its position`, () => {
      const problem = unsafeCharacter(c.text);
      assert.ok(problem !== undefined);
      assert.match(problem, c.says);
      assert.deepEqual(unsafeIn(problem), [], 'the message echoes no hostile character');
    });
  }

  it('allows paths, URIs, hub names and any well-formed Unicode text', () => {
    for (const text of [
      'bert-base-uncased',
      'distilbert/distilbert-base-uncased',
      's3://bucket/models/bert',
      './.stowage/artifacts/sources/tiny-bert-qa-0',
      '/data/Modèles/日本語 😀 (v2)',
    ]) {
      assert.equal(unsafeCharacter(text), undefined, text);
    }
  });

  it('positions count characters, so a surrogate pair before the culprit counts once', () => {
    assert.match(unsafeCharacter('😀😀\u0000') ?? '', /at character 3:/);
  });

  it('the pipeline input names the field of each hostile source', () => {
    const parsed = parsePipelineInput({
      models: HOSTILE_SOURCES.map((c, i) => ({ id: `m-${i}`, source: c.text })),
    });
    assert.equal(parsed.ok, false);
    const problems = parsed.ok ? [] : parsed.problems;
    HOSTILE_SOURCES.forEach((c, i) => {
      const line = problems.find((p) => p.startsWith(`/models/${i}/source: `));
      assert.ok(line, `models[${i}] (${c.name}) is refused: ${problems.join('\n')}`);
      assert.match(line, c.says);
      assert.deepEqual(unsafeIn(line), []);
    });
  });

  it('a duplicate of a hostile id is not echoed: the id has its own problem', () => {
    const parsed = parsePipelineInput({
      models: [
        { id: 'a\u001b[2Jb', source: 'x' },
        { id: 'a\u001b[2Jb', source: 'y' },
      ],
    });
    const problems = parsed.ok ? [] : parsed.problems;
    assert.deepEqual(
      problems.map((p) => p.split(':')[0]),
      ['/models/0/id', '/models/1/id'],
    );
    for (const p of problems) assert.deepEqual(unsafeIn(p), [], p);
  });

  it('traceModels refuses them too (its own schema, for starts from the UI or the Temporal CLI)', () => {
    const parsed = TraceModelsInputSchema.safeParse({
      processor: 'cpu',
      models: [{ id: 'm', source: HOSTILE_SOURCES[0].text }],
    });
    assert.equal(parsed.success, false);
    assert.match(parsed.error?.issues[0].message ?? '', HOSTILE_SOURCES[0].says);
    assert.deepEqual(parsed.error?.issues[0].path, ['models', 0, 'source']);
  });

  it('the inventory refuses them and writes nothing', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-safe-text-'));
    try {
      const store = openArtifactStore(root);
      for (const c of HOSTILE_SOURCES) {
        const err = await addModel(store, { id: 'm', source: c.text }).then(
          () => assert.fail(`${c.name} was added`),
          (e: unknown) => e,
        );
        assert.ok(err instanceof InventoryError, String(err));
        assert.match(err.problems.join('\n'), /^\/source: /);
        assert.match(err.message, c.says);
      }
      assert.equal(fs.existsSync(path.join(root, 'inventory')), false, 'nothing written');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
