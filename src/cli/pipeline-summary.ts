import Table from 'cli-table3';
import type { PipelineProgress, PipelineResult } from '../domain/pipeline';

/** Each stage's status and wall time (seconds, from the workflow's own clock), for --json documents. */
export function stageWallTimes(
  progress: PipelineProgress | undefined,
): Record<string, { status: string; seconds: number | null; done: number; total: number }> {
  return Object.fromEntries(
    Object.entries(progress?.stages ?? {}).map(([name, s]) => [
      name,
      {
        status: s.status,
        seconds:
          s.startedAt !== undefined && s.endedAt !== undefined
            ? Math.round(s.endedAt - s.startedAt) / 1000
            : null,
        done: s.done,
        total: s.total,
      },
    ]),
  );
}

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
    ['capacity plan', capacityLine(result.capacity)],
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

function capacityLine(capacity: PipelineResult['capacity']): string {
  if (!capacity) return '-';
  const measured =
    capacity.measuredRps === null ? 'not measured' : `measured ${Math.round(capacity.measuredRps)}`;
  const ratio = capacity.ratio === null ? '' : ` (×${capacity.ratio.toFixed(2)})`;
  const worst = capacity.verdict === 'promise broken' && capacity.worst ? `, worst ${capacity.worst}` : '';
  return `${capacity.verdict}: planned ${Math.round(capacity.plannedRps)} req/s, ${measured}${ratio}${worst}`;
}
