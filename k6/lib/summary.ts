/**
 * Turns k6's end-of-test summary data into the per-step figures Stowage keeps. Per-step numbers come from
 * sub-metrics (`metric{scenario:step_i}`), which k6 only computes for metrics named in thresholds, so each
 * script registers always-true thresholds for the sub-metrics it reads (see stepThresholds).
 */
import type { ScenarioFigures } from '../../src/domain/step-figures.ts';

export const TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'];

/** Sub-metric names read by stepFigures; every one needs a threshold to exist in the summary. */
export function stepThresholds(scenario: string): Record<string, string[]> {
  return {
    [`http_req_duration{scenario:${scenario},expected_response:true}`]: ['max>=0'],
    [`http_reqs{scenario:${scenario}}`]: ['count>=0'],
    [`http_req_failed{scenario:${scenario}}`]: ['rate>=0'],
    [`dropped_iterations{scenario:${scenario}}`]: ['count>=0'],
  };
}

interface SummaryMetric {
  values: Record<string, number>;
}
export interface SummaryData {
  metrics: Record<string, SummaryMetric | undefined>;
}

function value(data: SummaryData, name: string, stat: string): number | null {
  const v = data.metrics[name]?.values[stat];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function stepFigures(
  data: SummaryData,
  scenario: string,
  offeredRate: number,
  durationSeconds: number,
): ScenarioFigures {
  const latency = `http_req_duration{scenario:${scenario},expected_response:true}`;
  const requests = value(data, `http_reqs{scenario:${scenario}}`, 'count') ?? 0;
  // http_req_failed is a Rate: `passes` counts the failed requests (the rate's true samples).
  const failures = value(data, `http_req_failed{scenario:${scenario}}`, 'passes') ?? 0;
  const hasSuccess = requests - failures > 0;
  const stat = (s: string) => (hasSuccess ? value(data, latency, s) : null);
  return {
    scenario,
    offeredRate,
    achievedRate: (requests - failures) / durationSeconds,
    requests,
    failures,
    errorRate: requests > 0 ? failures / requests : 0,
    droppedIterations: value(data, `dropped_iterations{scenario:${scenario}}`, 'count') ?? 0,
    durationSeconds,
    minMs: stat('min'),
    p50Ms: stat('med'),
    p90Ms: stat('p(90)'),
    p95Ms: stat('p(95)'),
    p99Ms: stat('p(99)'),
    maxMs: stat('max'),
  };
}

/** Positive number from an environment variable, or the fallback. */
export function envNumber(name: string, fallback: number): number {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${raw}`);
  return n;
}
