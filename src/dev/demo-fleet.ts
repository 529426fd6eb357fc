import path from 'node:path';
import { openArtifactStore } from '../artifacts/store';
import type { ProjectPaths } from '../config/paths';
import { ConfigError } from '../config/temporal';
import { LIMITS } from '../domain/limits';
import { makeTinyModels } from './tiny-models';

/** The example input's model count, whose total traffic a generated fleet shares. */
export const EXAMPLE_MODELS = 24;
/** Small BERT shapes a generated fleet cycles through: each an architecture traced once (graph reuse). */
export const DEMO_SHAPES = 4;
/** The inline-list limit of a pipeline input: beyond it a fleet is a manifest anyway, and slow to generate. */
export const MAX_DEMO_MODELS = LIMITS.inlineModels;

/** `--models`: a whole number of models from 1 to MAX_DEMO_MODELS, or a ConfigError saying so. */
export function parseModelCount(text: string): number {
  const count = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_DEMO_MODELS) {
    throw new ConfigError(
      `--models must be a whole number from 1 to ${MAX_DEMO_MODELS}, not ${JSON.stringify(text)}`,
    );
  }
  return count;
}

/**
 * The example's total traffic spread over the fleet: a 2-core machine cannot take 2 req/s from each of
 * 3,040 models, and the post's thousands of models are mostly idle ones. Never more per model than asked.
 */
export function fleetRatePerModel(base: Record<string, unknown>, count: number): number {
  const rate = typeof base.expectedRatePerModel === 'number' ? base.expectedRatePerModel : 1;
  return Math.min(rate, Number(((rate * EXAMPLE_MODELS) / count).toPrecision(3)));
}

/**
 * A fleet of `count` small BERT QA models over DEMO_SHAPES architectures, each with its own weights
 * (model i depends on i only, so a larger fleet reuses a smaller one's folders), and the pipeline input
 * that serves it: `base` with the models as a manifest artifact, so the input stays small at any count.
 */
export async function prepareDemoFleet(
  paths: ProjectPaths,
  count: number,
  base: Record<string, unknown>,
): Promise<{ input: Record<string, unknown>; manifest: string; generateSeconds: number }> {
  const started = Date.now();
  const folders = await makeTinyModels(paths, {
    out: path.join(paths.artifacts, 'sources', 'fleet'),
    count,
    shapes: Math.min(DEMO_SHAPES, count),
    keepExisting: true,
  });
  const width = String(count - 1).length;
  const models = folders.map((source, i) => ({ id: `bert-${String(i).padStart(width, '0')}`, source }));
  const manifest = `demo/fleet-${count}.json`;
  await openArtifactStore(paths.artifacts).writeJson(manifest, { models });
  const expectedRatePerModel = fleetRatePerModel(base, count);
  return {
    input: { ...base, name: `local-demo-${count}`, models: { manifest }, expectedRatePerModel },
    manifest,
    generateSeconds: (Date.now() - started) / 1000,
  };
}
