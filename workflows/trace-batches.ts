import { executeChild, patched, proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { TraceStageSummary } from '../src/domain/pipeline-stages';
import type { Processor } from '../src/domain/task-queues';
import type { FailedTrace } from '../src/domain/tracing';
import type { ModelSpec } from '../src/pipeline/input';
import { traceModels } from './trace-models';
import { NO_RETRY } from '../src/domain/failures';

/**
 * Traces models in traceModels child batches, for the pipeline's trace stage and repack's trace step
 * alike: a bounded number of children in flight, one record per batch. A manifest's pages are read when
 * their batch starts, so a 100,000-model list never sits in the history. Not a workflow: a helper that
 * runs inside one.
 */

type Activities = ReturnType<typeof createActivities>;

/** Models per traceModels child: far from 2,000 pending activities and from the history limit. */
export const TRACE_BATCH_SIZE = 250;
const TRACE_CHILDREN_IN_FLIGHT = 4;
const TRACES_PER_CHILD_IN_FLIGHT = 2;

const records = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumAttempts: 5, nonRetryableErrorTypes: [...NO_RETRY.input] },
});

/** The models to trace on one processor: an inline list, or a manifest artifact ({ models: [...] }). */
export type ModelsToTrace = { processor: Processor; count: number } & (
  { models: ModelSpec[] } | { key: string }
);

export async function traceInBatches(options: {
  runId: string;
  toTrace: ModelsToTrace[];
  traceOptionsOf: (model: ModelSpec, processor: Processor) => Record<string, unknown>;
  /** After each batch: what it traced and what failed, its size, and the totals so far (for progress). */
  onBatch?: (
    batch: { traced: number; failed: FailedTrace[] },
    batchSize: number,
    sofar: TraceStageSummary,
  ) => void;
}): Promise<TraceStageSummary> {
  const jobs = options.toTrace.flatMap((m) =>
    Array.from({ length: Math.ceil(m.count / TRACE_BATCH_SIZE) }, (_, index) => ({
      ...m,
      index,
      offset: index * TRACE_BATCH_SIZE,
    })),
  );
  const summary: TraceStageSummary = { batches: [], traced: 0, failed: [] };
  // Runs recorded before this patch got each batch's whole list back and saved the record themselves:
  // a history that grew with the number of models.
  const recordedInChild = patched('trace-batch-recorded-in-child');
  const keys: string[] = new Array(jobs.length);
  let next = 0;
  async function lane(): Promise<void> {
    while (next < jobs.length) {
      const position = next++;
      const job = jobs[position];
      const batch =
        'models' in job
          ? job.models.slice(job.offset, job.offset + TRACE_BATCH_SIZE)
          : await records.readModelManifestPage({
              key: job.key,
              offset: job.offset,
              limit: TRACE_BATCH_SIZE,
            });
      const name = `${job.processor}-${job.index}`;
      const result = await executeChild(traceModels, {
        workflowId: `${options.runId}-trace-${job.processor}-${job.index}`,
        args: [
          {
            processor: job.processor,
            maxConcurrent: TRACES_PER_CHILD_IN_FLIGHT,
            models: batch.map((m) => ({
              id: m.id,
              source: m.source,
              options: options.traceOptionsOf(m, job.processor),
            })),
            ...(recordedInChild ? { record: { runId: options.runId, name } } : {}),
          },
        ],
      });
      keys[position] =
        result.recordKey ?? (await records.recordTraceBatch({ runId: options.runId, name, record: result }));
      const traced = result.tracedCount ?? result.traced.length;
      summary.traced += traced;
      summary.failed.push(...result.failed);
      options.onBatch?.({ traced, failed: result.failed }, batch.length, summary);
    }
  }
  await Promise.all(Array.from({ length: Math.min(TRACE_CHILDREN_IN_FLIGHT, jobs.length) }, lane));
  summary.batches = keys;
  return summary;
}
