/**
 * When a repeated throughput measurement has settled: the last STABLE_WINDOWS windows agree within a
 * relative tolerance of their median. Pure (the probe's activity and tests use it).
 */
export const STABLE_WINDOWS = 3;
export const STABLE_RATE_TOLERANCE = 0.05;

export function rateSpread(windows: number[]): number {
  if (windows.length < STABLE_WINDOWS) return Infinity;
  const last = windows.slice(-STABLE_WINDOWS);
  const median = [...last].sort((a, b) => a - b)[Math.floor(STABLE_WINDOWS / 2)];
  return median > 0 ? (Math.max(...last) - Math.min(...last)) / median : Infinity;
}

export function isStableRate(windows: number[], tolerance = STABLE_RATE_TOLERANCE): boolean {
  return rateSpread(windows) <= tolerance;
}

/** The settled rate: the mean of the last windows (all of them before there are enough). */
export function settledRate(windows: number[]): number {
  const last = windows.slice(-STABLE_WINDOWS);
  return last.length > 0 ? last.reduce((a, b) => a + b, 0) / last.length : 0;
}
