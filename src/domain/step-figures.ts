/**
 * The figures of one load step: what k6's end-of-test summary gives for a scenario (k6/lib/summary.ts
 * writes them) and what the windows of a step combine to (stability.ts). Both sides import these types
 * from here; k6 scripts import them with `import type`, which k6 erases, so nothing of src/ travels to k6
 * (a k6 Job gets only k6/*.ts). This file therefore imports nothing: the k6 type-check
 * (`npx tsc -p k6/tsconfig.json`, no Node types) reads it too.
 */

/** Latency of successful responses, in milliseconds (null when none succeeded). */
export interface LatencyFigures {
  minMs: number | null;
  p50Ms: number | null;
  p90Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

/** A step's figures without the rate it was offered: also what its judged windows combine to. */
export interface CombinedFigures extends LatencyFigures {
  /** Successful responses per second over the step. */
  achievedRate: number;
  requests: number;
  failures: number;
  errorRate: number;
  droppedIterations: number;
  durationSeconds: number;
}

export interface StepFigures extends CombinedFigures {
  /** Requests per second the executor was asked to start. */
  offeredRate: number;
}

/** A step's figures as k6's handleSummary writes them, under the scenario's name. */
export interface ScenarioFigures extends StepFigures {
  scenario: string;
}
