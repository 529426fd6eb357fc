import http from 'k6/http';
import type { Options } from 'k6/options';
import { loadRoutingTable, predictionUrl } from './lib/routing.ts';
import { sampleQuery, transport } from './lib/options.ts';
import { randomRoute } from './lib/pick.ts';
import { envNumber, stepFigures, stepThresholds, TREND_STATS, type SummaryData } from './lib/summary.ts';

/**
 * Closed-loop saturation, the served-path probe: VUS clients each send a request for a random model as
 * soon as their previous one is answered, for DURATION seconds. With more clients than the server batches
 * at once, the server never waits for work, so the answered rate is what the device sustains through the
 * whole serving path. Writes its figures to SUMMARY_FILE (JSON).
 */
const table = loadRoutingTable(__ENV.ROUTING_TABLE);
const vus = envNumber('VUS', 16);
const seconds = envNumber('DURATION', 3);

export const options: Options = {
  ...transport,
  summaryTrendStats: TREND_STATS,
  scenarios: {
    saturate: { executor: 'constant-vus', vus, duration: `${seconds}s`, gracefulStop: '2s' },
  },
  thresholds: stepThresholds('saturate'),
};

export default function (): void {
  const route = randomRoute(table);
  http.get(predictionUrl(route, sampleQuery), {
    tags: { model: route.modelId },
    timeout: `${envNumber('REQUEST_TIMEOUT_S', 10)}s`,
  });
}

export function handleSummary(data: SummaryData): Record<string, string> {
  const figures = stepFigures(data, 'saturate', 0, seconds);
  const out: Record<string, string> = { stdout: `${JSON.stringify(figures)}\n` };
  if (__ENV.SUMMARY_FILE) out[__ENV.SUMMARY_FILE] = JSON.stringify(figures, null, 2);
  return out;
}
