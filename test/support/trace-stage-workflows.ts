import { traceInBatches } from '../../workflows/trace-batches';
import { traceModels } from '../../workflows/trace-models';
import type { TraceStageSummary } from '../../src/domain/pipeline-stages';

export { traceModels };

/** The pipeline's trace stage alone (the same batching helper), over a model manifest artifact. */
export async function traceStage(input: {
  runId: string;
  manifest: string;
  count: number;
}): Promise<TraceStageSummary> {
  return traceInBatches({
    runId: input.runId,
    toTrace: [{ processor: 'cpu', count: input.count, key: input.manifest }],
    traceOptionsOf: () => ({}),
  });
}
