/**
 * When a load step's figures can be trusted. A step offers one rate in consecutive windows of equal length
 * and is stable once its last `windows` windows agree, in the spirit of Triton perf_analyzer's criterion:
 * each window's achieved throughput within ±throughputTolerance of their mean, and each window's P90
 * within ±p90Tolerance of their mean or within ±p90FloorMs, whichever is wider. The floors keep noise
 * that cannot change a verdict from counting as instability: a window's request count is an integer
 * (±1 request is quantisation, not drift), and 3 ms against 4 ms is no disagreement under a 100 ms SLO.
 * A window without a single successful answer has no P90 and is never stable.
 *
 * Windows that all meet the SLO's P90 (`sloP90Ms`, where the rule has one) with agreeing throughput are
 * stable however far apart their P90s are, unless P90 rises window after window past the floor (a queue
 * building up): the knee search only asks pass or fail, and more windows cannot turn three passes into a
 * fail. Judging the figure alone called a step whose windows answered at 10–44 ms under a 100 ms SLO
 * 'unstable', and an unstable step caps the search (src/domain/knee.ts).
 *
 * The step's figure is the combination of the windows that judged it (its last `windows`): for a stable
 * step its steady state without the warm-up, for an unstable one the state it was drifting to. Pure and
 * deterministic: workflow code and activities share it.
 */
import type { CombinedFigures, LatencyFigures } from './step-figures';

/** Figures of one measurement window of a load step. */
export interface WindowFigures extends LatencyFigures {
  /** 0-based, in the order measured within the step. */
  index: number;
  seconds: number;
  /** Successful responses per second. */
  achievedRate: number;
  requests: number;
  failures: number;
  droppedIterations: number;
}

export interface StabilityRule {
  /** Consecutive windows that must agree. */
  windows: number;
  throughputTolerance: number;
  p90Tolerance: number;
  p90FloorMs: number;
  /** The SLO's P90: windows that all meet it agree on the verdict (see the header). */
  sloP90Ms?: number;
}

/** How far the judged windows strayed from their mean: throughput as a fraction, P90 in ms. */
export interface Spread {
  windows: number;
  throughput: number;
  p90Ms: number | null;
}

export const STABLE_WINDOWS = 3;
export const DEFAULT_TOLERANCE = 0.1;
/**
 * The default P90 floor, as a fraction of the SLO's P90. On this project's 2-core reference machine,
 * shared with other work, 10% (10 ms under a 100 ms SLO) called steps whose every window passed with
 * P90 under 40 ms unstable; 20% still calls windows of 60 and 120 ms around a 100 ms SLO unstable.
 */
export const DEFAULT_P90_FLOOR_OF_SLO = 0.2;

/** The windows a step is judged on: its last `rule.windows`. */
function judged<W extends WindowFigures>(windows: W[], rule: StabilityRule): W[] {
  return windows.slice(-rule.windows);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const maxDeviation = (xs: number[], m: number) => Math.max(...xs.map((x) => Math.abs(x - m)));

/** Spread of the windows a step is judged on (all of them while there are fewer than `rule.windows`). */
export function spreadOf(windows: WindowFigures[], rule: StabilityRule): Spread {
  const last = judged(windows, rule);
  if (last.length === 0) return { windows: 0, throughput: 0, p90Ms: null };
  const rates = last.map((w) => w.achievedRate);
  const m = mean(rates);
  const p90s = last.map((w) => w.p90Ms);
  const p90 = p90s.every((p) => p !== null) ? maxDeviation(p90s, mean(p90s)) : null;
  return { windows: last.length, throughput: m > 0 ? maxDeviation(rates, m) / m : 0, p90Ms: p90 };
}

/** Whether the last `rule.windows` windows agree (see the header). */
export function isStable(windows: WindowFigures[], rule: StabilityRule): boolean {
  const last = judged(windows, rule);
  if (last.length < rule.windows) return false;
  if (last.some((w) => w.p90Ms === null || w.requests === w.failures)) return false;
  const rates = last.map((w) => w.achievedRate);
  const m = mean(rates);
  // One request more or less in a window is its count's resolution.
  const rateSlack = Math.max(rule.throughputTolerance * m, 1 / Math.min(...last.map((w) => w.seconds)));
  if (maxDeviation(rates, m) > rateSlack) return false;
  const p90s = last.map((w) => w.p90Ms!);
  if (passTogether(p90s, rule)) return true;
  const p = mean(p90s);
  return maxDeviation(p90s, p) <= Math.max(rule.p90Tolerance * p, rule.p90FloorMs);
}

/** Whether every judged window meets the SLO's P90 and P90 is not climbing window after window. */
function passTogether(p90s: number[], rule: StabilityRule): boolean {
  const slo = rule.sloP90Ms;
  if (slo === undefined || p90s.some((p) => p > slo)) return false;
  const climbing = p90s.every((p, i) => i === 0 || p > p90s[i - 1]);
  return !(climbing && p90s[p90s.length - 1] - p90s[0] > rule.p90FloorMs);
}

/**
 * Combines the judged windows. Counts add up; percentiles are the means of the windows' percentiles,
 * weighted by their successful answers: windows are kept as figures only (so a resumed step can combine
 * windows an earlier attempt measured), and when they agree within tolerance so does this mean with the
 * pooled percentile.
 */
export function combineWindows(windows: WindowFigures[], rule: StabilityRule): CombinedFigures {
  const last = judged(windows, rule);
  const sum = (f: (w: WindowFigures) => number) => last.reduce((a, w) => a + f(w), 0);
  const requests = sum((w) => w.requests);
  const failures = sum((w) => w.failures);
  const seconds = sum((w) => w.seconds);
  const answered = last.filter((w) => w.requests - w.failures > 0 && w.p50Ms !== null);
  const weight = answered.reduce((a, w) => a + w.requests - w.failures, 0);
  const weighted = (f: (w: WindowFigures) => number | null): number | null =>
    answered.length === 0
      ? null
      : answered.reduce((a, w) => a + f(w)! * (w.requests - w.failures), 0) / weight;
  const extreme = (f: (w: WindowFigures) => number | null, pick: (...xs: number[]) => number) =>
    answered.length === 0 ? null : pick(...answered.map((w) => f(w)!));
  return {
    achievedRate: seconds > 0 ? (requests - failures) / seconds : 0,
    requests,
    failures,
    errorRate: requests > 0 ? failures / requests : 0,
    droppedIterations: sum((w) => w.droppedIterations),
    durationSeconds: seconds,
    minMs: extreme((w) => w.minMs, Math.min),
    p50Ms: weighted((w) => w.p50Ms),
    p90Ms: weighted((w) => w.p90Ms),
    p95Ms: weighted((w) => w.p95Ms),
    p99Ms: weighted((w) => w.p99Ms),
    maxMs: extreme((w) => w.maxMs, Math.max),
  };
}

/**
 * Whether a step measured so far is over: stable, out of windows, or overloaded — its last `rule.windows`
 * windows each missed the SLO's P90 (or got no answer). More windows cannot make an overloaded step pass,
 * and whether its drifting figures would ever agree does not matter to the search (an unstable step and a
 * failing one both bound it from above, src/domain/knee.ts), so it ends there instead of feeding a queue
 * that the next step would inherit.
 */
export function stepSettled(
  windows: WindowFigures[],
  rule: StabilityRule,
  maxWindows: number,
  sloP90Ms: number,
): boolean {
  const last = judged(windows, rule);
  const overloaded =
    last.length === rule.windows && last.every((w) => w.p90Ms === null || w.p90Ms > sloP90Ms);
  return windows.length >= maxWindows || overloaded || isStable(windows, rule);
}
