import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';
import type { Options } from 'k6/options';
import { loadRoutingTable, predictionUrl } from './lib/routing.ts';
import { sampleQuery, transport } from './lib/options.ts';
import { stepFigures, stepThresholds, TREND_STATS, type SummaryData } from './lib/summary.ts';

/** Best-case latency: each model in turn, one request at a time (the post's sequential test). */
const table = loadRoutingTable(__ENV.ROUTING_TABLE);

export const options: Options = {
  ...transport,
  summaryTrendStats: TREND_STATS,
  scenarios: {
    sequential: {
      executor: 'shared-iterations',
      vus: 1,
      iterations: table.routes.length,
      maxDuration: '10m',
    },
  },
  thresholds: { checks: ['rate==1'], ...stepThresholds('sequential') },
};

export default function (): void {
  const route = table.routes[exec.scenario.iterationInTest];
  const response = http.get(predictionUrl(route, sampleQuery), { tags: { model: route.modelId } });
  check(response, { 'status is 200': (r) => r.status === 200 });
}

/** Figures for the report (min–max is the post's "sequential response" range) to SUMMARY_FILE when set. */
export function handleSummary(data: SummaryData): Record<string, string> {
  const seconds =
    (data as unknown as { state: { testRunDurationMs: number } }).state.testRunDurationMs / 1000;
  const figures = stepFigures(data, 'sequential', 0, seconds);
  const out: Record<string, string> = { stdout: `${JSON.stringify(figures)}\n` };
  if (__ENV.SUMMARY_FILE) out[__ENV.SUMMARY_FILE] = JSON.stringify(figures, null, 2);
  return out;
}
