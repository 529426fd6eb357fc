import http from 'k6/http';
import { check } from 'k6';
import type { Options } from 'k6/options';
import { loadRoutingTable, predictionUrl } from './lib/routing.ts';
import { sampleQuery, transport } from './lib/options.ts';
import { randomRoute } from './lib/pick.ts';
import { envNumber, stepFigures, stepThresholds, TREND_STATS, type SummaryData } from './lib/summary.ts';

/**
 * The post's random test: a random model (and so a random server) at a set frequency, RATE requests per
 * second for DURATION seconds. Low rate on purpose: it measures best-case latency across the fleet, not
 * capacity. Writes its figures to SUMMARY_FILE (JSON) when set.
 */
const table = loadRoutingTable(__ENV.ROUTING_TABLE);
const rate = envNumber('RATE', 5);
const seconds = envNumber('DURATION', 10);

export const options: Options = {
  ...transport,
  summaryTrendStats: TREND_STATS,
  scenarios: {
    random: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration: `${seconds}s`,
      preAllocatedVUs: 2,
      maxVUs: 20,
      gracefulStop: '5s',
    },
  },
  thresholds: stepThresholds('random'),
};

export default function (): void {
  const route = randomRoute(table);
  const response = http.get(predictionUrl(route, sampleQuery), {
    tags: { model: route.modelId },
    timeout: `${envNumber('REQUEST_TIMEOUT_S', 10)}s`,
  });
  check(response, { 'status is 200': (r) => r.status === 200 });
}

export function handleSummary(data: SummaryData): Record<string, string> {
  const figures = stepFigures(data, 'random', rate, seconds);
  const out: Record<string, string> = { stdout: `${JSON.stringify(figures)}\n` };
  if (__ENV.SUMMARY_FILE) out[__ENV.SUMMARY_FILE] = JSON.stringify(figures, null, 2);
  return out;
}
