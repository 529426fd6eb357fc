import { z } from 'zod';
import { isArtifactKey } from '../artifacts/keys';
import { PROCESSORS } from '../domain/task-queues';
import { describeProblems } from '../pipeline/input';

/**
 * The `calibrate` workflow's input: which traced models to probe the served path with (a pipeline run's
 * trace stage, or its trace batch records), and the serving setup the calibration is for.
 */
export const CalibrateInputSchema = z
  .object({
    /** A pipeline run whose traced models are the sample (its runs/<id>/stage-trace.json). */
    fromRun: z
      .string()
      .max(128)
      .refine((id) => isArtifactKey(`runs/${id}`), 'must be a workflow id (letters, digits, ".", "_", "-")')
      .optional(),
    /** Or the trace batch records themselves (artifact keys). */
    traceBatches: z
      .array(z.string().refine(isArtifactKey, 'must be an artifact key'))
      .min(1)
      .max(10_000)
      .optional(),
    processor: z.enum(PROCESSORS).default('cpu'),
    /** Models loaded on the probe's server, spread across the fleet's forward times. */
    sampleSize: z.number().int().min(1).max(64).default(4),
    /** The most closed-loop clients tried; default twice the batch size (enough for full batches). */
    concurrency: z.number().int().min(1).max(1024).optional(),
    /** The SLO the capacity is measured under (the pipeline's loadTest.sloP90Ms). */
    sloP90Ms: z.number().positive().max(600_000).default(100),
    windowSeconds: z.number().min(1).max(60).default(3),
    maxWindows: z.number().int().min(3).max(40).default(8),
    maxBatch: z.number().int().min(1).max(1024).optional(),
    batchWindowMs: z.number().min(0).max(1000).optional(),
  })
  .strict()
  .refine((i) => (i.fromRun === undefined) !== (i.traceBatches === undefined), {
    message: 'give exactly one of fromRun or traceBatches',
  });

export type CalibrateInput = z.input<typeof CalibrateInputSchema>;
export type ValidCalibrateInput = z.output<typeof CalibrateInputSchema>;

export type ParsedCalibrateInput =
  { ok: true; input: ValidCalibrateInput } | { ok: false; problems: string[] };

export function parseCalibrateInput(raw: unknown): ParsedCalibrateInput {
  const parsed = CalibrateInputSchema.safeParse(raw);
  return parsed.success
    ? { ok: true, input: parsed.data }
    : { ok: false, problems: describeProblems(parsed.error) };
}
