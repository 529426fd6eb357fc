import type { CalibrationUse } from '../capacity/plan';
import type { InstanceTypeSpec } from '../packing/types';
import type { Processor } from './task-queues';
import type { FailedTrace, TracedModel } from './tracing';

/**
 * What the pipeline's stages hand to each other. Large data stays in the artifact store: the workflow
 * carries keys and the few figures it needs to decide and to report progress.
 */

/** One traceModels batch, saved under runs/<runId>/trace/. */
export interface TraceBatchRecord {
  processor: Processor;
  traced: TracedModel[];
  failed: FailedTrace[];
}

export interface TraceStageSummary {
  /** Artifact keys of the TraceBatchRecords. */
  batches: string[];
  traced: number;
  failed: FailedTrace[];
}

export interface PackStageInput {
  runId: string;
  traceBatches: string[];
  catalog?: InstanceTypeSpec[];
  limits: { memoryFraction?: number; computeFraction?: number };
  timeLimitMs?: number;
  /** Artifact keys of served-path calibrations (src/capacity) to compute demands with. */
  calibrations?: string[];
}

export interface PackStageResult {
  placementId: string;
  /** Artifact key of the Placement (placements/<placementId>.json). */
  placementKey: string;
  costPerHour: number;
  lowerBoundPerHour: number;
  instances: { type: string; devices: string[][] }[];
  unplaced: { id: string; reason: string }[];
  /** The processor each placed model runs on (from its instance type). */
  processors: Processor[];
  cached: boolean;
  /** What each served device promises (runs/<runId>/capacity-plan.json); absent in older runs. */
  capacityPlanKey?: string;
  /** Σ of the served devices' planned capacity (req/s at the compute cap); absent in older runs. */
  plannedRps?: number;
  calibrations?: Record<string, CalibrationUse>;
  /** Profiles whose timings did not settle or were taken on a contended machine (their demands are shaky). */
  untrustedProfiles?: number;
}

/** The instances and devices that hold models: idle devices (the packer filled fewer) get no server. */
export function servedInstances(instances: PackStageResult['instances']): PackStageResult['instances'] {
  return instances
    .map((i) => ({ ...i, devices: i.devices.filter((models) => models.length > 0) }))
    .filter((i) => i.devices.length > 0);
}
