import { z } from 'zod';
import { typeKey, type PackingProblem } from './types';

/** Thrown for input the packer must refuse; `defects` lists every problem with its path. */
export class PackingInputError extends Error {
  constructor(readonly defects: string[]) {
    super(`invalid packing problem:\n  ${defects.join('\n  ')}`);
    this.name = 'PackingInputError';
  }
}

const size = (what: string) =>
  z
    .number({ invalid_type_error: `must be a finite number ${what}`, required_error: 'is required' })
    .finite(`must be a finite number ${what}`);
const nonNegative = size('≥ 0').min(0, 'must be a finite number ≥ 0');
const positive = size('> 0').positive('must be a finite number > 0');
const fraction = size('in (0, 1]').gt(0, 'must be in (0, 1]').lte(1, 'must be in (0, 1]');
const count = (min: number) =>
  z
    .number({ invalid_type_error: `must be an integer ≥ ${min}` })
    .int(`must be an integer ≥ ${min}`)
    .min(min, `must be an integer ≥ ${min}`);
const name = z.string({ invalid_type_error: 'must be a string' }).min(1, 'must not be empty');

const DemandSchema = z
  .object({ memoryGiB: nonNegative, compute: nonNegative, hostMemoryGiB: nonNegative.optional() })
  .strict();

const InstanceTypeSchema = z
  .object({
    name,
    processor: name,
    pricePerHour: positive,
    devices: count(1),
    device: z.object({ memoryGiB: positive, compute: positive }).strict(),
    hostMemoryGiB: positive.optional(),
    available: count(0).optional(),
    market: z.enum(['on-demand', 'spot'], { message: 'must be "on-demand" or "spot"' }).optional(),
  })
  .strict();

const ModelSchema = z
  .object({
    id: name,
    demands: z
      .record(name, DemandSchema)
      .refine((d) => Object.keys(d).length > 0, 'must name at least one processor'),
  })
  .strict();

const PlacementSchema = z.object({
  costPerHour: z.number().optional(),
  lowerBoundPerHour: z.number().optional(),
  instances: z.array(
    z
      .object({ type: name, market: z.literal('spot').optional(), devices: z.array(z.array(name)) })
      .passthrough(),
  ),
  unplaced: z.array(z.object({ id: z.string(), reason: z.string() }).passthrough()).optional(),
  moves: z.number().optional(),
  stats: z.unknown().optional(),
});

export const PackingProblemSchema = z
  .object({
    instanceTypes: z.array(InstanceTypeSchema).min(1, 'the instance type list is empty'),
    models: z.array(ModelSchema).min(1, 'the model list is empty'),
    limits: z
      .object({ memoryFraction: fraction.optional(), computeFraction: fraction.optional() })
      .strict()
      .optional(),
    previous: PlacementSchema.optional(),
    maxMoves: count(0).optional(),
    timeLimitMs: count(1).max(3_600_000, 'must be at most 3600000 (one hour)').optional(),
    maxSpotFraction: size('in [0, 1]').min(0, 'must be in [0, 1]').max(1, 'must be in [0, 1]').optional(),
  })
  .strict();

function pathOf(path: (string | number)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out === '' ? '(root)' : out;
}

function semanticDefects(problem: PackingProblem): string[] {
  const defects: string[] = [];
  const typeNames = new Map<string, number>();
  const processors = new Set<string>();
  problem.instanceTypes.forEach((t, i) => {
    const first = typeNames.get(typeKey(t));
    if (first !== undefined)
      defects.push(
        `instanceTypes[${i}].name: duplicate of instanceTypes[${first}] "${t.name}" (${t.market ?? 'on-demand'}); an instance type appears at most once per market`,
      );
    else typeNames.set(typeKey(t), i);
    processors.add(t.processor);
  });
  const ids = new Map<string, number>();
  problem.models.forEach((m, i) => {
    const first = ids.get(m.id);
    if (first !== undefined) defects.push(`models[${i}].id: duplicate of models[${first}].id "${m.id}"`);
    else ids.set(m.id, i);
    for (const processor of Object.keys(m.demands)) {
      if (!processors.has(processor)) {
        defects.push(
          `models[${i}].demands.${processor}: unknown processor "${processor}" (the instance types offer ${[...processors].join(', ')})`,
        );
      }
    }
  });
  if (
    problem.maxSpotFraction !== undefined &&
    problem.maxSpotFraction < 1 &&
    problem.instanceTypes.every((t) => t.market === 'spot')
  )
    defects.push('maxSpotFraction: every instance type is spot; at least one on-demand type is needed');
  if (problem.maxMoves !== undefined && problem.previous === undefined) {
    defects.push('maxMoves: only meaningful together with previous');
  }
  return defects;
}

export type ValidationResult = { ok: true; problem: PackingProblem } | { ok: false; defects: string[] };

/** Every defect of the input, each with the path of the offending field; structural ones first. */
export function validatePackingProblem(raw: unknown): ValidationResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, defects: ['(root): a packing problem must be one JSON object'] };
  }
  const parsed = PackingProblemSchema.safeParse(raw);
  if (!parsed.success) {
    return { ok: false, defects: parsed.error.issues.map((i) => `${pathOf(i.path)}: ${i.message}`) };
  }
  const problem = parsed.data as PackingProblem;
  const defects = semanticDefects(problem);
  return defects.length > 0 ? { ok: false, defects } : { ok: true, problem };
}

export function assertValidPackingProblem(raw: unknown): PackingProblem {
  const result = validatePackingProblem(raw);
  if (!result.ok) throw new PackingInputError(result.defects);
  return result.problem;
}
