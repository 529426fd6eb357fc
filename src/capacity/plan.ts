import { plannedCapacityRps } from './served-path';

/**
 * What a placement promises, per device: the load it was packed for and the request rate it should
 * sustain at the compute cap. The pack stage writes it beside the placement; the test stage checks it.
 */
export interface PlannedDevice {
  /** The device as the report names it: `<type>#<instance>/dev<device>` over the served instances. */
  device: string;
  models: number;
  /** Σ expected requests/s of its models. */
  expectedRps: number;
  /** Σ compute demand of its models (shares of one device). */
  compute: number;
  /** The request rate, in the planned mix, at which the device reaches the compute cap. */
  plannedRps: number;
  /** The same from the profile's forward timing alone (no served-path calibration): what plans promised before. */
  forwardOnlyRps: number;
}

export interface CalibrationUse {
  key: string;
  /** When the served path was probed, and when a sweep last corrected it (null: never). */
  probedAt: string;
  checkedAt: string | null;
  /** The probe's windows agreed, and the machine had no other work while it ran. */
  probeTrusted: boolean;
  /** The share of the probe's rate open-loop traffic kept within the SLO; null: not measured (cap assumed). */
  openLoopShare: number | null;
  overheadMs: number;
  forwardScale: number;
  capacityFactor: number;
}

export interface CapacityPlan {
  computeCap: number;
  /** The calibration each processor's demands were computed with; absent: forward time only. */
  calibrations: Record<string, CalibrationUse>;
  devices: PlannedDevice[];
}

export interface ModelLoad {
  expectedRps: number;
  compute: number;
  /** The compute demand from the profile's timing alone. */
  forwardOnlyCompute: number;
}

export const deviceLabel = (type: string, instance: number, device: number, market?: string): string =>
  `${type}${market === 'spot' ? ' (spot)' : ''}#${instance}/dev${device}`;

/** The plan of the served devices (those holding models, indexed as deployed). */
export function capacityPlan(
  served: { type: string; market?: string; devices: string[][] }[],
  loadOf: (modelId: string, instanceType: string) => ModelLoad | undefined,
  computeCap: number,
  calibrations: Record<string, CalibrationUse>,
): CapacityPlan {
  const devices = served.flatMap((inst, i) =>
    inst.devices.map((models, d) => {
      const expectedRps = sum(models.map((m) => loadOf(m, inst.type)?.expectedRps ?? 0));
      const compute = sum(models.map((m) => loadOf(m, inst.type)?.compute ?? 0));
      const forwardOnly = sum(models.map((m) => loadOf(m, inst.type)?.forwardOnlyCompute ?? 0));
      return {
        device: deviceLabel(inst.type, i, d, inst.market),
        models: models.length,
        expectedRps: round(expectedRps, 4),
        compute: round(compute, 6),
        plannedRps: round(plannedCapacityRps({ expectedRps, compute }, computeCap), 2),
        forwardOnlyRps: round(plannedCapacityRps({ expectedRps, compute: forwardOnly }, computeCap), 2),
      };
    }),
  );
  return { computeCap, calibrations, devices };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const round = (n: number, digits: number) =>
  Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n;

/** The fleet's planned capacity: Σ of its devices' (undefined when none has a finite plan). */
export function plannedFleetRps(plan: CapacityPlan): number | undefined {
  const finite = plan.devices.map((d) => d.plannedRps).filter((r) => Number.isFinite(r) && r > 0);
  return finite.length > 0 ? round(sum(finite), 2) : undefined;
}

/** The sweep's default highest rate: enough for a few devices; a plan that promises more raises it. */
const DEFAULT_SWEEP_MAX_RATE = 2000;

/**
 * Where the sweep that checks a plan searches: from half the promise (the knee is bracketed in two
 * ramp steps when the promise holds, and the budget goes to bisection), up to four times it, so a fleet
 * that serves more than the sweep's default ceiling is measured instead of stopped at the ceiling. An
 * unknown promise leaves the sweep's own defaults.
 */
export function sweepRangeFor(plannedRps: number | undefined): { startRate?: number; maxRate?: number } {
  if (plannedRps === undefined || !Number.isFinite(plannedRps) || plannedRps <= 0) return {};
  return {
    startRate: Math.max(1, Math.round(plannedRps / 2)),
    maxRate: Math.max(DEFAULT_SWEEP_MAX_RATE, Math.ceil(4 * plannedRps)),
  };
}
