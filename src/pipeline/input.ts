import { z } from 'zod';
import { isArtifactKey } from '../artifacts/keys';
import { ID_PATTERN, ID_RULE } from '../domain/ids';
import { PROCESSORS } from '../domain/task-queues';

/**
 * PipelineInput: the ONE JSON object the `pipeline` workflow takes (DESIGN.md). The same schema validates
 * at every edge — CLI, API and the workflow itself — so a start from the Temporal UI with bad JSON fails
 * at once with the same readable list of problems.
 */

/** Inline lists beyond this go by manifest reference: the 2 MB payload cap would refuse them anyway. */
export const MAX_INLINE_MODELS = 10_000;
export const MAX_MODELS = 100_000;

const id = z.string().regex(ID_PATTERN, `must be ${ID_RULE}`);
const positive = z.number().finite().positive();

export const TraceOptionsSchema = z
  .object({
    batchSize: z.number().int().min(1).max(256).default(1),
    sequenceLength: z.number().int().min(1).max(4096).default(128),
    pipelineCores: z.number().int().min(1).max(16).default(1),
    /** auto: bf16 auto-cast on Inferentia, fp16 autocast on GPU, fp32 on CPU (the tracer's own rule). */
    precision: z.enum(['auto', 'amp', 'fp32', 'fp16', 'bf16']).default('auto'),
  })
  .strict();

export const ModelSpecSchema = z
  .object({
    id,
    /** A Hugging Face name, a local or s3:// directory in Hugging Face layout, or a TorchScript file. */
    source: z.string().min(1).max(2048),
    trace: TraceOptionsSchema.optional(),
  })
  .strict();

export const InstanceTypeSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9.-]{0,62}$/, 'must be an instance type name like inf1.6xlarge'),
    processor: z.enum(PROCESSORS),
    pricePerHour: positive,
    devices: z.number().int().min(1),
    device: z.object({ memoryGiB: positive, compute: positive }).strict(),
    hostMemoryGiB: positive.optional(),
    available: z.number().int().min(0).optional(),
  })
  .strict();

export const PipelineInputSchema = z
  .object({
    /** Names the run; with the input's hash it forms the stable workflow id. */
    name: id.default('pipeline'),
    models: z.union([
      z
        .array(ModelSpecSchema)
        .min(1, 'the model list is empty')
        .max(
          MAX_INLINE_MODELS,
          `more than ${MAX_INLINE_MODELS} inline models: pass { "manifest": "<artifact key>" }`,
        ),
      z
        .object({
          /** An artifact key like inventory/models.json: a reference can never point outside the store. */
          manifest: z.string().refine(isArtifactKey, {
            message: 'must be an artifact key inside the artifact root, like inventory/models.json',
          }),
        })
        .strict(),
    ]),
    processors: z.array(z.enum(PROCESSORS)).min(1).default(['cpu']),
    trace: TraceOptionsSchema.default({}),
    /** Instance types to pack onto; default: the runtime's own catalog. */
    catalog: z.array(InstanceTypeSchema).min(1).optional(),
    limits: z
      .object({
        memoryFraction: z.number().gt(0).max(1).optional(),
        computeFraction: z.number().gt(0).max(1).optional(),
      })
      .strict()
      .default({}),
    /** Requests per second each model is expected to take: turns measured throughput into compute demand. */
    expectedRatePerModel: positive.default(1),
    runtime: z.enum(['local']).default('local'),
    loadTest: z
      .object({
        sloP90Ms: positive.default(100),
        maxErrorRate: z.number().min(0).max(1).default(0.001),
        maxSteps: z.number().int().min(1).max(20).default(8),
        stepSeconds: z.number().int().min(1).max(600).default(10),
      })
      .strict()
      .default({}),
    approval: z
      .object({ required: z.boolean().default(false) })
      .strict()
      .default({}),
    /** Fail the run when any model fails to trace (default: pack what traced, report the rest). */
    allOrNothing: z.boolean().default(false),
    /** An earlier run whose stage outputs this run reuses (`stowage run --resume <workflowId>`). */
    resumeFrom: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/, 'must be a workflow id')
      .optional(),
  })
  .strict();

/** A model manifest artifact: the inventory, for lists too long to travel inline. */
export const ModelManifestSchema = z
  .object({ models: z.array(ModelSpecSchema).min(1, 'the manifest lists no model').max(MAX_MODELS) })
  .strict();

export type ModelSpec = z.infer<typeof ModelSpecSchema>;
export type PipelineInput = z.infer<typeof PipelineInputSchema>;
export type PipelineInputJson = z.input<typeof PipelineInputSchema>;

/** Every problem, one per line, each with a JSON pointer to the field: what the UI, CLI and API show. */
export function describeProblems(error: z.ZodError): string[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === z.ZodIssueCode.invalid_union) {
      // Report the branch the value was meant for (the one whose shape matched), not "Invalid input".
      const meant = issue.unionErrors.find(
        (e) => !e.issues.some((i) => i.code === 'invalid_type' && i.path.length === issue.path.length),
      );
      if (meant) return describeProblems(meant);
      return [`/${issue.path.join('/')}: must be a list of models or { "manifest": "<artifact URI>" }`];
    }
    return [`/${issue.path.join('/')}: ${issue.message}`];
  });
}

export type ParsedPipelineInput = { ok: true; input: PipelineInput } | { ok: false; problems: string[] };

export function parsePipelineInput(raw: unknown): ParsedPipelineInput {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, problems: ['/: the pipeline input must be one JSON object'] };
  }
  const { models } = raw as { models?: unknown };
  if (Array.isArray(models) && models.length > MAX_INLINE_MODELS) {
    // Checking a million entries one by one would only delay the one answer that matters.
    return {
      ok: false,
      problems: [
        `/models: ${models.length} inline models is more than ${MAX_INLINE_MODELS}: pass { "manifest": "<artifact key>" }`,
      ],
    };
  }
  const parsed = PipelineInputSchema.safeParse(raw);
  const problems = [
    ...(parsed.success ? [] : describeProblems(parsed.error)),
    ...crossFieldProblems(raw as Record<string, unknown>),
  ];
  return parsed.success && problems.length === 0 ? { ok: true, input: parsed.data } : { ok: false, problems };
}

/**
 * Checks that span fields. They read the raw input defensively so they report alongside field errors
 * (zod skips refinements of an object that already has problems, and a user wants the whole list).
 */
function crossFieldProblems(raw: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (Array.isArray(raw.models)) {
    const seen = new Map<string, number>();
    raw.models.forEach((m: unknown, i) => {
      const modelId = (m as { id?: unknown } | null)?.id;
      if (typeof modelId !== 'string') return;
      const first = seen.get(modelId);
      if (first === undefined) seen.set(modelId, i);
      else problems.push(`/models/${i}/id: duplicate of models[${first}].id "${modelId}"`);
    });
  }
  if (Array.isArray(raw.catalog) && Array.isArray(raw.processors)) {
    const offered = new Set(raw.catalog.map((t: { processor?: unknown } | null) => t?.processor));
    raw.processors.forEach((p: unknown, i) => {
      if (typeof p === 'string' && !offered.has(p)) {
        problems.push(`/processors/${i}: no instance type in the catalog has processor "${p}"`);
      }
    });
  }
  return problems;
}
