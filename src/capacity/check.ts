import type { CapacityPlan, PlannedDevice } from './plan';

/**
 * Plan against measurement: per device, the planned capacity at the compute cap next to the knee that was
 * measured on it. Both directions matter: a device that serves less than planned breaks the SLO at the
 * planned load; one that serves far more was paid for and left idle.
 */
export const CAPACITY_TOLERANCE = 0.15;

export type DeviceVerdict = 'held' | 'broken' | 'under-promised' | 'unmeasured';

export interface MeasuredDevice {
  /** The device's knee (req/s at the SLO); null when no step passed. */
  kneeRps: number | null;
}

export interface DeviceCheck extends PlannedDevice {
  measuredRps: number | null;
  /** measured / planned. */
  ratio: number | null;
  /** measured / the forward-only plan: how far a plan from profile timing alone would have been off. */
  forwardOnlyRatio: number | null;
  verdict: DeviceVerdict;
}

export interface CapacityCheck {
  verdict: 'promise held' | 'promise broken' | 'not measured';
  /** The device with the lowest measured/planned ratio. */
  worst: string | null;
  devices: DeviceCheck[];
  plannedRps: number;
  measuredRps: number | null;
  ratio: number | null;
  /** The machine's 1-minute load average after the measurement, and what it means when high. */
  loadAverage?: number;
  note?: string;
}

export function deviceVerdict(ratio: number | null): DeviceVerdict {
  if (ratio === null) return 'unmeasured';
  if (ratio < 1 - CAPACITY_TOLERANCE) return 'broken';
  if (ratio > 1 + CAPACITY_TOLERANCE) return 'under-promised';
  return 'held';
}

export function checkCapacity(plan: CapacityPlan, measured: Map<string, MeasuredDevice>): CapacityCheck {
  const devices: DeviceCheck[] = plan.devices.map((d) => {
    const m = measured.get(d.device);
    const measuredRps = m?.kneeRps ?? null;
    const ratio =
      measuredRps !== null && Number.isFinite(d.plannedRps) && d.plannedRps > 0
        ? round(measuredRps / d.plannedRps)
        : null;
    const forwardOnlyRatio =
      measuredRps !== null && Number.isFinite(d.forwardOnlyRps) && d.forwardOnlyRps > 0
        ? round(measuredRps / d.forwardOnlyRps)
        : null;
    return { ...d, measuredRps, ratio, forwardOnlyRatio, verdict: deviceVerdict(ratio) };
  });
  const checked = devices.filter((d) => d.ratio !== null);
  const worst = checked.reduce<DeviceCheck | null>((w, d) => (!w || d.ratio! < w.ratio! ? d : w), null);
  const plannedRps = round(
    devices.reduce((n, d) => n + (Number.isFinite(d.plannedRps) ? d.plannedRps : 0), 0),
  );
  const measuredRps =
    checked.length === devices.length && devices.length > 0
      ? round(checked.reduce((n, d) => n + d.measuredRps!, 0))
      : null;
  return {
    verdict: !worst
      ? 'not measured'
      : checked.some((d) => d.verdict === 'broken')
        ? 'promise broken'
        : 'promise held',
    worst: worst?.device ?? null,
    devices,
    plannedRps,
    measuredRps,
    ratio: measuredRps !== null && plannedRps > 0 ? round(measuredRps / plannedRps) : null,
  };
}

const round = (n: number) => Math.round(n * 1000) / 1000;
