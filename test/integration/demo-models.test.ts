import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openArtifactStore } from '../../src/artifacts/store';
import { projectPaths } from '../../src/config/paths';
import { DEMO_SHAPES, MAX_DEMO_MODELS, prepareDemoFleet } from '../../src/dev/demo-fleet';
import { parsePipelineInput } from '../../src/pipeline/input';
import { runCli } from '../support/cli';

describe('stowage demo --models', function () {
  this.timeout(120_000);
  // A state of its own: a demo that got as far as starting would reap the worktree's running stack.
  const env = { STOWAGE_STATE_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-demo-cli-')) };
  after(() => fs.rmSync(env.STOWAGE_STATE_DIR, { recursive: true, force: true }));

  // Each a CLI process of its own; parseModelCount's other cases are in test/unit/demo-fleet.test.ts.
  for (const bad of ['0', 'abc', String(MAX_DEMO_MODELS + 1)]) {
    it(`refuses --models ${JSON.stringify(bad)} with one clear line, before starting anything`, async () => {
      const result = await runCli(['demo', '--models', bad, '--port', '7399', '--ui-port', '8399'], env);
      assert.equal(result.code, 1);
      assert.equal(result.stdout, '');
      assert.match(
        result.stderr.trim(),
        new RegExp(`^stowage: --models must be a whole number from 1 to ${MAX_DEMO_MODELS}, not "`),
      );
    });
  }

  it('refuses an input file together with --models', async () => {
    const result = await runCli(
      ['demo', 'examples/pipeline.local.json', '--models', '5', '--port', '7399'],
      env,
    );
    assert.equal(result.code, 1);
    assert.match(
      result.stderr.trim(),
      /--models generates its own input: give either an input file or --models/,
    );
  });

  it('generates N models over the shapes, each with its own weights, and an input naming their manifest', async () => {
    const state = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-demo-fleet-'));
    const paths = { ...projectPaths(), state, artifacts: path.join(state, 'artifacts') };
    try {
      const count = DEMO_SHAPES + 2;
      const base = JSON.parse(fs.readFileSync('examples/pipeline.local.json', 'utf8')) as Record<
        string,
        unknown
      >;
      const fleet = await prepareDemoFleet(paths, count, base);

      const parsed = parsePipelineInput(fleet.input);
      assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
      assert.deepEqual(fleet.input.models, { manifest: fleet.manifest });
      assert.equal(fleet.input.name, `local-demo-${count}`);
      assert.equal(fleet.input.expectedRatePerModel, base.expectedRatePerModel);
      const { models } = await openArtifactStore(paths.artifacts).readJson<{
        models: { id: string; source: string }[];
      }>(fleet.manifest);
      assert.equal(models.length, count);
      assert.equal(new Set(models.map((m) => m.id)).size, count);

      const shapeOf = (m: { source: string }) => {
        const c = JSON.parse(fs.readFileSync(path.join(m.source, 'config.json'), 'utf8')) as Record<
          string,
          number
        >;
        return `${c.hidden_size}x${c.num_hidden_layers}x${c.num_attention_heads}`;
      };
      assert.equal(new Set(models.map(shapeOf)).size, DEMO_SHAPES);
      // Model i and i + DEMO_SHAPES share a shape, not weights.
      assert.equal(shapeOf(models[0]), shapeOf(models[DEMO_SHAPES]));
      const weights = (m: { source: string }) => fs.readFileSync(path.join(m.source, 'model.safetensors'));
      assert.ok(!weights(models[0]).equals(weights(models[DEMO_SHAPES])));
    } finally {
      fs.rmSync(state, { recursive: true, force: true });
    }
  });
});
