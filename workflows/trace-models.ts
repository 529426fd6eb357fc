import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import {
  type FailedTrace,
  type TracedModel,
  TraceModelsInputSchema,
  type TraceModelsInput,
  type TraceModelsResult,
} from '../src/domain/tracing';
import { tracerActivities } from './tracer-proxy';
import { FailureType, NO_RETRY } from '../src/domain/failures';

const DEFAULT_CONCURRENCY = 4;

const records = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumAttempts: 5, nonRetryableErrorTypes: [...NO_RETRY.input] },
});

/**
 * Traces a list of models on one processor's queue with at most `maxConcurrent` traces in flight (a
 * sliding window: a slot is refilled as soon as a trace ends). A model that fails is reported, not fatal:
 * one bad model must not cost the other thousand their traces.
 */
export async function traceModels(input: TraceModelsInput): Promise<TraceModelsResult> {
  const parsed = TraceModelsInputSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`);
    throw ApplicationFailure.nonRetryable(
      `invalid traceModels input: ${problems.join('; ')}`,
      FailureType.InvalidInput,
    );
  }
  const { models, processor, maxConcurrent = DEFAULT_CONCURRENCY } = parsed.data;
  const { traceModel } = tracerActivities(processor);

  const outcomes: (TracedModel | FailedTrace)[] = new Array(models.length);
  let next = 0;
  async function lane(): Promise<void> {
    while (next < models.length) {
      const index = next++;
      const model = models[index];
      try {
        const result = await traceModel({
          modelId: model.id,
          source: model.source,
          processor,
          options: model.options,
        });
        outcomes[index] = {
          modelId: model.id,
          artifact: result.artifact,
          cached: result.cached,
          attempt: result.attempt,
          resumedFrom: result.resumedFrom,
          demand: result.demand,
          ...(result.graph ? { graphReused: result.graph.reused } : {}),
        };
      } catch (err) {
        outcomes[index] = failure(model.id, err);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(maxConcurrent, models.length) }, lane));

  const traced = outcomes.filter((o): o is TracedModel => 'artifact' in o);
  const failed = outcomes.filter((o): o is FailedTrace => 'type' in o);
  if (!parsed.data.record) return { processor, traced, failed };
  // The list stays out of the result: a parent of many batches would otherwise hold every model's record.
  const recordKey = await records.recordTraceBatch({
    ...parsed.data.record,
    record: { processor, traced, failed },
  });
  return { processor, traced: [], failed, recordKey, tracedCount: traced.length };
}

function failure(modelId: string, err: unknown): FailedTrace {
  // Workflow cancellation and non-activity errors are not per-model failures: let them end the workflow.
  if (!(err instanceof ActivityFailure)) throw err;
  const cause = err.cause;
  if (cause instanceof ApplicationFailure) {
    return { modelId, type: cause.type ?? 'ApplicationFailure', message: cause.message };
  }
  return { modelId, type: cause?.name ?? 'ActivityFailure', message: cause?.message ?? err.message };
}
