import { DEFAULT_COMPUTE_FRACTION } from '../packing/types';

/**
 * The capacity model: what one request costs a device when it is served, not just when `forward()` runs.
 *
 * A request through a model server pays a fixed cost of the serving path (HTTP, decoding, tokenising,
 * batching, encoding: the same for every model of one image on one processor) plus the model's own
 * forward pass. So the served cost of model m is
 *
 *     costMs(m) = (overheadMs + forwardScale × forwardMs(m)) / capacityFactor
 *
 * - forwardMs(m): the profile's batch-1 forward time (per model, measured when it is traced);
 * - overheadMs, forwardScale: measured once per serving setup (image, processor, instance type, server
 *   settings) by a probe that drives a real server holding a sample of the models to saturation:
 *   overheadMs = served cost − mean forward when positive; forwardScale < 1 when batching (or the server's
 *   thread count) makes the served forward cheaper than the profile's;
 * - capacityFactor: the closed loop, 1 until a sweep measured the fleet; then measured knee / planned
 *   capacity of the devices it measured, so the next pack plans against what was measured.
 *
 * The packer keeps every device under a compute cap (DEFAULT_COMPUTE_FRACTION, 0.83): the knee of the
 * throughput–latency curve is where a device reaches it. The closed-loop rate is not that knee: open-loop
 * traffic (the sweep's, production's) arrives in bursts and queues, and how much of the closed-loop rate
 * it keeps within the SLO depends on the regime: queues cost small models that saturate far inside the SLO
 * (the demo kept 0.81 of it), while queued arrivals fill a batching server's batches better than the
 * ramp's few clients did, so a bert-base may keep more than its rate. So the probe measures it: open-loop
 * steps at shares of its rate (nextOpenLoopShare) give the highest share that met the SLO (`openLoop.share`). The served cost is scaled so that
 * the default cap is reached at that share of the probe's rate; a probe without the open-loop steps is
 * taken as keeping the cap's share, as plans before them assumed.
 *
 * A model's compute demand is its expected rate × costMs / 1000 (the share of one device it keeps busy),
 * and a device's planned capacity at the compute cap u is u × Σrate / Σ(rate × costMs / 1000): the request
 * rate at which, with traffic in the planned mix, the device reaches the cap.
 */

export interface ServingSetup {
  /** The serving image, or for the local runtime its environment (`local-torch-<version>`). */
  image: string;
  processor: string;
  instanceType: string;
  maxBatch: number;
  batchWindowMs: number;
  /** The SLO the capacity is measured under: it bounds how large the batches the server forms may be. */
  sloP90Ms: number;
  /**
   * The server's inference workers and torch threads per worker (src/domain/server-settings.ts): they
   * change what a device serves. Absent in setups probed before servers had them.
   */
  workers?: number;
  threads?: number;
}

/** One closed-loop client count of the probe: its windows' rates and P90s. */
export interface ProbeLevel {
  concurrency: number;
  windows: number[];
  p90Ms: number[];
  /** The settled rate (mean of the last three windows). */
  rps: number;
  stable: boolean;
}

/**
 * The probe: one server, a sample of the models, closed-loop clients doubling until the P90 leaves the
 * SLO or more clients add nothing; the capacity is the best level within the SLO.
 */
export interface ServedPathProbe {
  measuredAt: string;
  models: string[];
  /** The chosen level's clients and windows (requests/s; the last three agreed when `stable`). */
  concurrency: number;
  windows: number[];
  stable: boolean;
  levels?: ProbeLevel[];
  /** False when even one client at a time missed the SLO: the capacity is then that of one client. */
  sloMet?: boolean;
  saturationRps: number;
  meanForwardMs: number;
  /** The machine's 1-minute load average when the windows ended, and whether it had other work. */
  loadAverage?: number;
  contended?: boolean;
  /** The share of the probe's rate open-loop traffic kept within the SLO; absent in older probes. */
  openLoop?: OpenLoopCheck;
}

/** One open-loop step of the probe: a share of its closed-loop rate, offered at random models. */
export interface OpenLoopStep {
  share: number;
  offeredRate: number;
  achievedRate: number;
  p90Ms: number | null;
  pass: boolean;
}

export interface OpenLoopCheck {
  /** The highest share that passed (MIN_OPEN_LOOP_SHARE when none did). */
  share: number;
  steps: OpenLoopStep[];
}

/** The open-loop search covers shares from MIN_OPEN_LOOP_SHARE to MAX_OPEN_LOOP_SHARE, to within 1/16. */
export const MIN_OPEN_LOOP_SHARE = 0.5;
export const MAX_OPEN_LOOP_SHARE = 2;
const OPEN_LOOP_RESOLUTION = 1 / 16;
/**
 * Above the whole rate the search climbs by this much per step: a step past the SLO overloads the server,
 * and its queue, left to drain, would weigh on the next step; a small overshoot keeps that queue short.
 */
const OPEN_LOOP_CLIMB = 1 / 4;

/**
 * The next share of the probe's rate to offer open-loop, or undefined when the search is over: the whole
 * rate first; while every share passed, a quarter more (open-loop arrivals queue up and so fill a batching
 * server's batches better than the ramp's few clients did: bert-base on two workers kept 19.9 req/s within
 * its SLO in the sweep where the ramp saturated at 16.7); once one failed, bisection between the highest
 * share that passed (or MIN_OPEN_LOOP_SHARE) and the lowest that failed, to within 1/16.
 */
export function nextOpenLoopShare(steps: OpenLoopStep[]): number | undefined {
  if (steps.length === 0) return 1;
  const failed = steps.filter((s) => !s.pass).map((s) => s.share);
  const lo = openLoopShareOf(steps);
  if (failed.length === 0)
    return lo < MAX_OPEN_LOOP_SHARE ? Math.min(MAX_OPEN_LOOP_SHARE, lo + OPEN_LOOP_CLIMB) : undefined;
  const hi = Math.min(...failed);
  if (hi - lo <= OPEN_LOOP_RESOLUTION + 1e-9) return undefined;
  if (hi <= MIN_OPEN_LOOP_SHARE + 1e-9) return undefined;
  return Math.round(((lo + hi) / 2) * 10_000) / 10_000;
}

/** What the open-loop steps found: the highest share that passed. */
export function openLoopShareOf(steps: OpenLoopStep[]): number {
  const passed = steps.filter((s) => s.pass).map((s) => s.share);
  return passed.length > 0 ? Math.max(...passed) : MIN_OPEN_LOOP_SHARE;
}

/** One closed-loop measurement: what a sweep measured against what the plan promised. */
export interface CapacityCheckRecord {
  runId: string;
  measuredAt: string;
  plannedRps: number;
  measuredRps: number;
  ratio: number;
}

/**
 * A probe or a sweep keeps about two processes runnable (k6 and the server); a 1-minute load average
 * above the cores plus those two means other work shared the machine, and the figure measures it too.
 */
export function isContended(loadAverage: number, cpus: number): boolean {
  return loadAverage > cpus + 2;
}

export interface Calibration {
  setup: ServingSetup;
  overheadMs: number;
  forwardScale: number;
  capacityFactor: number;
  probe: ServedPathProbe;
  /** The newest last; at most MAX_CHECKS kept. */
  checks: CapacityCheckRecord[];
}

export const MAX_CHECKS = 10;

/**
 * The newest probed setup of a processor and instance type: what a re-pack that does not deploy plans
 * with (it knows the machine, not the serving image's version).
 */
export function latestCalibrationKey(processor: string, instanceType: string): string {
  return `calibration/${slug(processor)}/${slug(instanceType)}/latest.json`;
}

const slug = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'x';

/** Where a setup's calibration lives in the artifact store. */
export function calibrationKey(setup: ServingSetup): string {
  return [
    'calibration',
    slug(setup.processor),
    slug(setup.instanceType),
    `${slug(setup.image)}-b${setup.maxBatch}-w${slug(String(setup.batchWindowMs))}-slo${slug(String(setup.sloP90Ms))}${serverPart(setup)}.json`,
  ].join('/');
}

/** Workers × threads in the key, so a calibration is never reused for a server set up otherwise. */
const serverPart = (setup: ServingSetup) =>
  setup.workers === undefined ? '' : `-k${setup.workers}x${setup.threads ?? 0}`;

/** Splits the probe's served cost into a fixed overhead and a forward scale (see the module comment). */
export function calibrationFromProbe(setup: ServingSetup, probe: ServedPathProbe): Calibration {
  // At the default cap, the plan promises the share of the probe's rate that open-loop traffic kept.
  const share = probe.openLoop?.share ?? DEFAULT_COMPUTE_FRACTION;
  const servedMs = (1000 / probe.saturationRps) * (DEFAULT_COMPUTE_FRACTION / share);
  const forward = Math.max(1e-6, probe.meanForwardMs);
  return {
    setup,
    overheadMs: round(Math.max(0, servedMs - forward), 4),
    forwardScale: round(Math.min(1, servedMs / forward), 4),
    capacityFactor: 1,
    probe,
    checks: [],
  };
}

/** The served cost of one request of a model, in ms of one device. Without calibration: forward only. */
export function servedCostMs(forwardMs: number, calibration: Calibration | undefined): number {
  if (!calibration) return forwardMs;
  return (calibration.overheadMs + calibration.forwardScale * forwardMs) / calibration.capacityFactor;
}

/** What a profile says about a model, in the fields the served-path model reads. */
export interface ProfiledDemand {
  expectedRequestsPerSecond: number;
  /** The profile's own estimate (rate / best throughput of forward alone); null when unmeasured. */
  compute: number | null;
  forwardMs?: number | null;
}

/**
 * A model's compute demand for the packer. With a calibration, its served cost; without one, the
 * profile's own estimate; a model whose throughput could not be measured is given a whole device rather
 * than guessed at.
 */
export function demandedCompute(demand: ProfiledDemand, calibration: Calibration | undefined): number {
  const forwardMs = forwardMsOf(demand);
  if (calibration && forwardMs !== null) {
    return computeDemand(demand.expectedRequestsPerSecond, forwardMs, calibration);
  }
  return demand.compute ?? 1;
}

/** A model's batch-1 forward time; null when its throughput could not be measured. */
export function forwardMsOf(demand: ProfiledDemand): number | null {
  const rate = demand.expectedRequestsPerSecond;
  // Profiles written before forwardMs existed still carry it as rate / compute.
  return demand.forwardMs ?? (demand.compute !== null && rate > 0 ? (demand.compute * 1000) / rate : null);
}

/** The share of one device a model keeps busy at its expected rate. */
export function computeDemand(ratePerSecond: number, forwardMs: number, calibration?: Calibration): number {
  return round((ratePerSecond * servedCostMs(forwardMs, calibration)) / 1000, 6);
}

export interface DeviceLoad {
  /** Σ expected requests/s of the device's models. */
  expectedRps: number;
  /** Σ compute demand of the device's models. */
  compute: number;
}

/** The request rate, in the planned mix, at which a device reaches the compute cap. */
export function plannedCapacityRps(load: DeviceLoad, computeCap: number): number {
  return load.compute > 0 ? (computeCap * load.expectedRps) / load.compute : Infinity;
}

/**
 * Folds a sweep's measured capacity into the calibration, so the next pack plans against it. The ratio
 * corrects the factor the plan was made with (`plannedWith`), not whatever is stored now: applying the
 * same check twice (a retried activity) gives the same calibration.
 */
export function withCapacityCheck(
  calibration: Calibration,
  check: CapacityCheckRecord,
  plannedWith: number,
): Calibration {
  return {
    ...calibration,
    capacityFactor: round(plannedWith * check.ratio, 4),
    checks: [...calibration.checks.filter((c) => c.runId !== check.runId), check].slice(-MAX_CHECKS),
  };
}

function round(n: number, digits: number): number {
  return Math.round(n * 10 ** digits) / 10 ** digits;
}
