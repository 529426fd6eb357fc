import Table from 'cli-table3';
import type { PipelineProgress, PipelineResult } from '../domain/pipeline';

/** The post's bottom line for one run: what it costs, what it serves, how fast. */
export function formatPipelineSummary(
  result: PipelineResult,
  progress: PipelineProgress | undefined,
): string {
  const table = new Table({ style: { head: [], border: [] }, head: ['figure', 'value'] });
  const perModelHour =
    result.costPerHour !== null && result.modelsServed > 0 ? result.costPerHour / result.modelsServed : null;
  table.push(
    ['models served', result.modelsServed],
    ['cost', result.costPerHour === null ? '-' : `$${result.costPerHour.toFixed(4)}/hour`],
    ['price per model-hour', perModelHour === null ? '-' : `$${perModelHour.toFixed(5)} (the post: $0.015)`],
    [
      'throughput at the knee',
      result.kneeRequestsPerSecond === undefined ? '-' : `${Math.round(result.kneeRequestsPerSecond)} req/s`,
    ],
    ['P90 at the knee', result.p90AtKneeMs === undefined ? '-' : `${result.p90AtKneeMs.toFixed(1)} ms`],
    [
      'failures',
      result.failures.length === 0
        ? 'none'
        : result.failures.map((f) => `${f.stage} ${f.modelId ?? ''}: ${f.message}`).join('\n'),
    ],
  );
  if (progress) {
    for (const [name, stage] of Object.entries(progress.stages))
      table.push([`stage ${name}`, `${stage.status}${stage.detail ? `: ${stage.detail}` : ''}`]);
  }
  return table.toString();
}
