import type { ArtifactStore } from '../artifacts/store';
import type { CalibrationUse } from '../capacity/plan';
import { type Calibration, latestCalibrationKey, servedCostMs } from '../capacity/served-path';

/** Reading the served-path calibrations a pack plans with (src/capacity). */

export interface AppliedCalibration {
  calibration: Calibration;
  use: CalibrationUse;
}

/**
 * The calibrations to apply, one per processor. Demands are per processor in the packing contract, so
 * where two instance types of one processor were calibrated the dearer served path is used for both.
 */
export async function readCalibrations(
  artifacts: ArtifactStore,
  keys: string[],
): Promise<Map<string, AppliedCalibration>> {
  const byProcessor = new Map<string, AppliedCalibration>();
  for (const key of keys) {
    const calibration = await artifacts.readJson<Calibration>(key);
    const processor = calibration.setup.processor;
    const held = byProcessor.get(processor);
    if (held && servedCostMs(1, held.calibration) >= servedCostMs(1, calibration)) continue;
    byProcessor.set(processor, {
      calibration,
      use: {
        key,
        probedAt: calibration.probe.measuredAt,
        checkedAt: calibration.checks.at(-1)?.measuredAt ?? null,
        probeTrusted: calibration.probe.stable && !calibration.probe.contended,
        openLoopShare: calibration.probe.openLoop?.share ?? null,
        overheadMs: calibration.overheadMs,
        forwardScale: calibration.forwardScale,
        capacityFactor: calibration.capacityFactor,
      },
    });
  }
  return byProcessor;
}

/** The newest probed calibration of each processor on an instance type, for packs that do not deploy. */
export async function latestCalibrations(
  artifacts: ArtifactStore,
  processors: string[],
  instanceType: string,
): Promise<Map<string, AppliedCalibration>> {
  const keys: string[] = [];
  for (const processor of processors) {
    const pointer = latestCalibrationKey(processor, instanceType);
    if (await artifacts.exists(pointer)) keys.push((await artifacts.readJson<{ key: string }>(pointer)).key);
  }
  return readCalibrations(artifacts, keys);
}
