import { executeChild, proxyActivities } from '@temporalio/workflow';
import type { TraceModelsInput } from '../../../src/domain/tracing';
import type { TracerActivities } from '../../../src/domain/tracer-activities';
import { traceModels } from '../../../workflows/trace-models';

export { traceModels };

/** 3,000 models through traceModels children, batched and windowed as the pipeline's trace stage does. */
export async function traceFleet(input: {
  models: number;
  batchSize: number;
  childrenInFlight: number;
  perChild: number;
}): Promise<number> {
  const batches: TraceModelsInput[] = [];
  for (let start = 0; start < input.models; start += input.batchSize) {
    const ids = Array.from(
      { length: Math.min(input.batchSize, input.models - start) },
      (_, i) => `m-${start + i}`,
    );
    batches.push({
      processor: 'cpu',
      maxConcurrent: input.perChild,
      models: ids.map((id) => ({ id, source: 'noop' })),
    });
  }
  let next = 0;
  let traced = 0;
  async function lane(): Promise<void> {
    while (next < batches.length) {
      const index = next++;
      const result = await executeChild(traceModels, {
        workflowId: `bench-fleet-${index}`,
        args: [batches[index]],
      });
      traced += result.traced.length;
    }
  }
  await Promise.all(Array.from({ length: input.childrenInFlight }, lane));
  return traced;
}

/** The raw baseline: the same number of no-op activities at the same concurrency, in one workflow. */
export async function rawFanout(input: { count: number; concurrency: number }): Promise<number> {
  const { traceModel } = proxyActivities<TracerActivities>({
    taskQueue: 'stowage-tracer-cpu',
    startToCloseTimeout: '1 minute',
  });
  let next = 0;
  let done = 0;
  async function lane(): Promise<void> {
    while (next < input.count) {
      const i = next++;
      await traceModel({ modelId: `m-${i}`, source: 'noop', processor: 'cpu' });
      done++;
    }
  }
  await Promise.all(Array.from({ length: input.concurrency }, lane));
  return done;
}
