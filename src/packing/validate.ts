import { z } from 'zod';
import { safeText, unsafeCharacter } from '../domain/ids';
import { LIMITS, overlongLists } from '../domain/limits';
import { typeKey, type Market, type PackingProblem } from './types';

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
// Ids and names reach logs, terminals and reports: no control or bidi characters.
const name = safeText(
  z
    .string({ invalid_type_error: 'must be a string' })
    .min(1, 'must not be empty')
    .max(LIMITS.nameLength, `must be at most ${LIMITS.nameLength} characters`),
);
const atMost = (max: number) => `must be at most ${max}`;
const memory = nonNegative.max(LIMITS.memoryGiB, atMost(LIMITS.memoryGiB));
const compute = nonNegative.max(LIMITS.compute, atMost(LIMITS.compute));

const DemandSchema = z.object({ memoryGiB: memory, compute, hostMemoryGiB: memory.optional() }).strict();

/**
 * One entry of a catalog: the packing contract's, and the pipeline's and repack's (which narrow the name
 * and the processor to what they can deploy). One schema, so no edge takes what another refuses.
 */
export const InstanceTypeSchema = z
  .object({
    name,
    processor: name,
    pricePerHour: positive.max(LIMITS.pricePerHour, atMost(LIMITS.pricePerHour)),
    devices: count(1).max(LIMITS.devicesPerType, atMost(LIMITS.devicesPerType)),
    device: z
      .object({
        memoryGiB: positive.max(LIMITS.memoryGiB, atMost(LIMITS.memoryGiB)),
        compute: positive.max(LIMITS.compute, atMost(LIMITS.compute)),
      })
      .strict(),
    hostMemoryGiB: positive.max(LIMITS.memoryGiB, atMost(LIMITS.memoryGiB)).optional(),
    available: count(0).max(LIMITS.available, atMost(LIMITS.available)).optional(),
    market: z.enum(['on-demand', 'spot'], { message: 'must be "on-demand" or "spot"' }).optional(),
  })
  .strict();

const spotFraction = size('in [0, 1]').min(0, 'must be in [0, 1]').max(1, 'must be in [0, 1]');

/** The caps a placement must hold: per device (memory, compute) and over the fleet (spot share). */
export const PackingLimitsSchema = z
  .object({
    memoryFraction: fraction.optional(),
    computeFraction: fraction.optional(),
    maxSpotFraction: spotFraction.optional(),
  })
  .strict();

const ModelSchema = z
  .object({
    id: name,
    demands: z
      .record(name, DemandSchema)
      .refine((d) => Object.keys(d).length > 0, 'must name at least one processor')
      .refine(
        (d) => Object.keys(d).length <= LIMITS.processors,
        `must name at most ${LIMITS.processors} processors`,
      ),
  })
  .strict();

const PlacementSchema = z.object({
  costPerHour: z.number().optional(),
  lowerBoundPerHour: z.number().optional(),
  instances: z
    .array(
      z
        .object({
          type: name,
          market: z.literal('spot').optional(),
          devices: z.array(z.array(name).max(LIMITS.models)).max(LIMITS.devicesPerType),
        })
        .passthrough(),
    )
    .max(LIMITS.models),
  unplaced: z
    .array(z.object({ id: z.string(), reason: z.string() }).passthrough())
    .max(LIMITS.models)
    .optional(),
  moves: z.number().optional(),
  stats: z.unknown().optional(),
});

export const PackingProblemSchema = z
  .object({
    instanceTypes: z
      .array(InstanceTypeSchema)
      .min(1, 'the instance type list is empty')
      .max(LIMITS.instanceTypes, `must hold at most ${LIMITS.instanceTypes} instance types`)
      .refine(
        (types) => new Set(types.map((t) => t.processor)).size <= LIMITS.processors,
        `must use at most ${LIMITS.processors} distinct processors`,
      ),
    models: z
      .array(ModelSchema)
      .min(1, 'the model list is empty')
      .max(LIMITS.models, `must hold at most ${LIMITS.models} models`),
    limits: PackingLimitsSchema.optional(),
    previous: PlacementSchema.optional(),
    maxMoves: count(0).max(LIMITS.models, atMost(LIMITS.models)).optional(),
    timeLimitMs: count(1)
      .max(LIMITS.timeLimitMs, `must be at most ${LIMITS.timeLimitMs} (one hour)`)
      .optional(),
  })
  .strict();

/** The problem's schema with the model list's entries left to `plainlyValidModel`. */
const ProblemAroundModelsSchema = PackingProblemSchema.extend({ models: z.array(z.unknown()).min(1) });

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && Object.getPrototypeOf(x) === Object.prototype;

const plainName = (x: unknown): boolean =>
  typeof x === 'string' && x.length >= 1 && x.length <= LIMITS.nameLength && unsafeCharacter(x) === undefined;

const inRange = (x: unknown, max: number): boolean =>
  typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= max;

/**
 * A model that ModelSchema takes, checked by hand: zod spends 1.3–3 s on 100,000 models, a tenth to a
 * third of the packing budget that starts before validation. Stricter than the schema where that is
 * simpler (plain objects only): any doubt returns false, and the schema decides and words the defects.
 */
function plainlyValidModel(m: unknown): boolean {
  if (!isPlainObject(m)) return false;
  for (const key in m) if (key !== 'id' && key !== 'demands') return false;
  if (!plainName(m.id) || !isPlainObject(m.demands)) return false;
  let processors = 0;
  for (const processor in m.demands) {
    processors++;
    const d = m.demands[processor];
    if (!plainName(processor) || !isPlainObject(d)) return false;
    for (const key in d)
      if (key !== 'memoryGiB' && key !== 'compute' && key !== 'hostMemoryGiB') return false;
    if (!inRange(d.memoryGiB, LIMITS.memoryGiB) || !inRange(d.compute, LIMITS.compute)) return false;
    if (d.hostMemoryGiB !== undefined && !inRange(d.hostMemoryGiB, LIMITS.memoryGiB)) return false;
  }
  return processors >= 1 && processors <= LIMITS.processors;
}

/** The problem parsed by the schema, its models checked by hand when they all plainly pass. */
function parseProblem(raw: object): z.SafeParseReturnType<unknown, PackingProblem> {
  const models = (raw as { models?: unknown }).models;
  if (Array.isArray(models) && models.length > 0 && models.every(plainlyValidModel)) {
    const around = ProblemAroundModelsSchema.safeParse(raw);
    if (around.success) return { success: true, data: { ...around.data, models } as PackingProblem };
  }
  return PackingProblemSchema.safeParse(raw) as z.SafeParseReturnType<unknown, PackingProblem>;
}

function pathOf(path: (string | number)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out === '' ? '(root)' : out;
}

export interface CatalogDefect {
  path: (string | number)[];
  message: string;
}

/**
 * The rules that span a catalog's entries: a type once per market, and a spot cap below 1 needs an
 * on-demand type. Reads the entries defensively so that each edge can report these beside field errors.
 */
export function catalogDefects(list: string, catalog: unknown, limits: unknown): CatalogDefect[] {
  if (!Array.isArray(catalog)) return [];
  const defects: CatalogDefect[] = [];
  const seen = new Map<string, number>();
  catalog.forEach((t: unknown, i) => {
    const { name, market } = (t ?? {}) as { name?: unknown; market?: unknown };
    if (typeof name !== 'string' || (market !== undefined && market !== 'on-demand' && market !== 'spot'))
      return;
    const key = typeKey({ name, market: market as Market | undefined });
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else
      defects.push({
        path: [list, i, 'name'],
        message: `duplicate of ${list}[${first}] "${name}" (${market ?? 'on-demand'}); an instance type appears at most once per market`,
      });
  });
  const cap = (limits as { maxSpotFraction?: unknown } | null | undefined)?.maxSpotFraction;
  const spot = (t: unknown) => (t as { market?: unknown } | null)?.market === 'spot';
  if (typeof cap === 'number' && cap < 1 && catalog.length > 0 && catalog.every(spot))
    defects.push({
      path: ['limits', 'maxSpotFraction'],
      message: 'every instance type is spot; at least one on-demand type is needed',
    });
  return defects;
}

function semanticDefects(problem: PackingProblem): string[] {
  const defects = catalogDefects('instanceTypes', problem.instanceTypes, problem.limits).map(
    (d) => `${pathOf(d.path)}: ${d.message}`,
  );
  const processors = new Set(problem.instanceTypes.map((t) => t.processor));
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
  if (problem.maxMoves !== undefined && problem.previous === undefined) {
    defects.push('maxMoves: only meaningful together with previous');
  }
  return defects;
}

/** Lengths first: a list beyond its bound is refused in one line, before its entries are checked. */
function sizeDefects(raw: object): string[] {
  const defects = overlongLists(raw, [
    { path: ['instanceTypes'], max: LIMITS.instanceTypes },
    { path: ['models'], max: LIMITS.models },
    { path: ['previous', 'instances'], max: LIMITS.models },
    { path: ['previous', 'unplaced'], max: LIMITS.models },
  ]).map((l) => `${l.path.join('.')}: holds ${l.length} entries, more than the ${l.max} allowed`);
  const { models, instanceTypes } = raw as { models?: unknown; instanceTypes?: unknown };
  if (defects.length === 0 && Array.isArray(models) && Array.isArray(instanceTypes)) {
    const cells = models.length * instanceTypes.length;
    if (cells > LIMITS.demandCells)
      defects.push(
        `(root): ${models.length} models × ${instanceTypes.length} instance types is more than ${LIMITS.demandCells} pairs; pack fewer models at a time`,
      );
  }
  // Demands are a map: zod would check 24,000 entries of one model before counting them.
  if (Array.isArray(models) && models.length <= LIMITS.models)
    models.forEach((m: unknown, i) => {
      const demands = (m as { demands?: unknown } | null)?.demands;
      if (typeof demands !== 'object' || demands === null || Array.isArray(demands)) return;
      const count = Object.keys(demands).length;
      if (count > LIMITS.processors)
        defects.push(
          `models[${i}].demands: names ${count} processors, more than the ${LIMITS.processors} allowed`,
        );
    });
  return defects;
}

export type ValidationResult = { ok: true; problem: PackingProblem } | { ok: false; defects: string[] };

/** Every defect of the input, each with the path of the offending field; structural ones first. */
export function validatePackingProblem(raw: unknown): ValidationResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, defects: ['(root): a packing problem must be one JSON object'] };
  }
  const sizes = sizeDefects(raw);
  if (sizes.length > 0) return { ok: false, defects: sizes };
  const parsed = parseProblem(raw);
  if (!parsed.success) {
    return { ok: false, defects: parsed.error.issues.map((i) => `${pathOf(i.path)}: ${i.message}`) };
  }
  const problem = parsed.data;
  const defects = semanticDefects(problem);
  return defects.length > 0 ? { ok: false, defects } : { ok: true, problem };
}

export function assertValidPackingProblem(raw: unknown): PackingProblem {
  const result = validatePackingProblem(raw);
  if (!result.ok) throw new PackingInputError(result.defects);
  return result.problem;
}
