/**
 * Finding the knee of the throughput–latency curve: the highest achieved throughput whose P90 stays
 * within the SLO and whose error rate stays within budget. Pure and deterministic (workflow code).
 *
 * Search: a geometric ramp (×factor per step) from the start rate until a step misses the SLO, then
 * bisection in log space between the best passing and the lowest failing rate until they are within
 * the tolerance of each other. While P90 is under a quarter of the SLO the ramp takes double strides. With factor 2 and ±5%, bracketing costs ≤ 4 steps and bisection 4
 * (2^(1/16) ≈ 1.044), so the knee is located in ≤ 8 load steps when the start rate is within 8× of it.
 *
 * Unstable steps (src/domain/stability.ts: the step's windows never agreed within its time bound) are
 * neither pass nor fail: verdict 'unstable', never the knee and never the bracket's lower bound. Above the
 * best passing rate one bounds the bracket from above like a failing step: a rate whose figures do not
 * settle at a constant offered load is not one the fleet sustains (near capacity the queue grows and P90
 * drifts window after window), and treating it as a bound keeps the search within its step budget instead
 * of spending steps re-measuring. Below the best passing rate it is noise and bounds nothing. Errors over
 * budget fail a step however its windows spread: a lost server is never hidden behind 'unstable'.
 */

export interface Slo {
  p90Ms: number;
  maxErrorRate: number;
}

/** What the search needs from a measured step. */
export interface StepOutcome {
  offeredRate: number;
  achievedRate: number;
  p90Ms: number | null;
  errorRate: number;
  droppedIterations: number;
  durationSeconds: number;
  /** Whether the step's windows agreed; absent for a step measured in one piece (counts as stable). */
  stable?: boolean;
}

export interface KneePlan {
  startRate: number;
  minRate: number;
  maxRate: number;
  factor: number;
  tolerance: number;
  maxSteps: number;
}

export type Verdict = 'pass' | 'latency' | 'errors' | 'saturated' | 'unstable';

/**
 * Why a step fails the SLO, 'pass', or 'unstable' when its figures never settled (see the header).
 * 'saturated': the load generator could not start what was offered (dropped iterations over 5%) or the
 * server answered under 90% of it, so the rate is past capacity even if the answers it did give were fast.
 */
export function verdict(step: StepOutcome, slo: Slo): Verdict {
  if (step.errorRate > slo.maxErrorRate) return 'errors';
  if (step.stable === false) return 'unstable';
  if (step.p90Ms === null || step.p90Ms > slo.p90Ms) return 'latency';
  const offered = step.offeredRate * step.durationSeconds;
  if (step.droppedIterations > 0.05 * offered || step.achievedRate < 0.9 * step.offeredRate)
    return 'saturated';
  return 'pass';
}

export type NextStep =
  | { kind: 'step'; rate: number; phase: 'ramp' | 'bisect' }
  | { kind: 'done'; reason: 'bracketed' | 'maxRate' | 'minRate' | 'stepBudget' };

/** The next rate to offer given the steps measured so far, or why the search is over. */
export function nextStep(steps: StepOutcome[], plan: KneePlan, slo: Slo): NextStep {
  if (steps.length === 0) return { kind: 'step', rate: clamp(plan.startRate, plan), phase: 'ramp' };
  const { lo, hi } = bracket(steps, slo);
  // Bracketed first: the step that closes the bracket may be the last one the budget allows.
  if (lo !== undefined && hi !== undefined && hi / lo <= 1 + plan.tolerance)
    return { kind: 'done', reason: 'bracketed' };
  if (steps.length >= plan.maxSteps) return { kind: 'done', reason: 'stepBudget' };
  if (lo === undefined) {
    // Even the lowest rate tried misses the SLO: ramp down.
    if (hi! <= plan.minRate * (1 + 1e-9)) return { kind: 'done', reason: 'minRate' };
    return { kind: 'step', rate: Math.max(plan.minRate, hi! / plan.factor), phase: 'ramp' };
  }
  if (hi === undefined) {
    if (lo >= plan.maxRate * (1 - 1e-9)) return { kind: 'done', reason: 'maxRate' };
    // Far below the SLO (P90 under a quarter of it) latency is flat and the knee far off: take a double
    // stride. Saves ramp steps for the bisection, which is what the 8-step budget is really for.
    const best = steps.find((s) => s.offeredRate === lo && verdict(s, slo) === 'pass');
    const stride = best?.p90Ms != null && best.p90Ms <= slo.p90Ms / 4 ? plan.factor ** 2 : plan.factor;
    return { kind: 'step', rate: round(Math.min(plan.maxRate, lo * stride)), phase: 'ramp' };
  }
  return { kind: 'step', rate: round(Math.sqrt(lo * hi)), phase: 'bisect' };
}

/** Highest passing offered rate and the lowest failing (or unstable) one above it. */
export function bracket(steps: StepOutcome[], slo: Slo): { lo?: number; hi?: number } {
  const passing = steps.filter((s) => verdict(s, slo) === 'pass').map((s) => s.offeredRate);
  const lo = passing.length > 0 ? Math.max(...passing) : undefined;
  // A failing rate below a passing one is noise (a hiccup), not a bound.
  const failing = steps
    .filter((s) => verdict(s, slo) !== 'pass' && (lo === undefined || s.offeredRate > lo))
    .map((s) => s.offeredRate);
  return { lo, hi: failing.length > 0 ? Math.min(...failing) : undefined };
}

/** The knee: among passing steps, the one with the highest achieved throughput (undefined if none). */
export function kneeOf<T extends StepOutcome>(steps: T[], slo: Slo): T | undefined {
  let best: T | undefined;
  for (const s of steps) {
    if (verdict(s, slo) === 'pass' && (!best || s.achievedRate > best.achievedRate)) best = s;
  }
  return best;
}

function clamp(rate: number, plan: KneePlan): number {
  return round(Math.min(plan.maxRate, Math.max(plan.minRate, rate)));
}

// Rates to 0.01 req/s: k6 takes them as iterations per 1000 s.
function round(rate: number): number {
  return Math.round(rate * 100) / 100;
}
