/** Progress and results of the `pipeline` workflow, as the `progress` query and the CLI/API see them. */

export const STAGES = ['build', 'trace', 'pack', 'deploy', 'test', 'report'] as const;
export type StageName = (typeof STAGES)[number];

export type StageStatus = 'pending' | 'running' | 'done' | 'skipped' | 'failed';

export interface StageProgress {
  status: StageStatus;
  done: number;
  total: number;
  /** A short line for people: what the stage is doing or produced. */
  detail?: string;
  /** Reference to the stage's output in the artifact store, once it has one. */
  output?: string;
  /** When the stage began and last ended (epoch ms, workflow time): its wall time. */
  startedAt?: number;
  endedAt?: number;
}

export interface StageFailure {
  stage: StageName;
  modelId?: string;
  message: string;
}

export interface PipelineProgress {
  stage: StageName | 'done' | 'failed' | 'cancelled';
  stages: Record<StageName, StageProgress>;
  failures: StageFailure[];
  costPerHour: number | null;
  awaitingApproval: boolean;
  approvedBy?: string;
}

export interface PipelineResult {
  placement?: string;
  report?: string;
  costPerHour: number | null;
  modelsServed: number;
  failures: StageFailure[];
  kneeRequestsPerSecond?: number;
  p90AtKneeMs?: number;
  /** The plan against the measured knees (local runtime): see src/capacity/check.ts. */
  capacity?: {
    verdict: string;
    plannedRps: number;
    measuredRps: number | null;
    ratio: number | null;
    worst: string | null;
  };
}

export function initialProgress(): PipelineProgress {
  const stages = Object.fromEntries(
    STAGES.map((s) => [s, { status: 'pending', done: 0, total: 0 }]),
  ) as Record<StageName, StageProgress>;
  return { stage: 'build', stages, failures: [], costPerHour: null, awaitingApproval: false };
}
