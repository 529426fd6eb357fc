import { z } from 'zod';
import { ID_PATTERN, ID_RULE, safeText } from './ids';
import { PROCESSORS, type Processor } from './task-queues';

/**
 * Wire types of the tracer activities (traceModel, profileModel) and the traceModels workflow, in the
 * camelCase JSON mirrored by python-tracer/stowage_tracer/wire.py.
 */

export type Precision = 'auto' | 'amp' | 'fp32' | 'fp16' | 'bf16';
export type TraceTask = 'question-answering' | 'sequence-classification';

export interface ProfileOptions {
  /** Batch sizes to time besides 1 and the traced batch size. */
  batchSizes?: number[];
  warmup?: number;
  iterations?: number;
  /** The traffic the packer's `compute` demand is derived for. */
  expectedRequestsPerSecond?: number;
}

export interface TraceOptions {
  task?: TraceTask;
  batchSize?: number;
  sequenceLength?: number;
  /** Inferentia only: NeuronCores one model is pipelined across (`--neuroncore-pipeline-cores`). */
  pipelineCores?: number;
  /** auto/amp: bf16 auto-cast on Inferentia, fp16 autocast on GPU, fp32 on CPU. */
  precision?: Precision;
  /** Largest accepted |traced - eager| relative to max(1, |eager|); default by precision. */
  tolerance?: number;
  example?: { context?: string; question?: string };
  profile?: ProfileOptions;
}

export interface TraceModelInput {
  modelId: string;
  /** A Hugging Face name, a local folder under the artifact root, an s3:// folder, or a TorchScript file. */
  source: string;
  processor: Processor;
  options?: TraceOptions;
}

/** Where a traced model lives: models/<modelId>/<processor>/<traceKey>/ in the artifact store. */
export interface ArtifactRef {
  modelId: string;
  processor: Processor;
  traceKey: string;
  prefix: string;
  modelUri: string;
  manifestUri: string;
  profileUri: string;
}

/** One model's demand in the packer's terms (PackingProblem.models[].demands[processor], docs/contracts.md). */
export interface Demand {
  processor: Processor;
  expectedRequestsPerSecond: number;
  memoryGiB: number;
  /** Share of one device's sustainable throughput; null when throughput could not be measured. */
  compute: number | null;
  hostMemoryGiB: number;
  /** Batch-1 forward time (ms); absent in profiles written before it was recorded. */
  forwardMs?: number | null;
  /** How far the profile's timings can be trusted. */
  measurement?: ProfileMeasurement | null;
}

export interface ProfileMeasurement {
  /** Every batch size's last three rounds agreed within 5%. */
  stable: boolean;
  spreadPct: number | null;
  /** CPU time / wall time of the timing thread: below 0.8 it waited for a core (contended). */
  cpuShare: number;
  loadAverage: number;
  cpus: number;
  contended: boolean;
  note?: string;
}

export interface TraceModelResult {
  artifact: ArtifactRef;
  /** True when a verified artifact already existed and nothing was traced. */
  cached: boolean;
  attempt: number;
  /** The step a retried attempt resumed from (its predecessor's heartbeat), or null. */
  resumedFrom: string | null;
  traceSeconds: number | null;
  outputCheck: { maxAbsDiff: number; tolerance: number; passed: boolean } | null;
  demand: Demand;
  /** Graph reuse; null for a source with no architecture config (TorchScript), absent from older tracers. */
  graph?: GraphReuse | null;
}

/** One traced graph per architecture: whether this model's weights went into a representative's graph. */
export interface GraphReuse {
  /** The architecture config, processor, trace options and toolchain, hashed. */
  key: string;
  reused: boolean;
  /** The representative whose graph was used (or tried). */
  from: { modelId: string; traceKey: string } | null;
  /** Why the model was traced in full although a representative existed or reuse was wanted. */
  fallback: string | null;
  /** Inputs the swapped graph was checked on against the model's own eager outputs. */
  checkedInputs?: number;
}

export interface ProfileModelInput {
  modelId: string;
  processor: Processor;
  traceKey: string;
  profile?: ProfileOptions;
}

export interface LatencyRow {
  batchSize: number;
  iterations?: number;
  p50Ms?: number;
  p90Ms?: number;
  p99Ms?: number;
  meanMs?: number;
  throughputPerSecond?: number;
  /** Set instead of the figures when the trace cannot run at this batch size (e.g. a fixed Neuron trace). */
  error?: string;
}

/** profile.json */
export interface ModelProfile {
  modelId: string;
  processor: Processor;
  traceKey: string;
  device: string | null;
  measuredAt: string;
  loadSeconds: number;
  memory: {
    method: 'process-rss-delta' | 'cuda-allocator' | 'neuron-runtime-sysfs' | 'model-file-size';
    parameterBytes: number;
    hostRssDeltaBytes: number;
    hostResidentBytes: number;
    deviceResidentBytes: number;
    devicePeakBytes: number;
    deviceReservedBytes?: number;
  };
  latency: LatencyRow[];
  throughput: { sustainablePerSecond: number; atBatchSize: number };
  demand: Demand;
  units: Record<string, string>;
}

export interface ProfileModelResult {
  artifact: ArtifactRef;
  profile: ModelProfile;
}

// --- traceModels workflow ---

/** Beyond this a model list goes to child-workflow batches (history and pending-activity limits). */
export const MAX_TRACE_MODELS = 1000;
export const MAX_TRACE_CONCURRENCY = 100;

const ProfileOptionsSchema = z
  .object({
    batchSizes: z.array(z.number().int().min(1).max(1024)).max(16).optional(),
    warmup: z.number().int().min(0).max(1000).optional(),
    iterations: z.number().int().min(1).max(100_000).optional(),
    expectedRequestsPerSecond: z.number().finite().min(0).optional(),
  })
  .strict();

export const TraceOptionsSchema = z
  .object({
    task: z.enum(['question-answering', 'sequence-classification']).optional(),
    batchSize: z.number().int().min(1).max(1024).optional(),
    sequenceLength: z.number().int().min(1).max(8192).optional(),
    pipelineCores: z.number().int().min(1).max(64).optional(),
    precision: z.enum(['auto', 'amp', 'fp32', 'fp16', 'bf16']).optional(),
    tolerance: z.number().positive().max(1).optional(),
    example: z
      .object({ context: z.string().min(1).max(10_000), question: z.string().min(1).max(10_000) })
      .partial()
      .strict()
      .optional(),
    profile: ProfileOptionsSchema.optional(),
  })
  .strict();

export const TraceModelsInputSchema = z
  .object({
    models: z
      .array(
        z
          .object({
            id: z.string().regex(ID_PATTERN, `must be ${ID_RULE}`),
            source: safeText(z.string().min(1).max(2048)),
            options: TraceOptionsSchema.optional(),
          })
          .strict(),
      )
      .min(1)
      .max(MAX_TRACE_MODELS)
      .refine(
        (models) => new Set(models.map((m) => m.id)).size === models.length,
        'model ids must be unique',
      ),
    processor: z.enum(PROCESSORS),
    maxConcurrent: z.number().int().min(1).max(MAX_TRACE_CONCURRENCY).optional(),
    /** Save the batch record itself (runs/<runId>/trace-<name>.json) and return its key, not the list. */
    record: z
      .object({ runId: z.string().min(1).max(512), name: z.string().regex(ID_PATTERN, `must be ${ID_RULE}`) })
      .strict()
      .optional(),
  })
  .strict();

export type TraceModelsInput = z.input<typeof TraceModelsInputSchema>;

export interface TracedModel {
  modelId: string;
  artifact: ArtifactRef;
  cached: boolean;
  /** Attempts the trace took, and the step a retry resumed from: how a crash was survived. */
  attempt: number;
  resumedFrom: string | null;
  demand: Demand;
  /** Its weights went into a representative's graph instead of a trace of its own. */
  graphReused?: boolean;
}

export interface FailedTrace {
  modelId: string;
  /** The ApplicationFailure type from the tracer (InvalidInput, ModelNotFound, OutputMismatch, ...). */
  type: string;
  message: string;
}

export interface TraceModelsResult {
  processor: Processor;
  /** Empty when the input asked for a `record`: the traced models are in the record at `recordKey`. */
  traced: TracedModel[];
  failed: FailedTrace[];
  recordKey?: string;
  /** How many models were traced (set with `recordKey`). */
  tracedCount?: number;
}
