import type { ArtifactStore } from '../artifacts/store';
import type { ModelLoad } from '../capacity/plan';
import { type Calibration, demandedCompute, type ProfiledDemand } from '../capacity/served-path';
import type { TraceBatchRecord } from '../domain/pipeline-stages';
import type { InstanceTypeSpec, ModelDemand, ModelSpec, PackingProblem } from '../packing';

/**
 * From traced demands to the PackingProblem that `pipeline` and `repack` both pack (docs/contracts.md).
 * The problem's JSON is hashed into the placement id (placement.ts), so its key order and model order are
 * part of the artifact layout: a change here re-packs every cached problem under a new id.
 */

/** The trace stage's batches (runs/<runId>/trace-*.json), one at a time: a large run never sits in memory whole. */
export async function* readTraceBatches(
  artifacts: ArtifactStore,
  keys: string[],
): AsyncGenerator<TraceBatchRecord> {
  for (const key of keys) yield await artifacts.readJson<TraceBatchRecord>(key);
}

/** What a model asks of one device: its compute from the processor's served-path calibration when there is one. */
export function deviceDemand(
  demand: ProfiledDemand & { memoryGiB: number; hostMemoryGiB?: number },
  calibration: Calibration | undefined,
): ModelDemand {
  return {
    memoryGiB: demand.memoryGiB,
    compute: demandedCompute(demand, calibration),
    hostMemoryGiB: demand.hostMemoryGiB,
  };
}

/** The problem in its one key order (the placement id depends on it). */
export function packingProblem(parts: {
  catalog: InstanceTypeSpec[];
  models: ModelSpec[];
  limits: PackingProblem['limits'];
  previous?: PackingProblem['previous'];
  maxMoves?: number;
  timeLimitMs?: number;
}): PackingProblem {
  return {
    instanceTypes: parts.catalog,
    models: parts.models,
    limits: parts.limits,
    previous: parts.previous,
    maxMoves: parts.maxMoves,
    timeLimitMs: parts.timeLimitMs,
  };
}

export interface TracedDemands {
  /** Sorted by id, so that the problem, and so the placement id, does not depend on trace completion order. */
  models: ModelSpec[];
  /** Keyed `<modelId>/<processor>`: the load each model brings to a device of that processor. */
  loads: Map<string, ModelLoad>;
  /** Profiles whose timings did not settle or were taken on a contended machine. */
  untrusted: number;
}

/** The demands of every model the trace batches hold, on each processor it was traced for. */
export async function tracedDemands(
  artifacts: ArtifactStore,
  batchKeys: string[],
  calibrationOf: (processor: string) => Calibration | undefined,
): Promise<TracedDemands> {
  const demands = new Map<string, ModelSpec['demands']>();
  const loads = new Map<string, ModelLoad>();
  let untrusted = 0;
  for await (const batch of readTraceBatches(artifacts, batchKeys)) {
    const calibration = calibrationOf(batch.processor);
    for (const { modelId, demand } of batch.traced) {
      if (demand.measurement && (!demand.measurement.stable || demand.measurement.contended)) untrusted++;
      const entry = deviceDemand(demand, calibration);
      demands.set(modelId, { ...demands.get(modelId), [batch.processor]: entry });
      loads.set(`${modelId}/${batch.processor}`, {
        expectedRps: demand.expectedRequestsPerSecond,
        compute: entry.compute,
        forwardOnlyCompute: demand.compute ?? 1,
      });
    }
  }
  const models = [...demands.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([id, d]) => ({ id, demands: d }));
  return { models, loads, untrusted };
}
