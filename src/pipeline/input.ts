import { z } from 'zod';
import { isArtifactKey } from '../artifacts/keys';
import { ID_PATTERN, ID_RULE, safeText } from '../domain/ids';
import { type Processor, PROCESSORS } from '../domain/task-queues';
import { issueText } from '../domain/issue-text';
import { LIMITS, overlongLists } from '../domain/limits';
import { DNS_LABEL } from '../kubernetes/names';
import {
  catalogDefects,
  InstanceTypeSchema as PackingInstanceTypeSchema,
  PackingLimitsSchema,
} from '../packing/validate';

/**
 * PipelineInput: the ONE JSON object the `pipeline` workflow takes (docs/contracts.md). The same schema validates
 * at every edge — CLI, API and the workflow itself — so a start from the Temporal UI with bad JSON fails
 * at once with the same readable list of problems.
 */

/** Inline lists beyond this go by manifest reference: the 2 MB payload cap would refuse them anyway. */
export const MAX_INLINE_MODELS = LIMITS.inlineModels;
export const MAX_MODELS = LIMITS.models;

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
    source: safeText(z.string().min(1).max(2048)),
    trace: TraceOptionsSchema.optional(),
  })
  .strict();

const instanceTypeName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]{0,62}$/, 'must be an instance type name like inf1.6xlarge');

/**
 * The packing contract's instance type, narrowed to what a pipeline can deploy: a cloud instance type
 * name (node groups and labels carry it) and a processor it can trace on.
 */
export const InstanceTypeSchema = PackingInstanceTypeSchema.extend({
  name: instanceTypeName,
  processor: z.enum(PROCESSORS),
});

const dnsLabel = z
  .string()
  .regex(DNS_LABEL, 'must be a DNS-1123 label: lowercase letters, digits and "-", at most 63 characters');
// Same shapes as src/images/server-image.ts checks (which does not export them).
const REGISTRY = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::\d{1,5})?$/;
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const IMAGE = /^[a-z0-9][a-z0-9._:/-]*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const image = z.string().max(512).regex(IMAGE, 'must be an image reference like registry/repository:tag');

/** The `kubernetes` runtime's settings: where the fleet runs and how it is rolled out. */
export const KubernetesSettingsSchema = z
  .object({
    /** The EKS cluster whose node groups are scaled for the placement; without it none are scaled. */
    cluster: z
      .string()
      .regex(/^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/, 'must be an EKS cluster name')
      .optional(),
    namespace: dnsLabel.default('stowage'),
    /** Rollouts of one fleet replace each other's servers; default: the pipeline's name. */
    fleet: dnsLabel.optional(),
    registry: z
      .string()
      .max(253)
      .regex(REGISTRY, 'must be a registry host[:port] such as 123456789012.dkr.ecr.us-east-1.amazonaws.com'),
    repository: z
      .string()
      .max(255)
      .regex(REPOSITORY, 'must be lowercase path components separated by "/"')
      .default('stowage/model-server'),
    /** The base image per processor the model-server image is built on (images/). */
    baseImages: z.object({ cpu: image, gpu: image, inf: image }).partial().strict(),
    /** Which EKS node group runs which catalog instance type. */
    nodeGroups: z
      .array(
        z
          .object({
            name: dnsLabel,
            instanceType: instanceTypeName,
          })
          .strict(),
      )
      .min(1, 'map at least one node group to an instance type')
      .max(LIMITS.instanceTypes),
    maxUnavailable: z.number().int().min(1).max(1000).default(1),
    progressDeadlineSeconds: z.number().int().min(10).max(3600).default(600),
    artifactsRoot: z
      .string()
      .regex(
        /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[A-Za-z0-9._-]+)*\/?$/,
        'must be s3://bucket/prefix',
      ),
    cpuPerServer: z
      .string()
      .regex(/^\d+(\.\d+)?m?$/, 'must be a CPU quantity like "1" or "500m"')
      .optional(),
    /** skip-kwok: only on simulated (kwok) nodes, where nothing can answer (the activity checks). */
    smokeTest: z.enum(['k6', 'skip-kwok']).default('k6'),
    k6Image: image.default('grafana/k6:1.4.2'),
    /** Init-container image that pulls each server's models from the artifact store (AWS CLI + sh). */
    fetchImage: image.optional(),
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
    processors: z.array(z.enum(PROCESSORS)).min(1).max(PROCESSORS.length).default(['cpu']),
    trace: TraceOptionsSchema.default({}),
    /** Instance types to pack onto; default: the runtime's own catalog. */
    catalog: z.array(InstanceTypeSchema).min(1).max(LIMITS.instanceTypes).optional(),
    limits: PackingLimitsSchema.default({}),
    /** Requests per second each model is expected to take: turns measured throughput into compute demand. */
    expectedRatePerModel: positive.max(LIMITS.requestsPerSecond).default(1),
    runtime: z.enum(['local', 'kubernetes']).default('local'),
    kubernetes: KubernetesSettingsSchema.optional(),
    loadTest: z
      .object({
        sloP90Ms: positive.max(LIMITS.latencyMs).default(100),
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

/** What traceModels gets for one model: the run's trace options under the model's own. */
export function traceOptionsFor(
  input: { trace: z.infer<typeof TraceOptionsSchema>; expectedRatePerModel: number },
  own: ModelSpec['trace'] | undefined,
  processor: Processor,
) {
  const options = { ...input.trace, ...own };
  return {
    batchSize: options.batchSize,
    sequenceLength: options.sequenceLength,
    pipelineCores: processor === 'inf' ? options.pipelineCores : undefined,
    precision: options.precision,
    profile: { expectedRequestsPerSecond: input.expectedRatePerModel },
  };
}

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
    return [`/${issue.path.join('/')}: ${issueText(issue)}`];
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
  const overlong = overlongListProblems(raw);
  if (overlong.length > 0) return { ok: false, problems: overlong };
  const parsed = PipelineInputSchema.safeParse(raw);
  const problems = [
    ...(parsed.success ? [] : describeProblems(parsed.error)),
    ...crossFieldProblems(raw as Record<string, unknown>),
  ];
  return parsed.success && problems.length === 0 ? { ok: true, input: parsed.data } : { ok: false, problems };
}

/** The lists of a pipeline or repack input, by their bounds, before their entries are checked. */
export function overlongListProblems(raw: object): string[] {
  return overlongLists(raw, [
    { path: ['catalog'], max: LIMITS.instanceTypes },
    { path: ['processors'], max: PROCESSORS.length },
    { path: ['kubernetes', 'nodeGroups'], max: LIMITS.instanceTypes },
  ]).map((l) => `/${l.path.join('/')}: holds ${l.length} entries, more than the ${l.max} allowed`);
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
      if (typeof modelId !== 'string' || !ID_PATTERN.test(modelId)) return; // an invalid id has its own problem: never echo it raw
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
  for (const d of catalogDefects('catalog', raw.catalog, raw.limits))
    problems.push(`/${d.path.join('/')}: ${d.message}`);
  problems.push(...kubernetesProblems(raw));
  return problems;
}

function kubernetesProblems(raw: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const settings = raw.kubernetes as { nodeGroups?: unknown; baseImages?: unknown } | undefined;
  if (raw.runtime === 'kubernetes' && settings === undefined) {
    problems.push('/kubernetes: runtime "kubernetes" needs the kubernetes settings');
  }
  if (raw.runtime !== 'kubernetes' && settings !== undefined) {
    problems.push('/kubernetes: only used with runtime "kubernetes"');
  }
  if (raw.runtime !== 'kubernetes' || typeof settings !== 'object' || settings === null) return problems;
  if (!Array.isArray(raw.catalog)) {
    problems.push(
      '/catalog: runtime "kubernetes" packs onto the node groups\' instance types: list them in the catalog',
    );
    return problems;
  }
  const catalog = raw.catalog as { name?: unknown; processor?: unknown; market?: unknown }[];
  // The deploy stage scales on-demand node groups only: a spot instance would be billed as on-demand.
  catalog.forEach((t, i) => {
    if (t?.market === 'spot')
      problems.push(
        `/catalog/${i}/market: runtime "kubernetes" has no spot node groups yet; spot types pack with runtime "local" and with \`stowage pack\``,
      );
  });
  const groups = Array.isArray(settings.nodeGroups)
    ? (settings.nodeGroups as { name?: unknown; instanceType?: unknown }[])
    : [];
  const seenGroups = new Map<unknown, number>();
  const seenTypes = new Map<unknown, number>();
  groups.forEach((g, i) => {
    if (seenGroups.has(g?.name))
      problems.push(`/kubernetes/nodeGroups/${i}/name: duplicate of nodeGroups[${seenGroups.get(g?.name)}]`);
    else seenGroups.set(g?.name, i);
    if (seenTypes.has(g?.instanceType)) {
      problems.push(
        `/kubernetes/nodeGroups/${i}/instanceType: ${String(g?.instanceType)} already has node group nodeGroups[${seenTypes.get(g?.instanceType)}]`,
      );
    } else seenTypes.set(g?.instanceType, i);
    if (!catalog.some((t) => t?.name === g?.instanceType)) {
      problems.push(
        `/kubernetes/nodeGroups/${i}/instanceType: ${String(g?.instanceType)} is not in the catalog`,
      );
    }
  });
  catalog.forEach((t, i) => {
    if (!groups.some((g) => g?.instanceType === t?.name)) {
      problems.push(
        `/catalog/${i}: instance type ${String(t?.name)} has no node group in kubernetes.nodeGroups`,
      );
    }
  });
  const bases = (settings.baseImages ?? {}) as Record<string, unknown>;
  const processors = Array.isArray(raw.processors) ? raw.processors : ['cpu'];
  processors.forEach((p: unknown, i) => {
    if (typeof p === 'string' && bases[p] === undefined) {
      problems.push(`/processors/${i}: kubernetes.baseImages has no base image for processor "${p}"`);
    }
  });
  return problems;
}
