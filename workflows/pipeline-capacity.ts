import { executeChild, proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { CapacityCheck } from '../src/capacity/check';
import { deviceLabel } from '../src/capacity/plan';
import type { LoadSweepResult, RoutingTable } from '../src/domain/load-sweep';
import type { PackStageResult, TraceStageSummary } from '../src/domain/pipeline-stages';
import type { PipelineInput } from '../src/pipeline/input';
import { calibrate, localServingSetup } from './calibrate';
import { loadSweep } from './load-sweep';
import { NO_RETRY } from '../src/domain/failures';

/**
 * The pipeline's capacity model steps (src/capacity): the served-path calibration its pack stage plans
 * with, and the check of that plan against what the test stage measured, which also closes the loop.
 * Local runtime only: a probe measures the machine it runs on, so it says nothing about a cloud catalog.
 */

type Activities = ReturnType<typeof createActivities>;

const records = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumAttempts: 5, nonRetryableErrorTypes: [...NO_RETRY.input] },
});

/** Whether this run plans with (and checks) a calibration of the machine it runs on. */
export function calibratesLocally(input: PipelineInput): boolean {
  return input.runtime === 'local' && input.catalog === undefined;
}

/**
 * The calibration keys to pack with, one per processor; a setup never probed is probed now (the
 * `calibrate` child workflow), on the models this run traced.
 */
export async function calibrationsFor(
  input: PipelineInput,
  runId: string,
  trace: TraceStageSummary,
  torchVersion: string,
  cores?: number,
): Promise<string[]> {
  const keys: string[] = [];
  for (const processor of input.processors) {
    const { key, found } = await records.loadCalibration({
      setup: localServingSetup(torchVersion, processor, input.loadTest.sloP90Ms, { cores }),
    });
    if (!found) {
      await executeChild(calibrate, {
        workflowId: `${runId}-calibrate-${processor}`,
        args: [{ traceBatches: trace.batches, processor, sloP90Ms: input.loadTest.sloP90Ms }],
      });
    }
    keys.push(key);
  }
  return keys;
}

/**
 * Each served device's measured capacity: a fleet of one device was measured by the fleet's sweep; with
 * more, each device is swept alone (its own routes), as the plan promises per device.
 */
export async function checkPlannedCapacity(
  input: PipelineInput,
  runId: string,
  placement: PackStageResult,
  served: PackStageResult['instances'],
  routingTable: RoutingTable,
  fleetSweep: Pick<LoadSweepResult, 'knee'>,
): Promise<{ key: string; check: CapacityCheck } | undefined> {
  if (!placement.capacityPlanKey) return undefined;
  const devices = served.flatMap((inst, i) =>
    inst.devices.map((models, d) => ({ device: deviceLabel(inst.type, i, d), models })),
  );
  const measured: { device: string; kneeRps: number | null }[] = [];
  if (devices.length === 1) {
    measured.push({ device: devices[0].device, kneeRps: fleetSweep.knee?.achievedRate ?? null });
  } else {
    for (const [index, { device, models }] of devices.entries()) {
      const own = new Set(models);
      const result = await executeChild(loadSweep, {
        workflowId: `${runId}-test-device-${index}`,
        args: [
          {
            routingTable: { routes: routingTable.routes.filter((r) => own.has(r.modelId)) },
            slo: { p90Ms: input.loadTest.sloP90Ms, maxErrorRate: input.loadTest.maxErrorRate },
            sweep: { maxSteps: input.loadTest.maxSteps, stepSeconds: input.loadTest.stepSeconds },
          },
        ],
      });
      measured.push({ device, kneeRps: result.knee?.achievedRate ?? null });
    }
  }
  return records.recordCapacityCheck({ runId, planKey: placement.capacityPlanKey, measured });
}
