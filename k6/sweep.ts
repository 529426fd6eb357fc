import http from 'k6/http';
import type { Options, Scenario } from 'k6/options';
import { loadRoutingTable, predictionUrl } from './lib/routing.ts';
import { sampleQuery, transport } from './lib/options.ts';
import { randomRoute } from './lib/pick.ts';
import { envNumber, stepFigures, stepThresholds, TREND_STATS, type SummaryData } from './lib/summary.ts';

/**
 * Open-model load: one `constant-arrival-rate` scenario per step, RATES (comma list, req/s) each held for
 * STEP_SECONDS, one after the other. Arrivals do not wait for answers (many independent clients, as in
 * the post), so an overloaded server shows as rising latency and dropped iterations instead of a
 * politely slowed client. Writes one figure set per step to SUMMARY_FILE.
 */
const table = loadRoutingTable(__ENV.ROUTING_TABLE);
const rates = (__ENV.RATES ?? '')
  .split(',')
  .filter((r) => r.trim() !== '')
  .map(Number);
if (rates.length === 0 || rates.some((r) => !Number.isFinite(r) || r <= 0)) {
  throw new Error(`RATES must be a comma list of positive request rates, got ${JSON.stringify(__ENV.RATES)}`);
}
const stepSeconds = envNumber('STEP_SECONDS', 10);
// Enough VUs to hold every request the rate keeps in flight at a few times the SLO latency; more only
// costs memory in k6.
const maxVUs = envNumber('MAX_VUS', 200);
const requestTimeout = `${envNumber('REQUEST_TIMEOUT_S', 10)}s`;
// A pause between steps lets the previous step's stragglers finish so they are not counted against the next.
const gapSeconds = 1;

const scenarios: Record<string, Scenario> = {};
let thresholds: Record<string, string[]> = {};
rates.forEach((rate, i) => {
  const name = `step_${i}`;
  scenarios[name] = {
    executor: 'constant-arrival-rate',
    rate: Math.round(rate * 1000),
    timeUnit: '1000s', // fractional rates (2.5 req/s) as whole iterations per 1000 s
    duration: `${stepSeconds}s`,
    preAllocatedVUs: Math.min(maxVUs, Math.ceil(rate * 0.1) + 2),
    maxVUs,
    startTime: `${i * (stepSeconds + gapSeconds)}s`,
    gracefulStop: '1s',
  };
  thresholds = { ...thresholds, ...stepThresholds(name) };
});

export const options: Options = { ...transport, summaryTrendStats: TREND_STATS, scenarios, thresholds };

export default function (): void {
  const route = randomRoute(table);
  http.get(predictionUrl(route, sampleQuery), { tags: { model: route.modelId }, timeout: requestTimeout });
}

export function handleSummary(data: SummaryData): Record<string, string> {
  const steps = rates.map((rate, i) => stepFigures(data, `step_${i}`, rate, stepSeconds));
  const out: Record<string, string> = { stdout: `${JSON.stringify({ steps })}\n` };
  if (__ENV.SUMMARY_FILE) out[__ENV.SUMMARY_FILE] = JSON.stringify({ steps }, null, 2);
  return out;
}
