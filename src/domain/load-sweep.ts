/**
 * Wire types of the `loadSweep` workflow (docs/contracts.md: endpoints + SLO → k6 steps → knee → report) and
 * its input validation, which runs inside the workflow before any load is sent. Pure: workflow-safe.
 */
import type { KneePlan, Slo, Verdict } from './knee';
import type { StepFigures } from './step-figures';
import {
  DEFAULT_P90_FLOOR_OF_SLO,
  DEFAULT_TOLERANCE,
  STABLE_WINDOWS,
  type Spread,
  type StabilityRule,
  type WindowFigures,
} from './stability';

export interface Route {
  modelId: string;
  url: string;
}
export interface RoutingTable {
  routes: Route[];
}

/** Model ids per device, per instance: the part of a Placement (docs/contracts.md) the local runtime deploys. */
export interface DeviceLayout {
  /** `market` is present for spot instances only. */
  instances: { type: string; market?: 'spot'; devices: string[][] }[];
}

export interface LoadSweepInput {
  /** Exactly one of: the table inline (small fleets), an artifact URI of one, or a layout to deploy locally. */
  routingTable?: RoutingTable;
  routingTableUri?: string;
  deploy?: { placement: DeviceLayout; processor?: string; maxBatch?: number; batchWindowMs?: number };
  slo?: Partial<Slo>;
  sweep?: {
    /** First offered rate (req/s); by default derived from the sequential test's latency. */
    startRate?: number;
    minRate?: number;
    maxRate?: number;
    /** How long a step measures when its first windows agree: STABLE_WINDOWS windows. */
    stepSeconds?: number;
    /** One measurement window (default stepSeconds / 3, at least MIN_WINDOW_SECONDS). */
    windowSeconds?: number;
    /** The longest a step measures before it is called unstable (default 2 × stepSeconds). */
    maxStepSeconds?: number;
    /** Stability tolerances (src/domain/stability.ts): 0.1, 0.1, and 20% of the SLO's P90. */
    throughputTolerance?: number;
    p90Tolerance?: number;
    p90FloorMs?: number;
    maxSteps?: number;
    factor?: number;
    tolerance?: number;
    maxVUs?: number;
  };
  random?: { rate?: number; seconds?: number };
  /** For the report's packing picture when the fleet was not deployed by this workflow. */
  placement?: DeviceLayout;
  /** For the report's $/hour when the fleet was not deployed by this workflow. */
  cost?: { instanceType: string; instances: number; pricePerHour: number };
}

export interface ValidLoadSweepInput {
  source:
    | { kind: 'table'; routingTable: RoutingTable }
    | { kind: 'uri'; uri: string }
    | {
        kind: 'deploy';
        placement: DeviceLayout;
        processor: string;
        maxBatch: number;
        batchWindowMs: number;
      };
  slo: Slo;
  plan: Omit<KneePlan, 'startRate'> & { startRate?: number; stepSeconds: number; maxVUs: number };
  stability: StepStability;
  random: { rate: number; seconds: number };
  cost?: LoadSweepInput['cost'];
  placement?: DeviceLayout;
}

/** How each load step measures: windows of windowSeconds until stable or maxWindows are measured. */
export interface StepStability {
  windowSeconds: number;
  maxWindows: number;
  rule: StabilityRule;
  /** A step whose last windows all miss it ends early (src/domain/stability.ts, stepSettled). */
  sloP90Ms: number;
}

/**
 * A step measured in windows: the figures above combine its last windows (src/domain/stability.ts).
 * Steps measured in one piece (the in-cluster sweep, runs started before windows) have no windows and
 * count as stable.
 */
export interface WindowedStepFigures extends StepFigures {
  windows?: WindowFigures[];
  stable?: boolean;
  spread?: Spread;
}

/** A step's figures plus its place in the search. */
export interface StepResult extends WindowedStepFigures {
  index: number;
  phase: 'ramp' | 'bisect';
  verdict: Verdict;
}

/** The post's single-request tests: best-case latency range, in ms. */
export interface LatencyRange {
  requests: number;
  failures: number;
  minMs: number;
  maxMs: number;
  p50Ms: number;
}

export interface LoadSweepResult {
  runId: string;
  models: number;
  servers: number;
  sequential: LatencyRange;
  random: LatencyRange;
  steps: StepResult[];
  knee: StepResult | null;
  stopReason: string;
  report: { json: string; html: string; sweep: string };
}

/** For summaries: "2 of 6 steps unstable (steps 3, 5)", or '' when every step settled. */
export function unstableLine(steps: StepResult[]): string {
  const unstable = steps.filter((s) => s.stable === false).map((s) => s.index);
  if (unstable.length === 0) return '';
  return `${unstable.length} of ${steps.length} steps unstable (step${unstable.length > 1 ? 's' : ''} ${unstable.join(', ')})`;
}

export const DEFAULT_SLO: Slo = { p90Ms: 100, maxErrorRate: 0.001 };
export const MAX_LOAD_STEPS = 8;

const DEFAULTS = {
  minRate: 1,
  maxRate: 2000,
  stepSeconds: 10,
  maxSteps: MAX_LOAD_STEPS,
  factor: 2,
  tolerance: 0.05,
  maxVUs: 200,
};
/** Steps longer than this would crowd the load activity's 10-minute timeout. */
export const MAX_STEP_SECONDS = 540;
/** Windows shorter than this hold too few answers for a P90, and k6's output lags by a fraction of it. */
export const MIN_WINDOW_SECONDS = 0.5;

export class LoadSweepInputError extends Error {}

function positive(value: unknown, name: string, problems: string[], integer = false): void {
  if (value === undefined) return;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value <= 0 ||
    (integer && !Number.isInteger(value))
  ) {
    problems.push(
      `${name} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(value)}`,
    );
  }
}

function validUrl(url: unknown): boolean {
  if (typeof url !== 'string') return false;
  // No URL class in the workflow sandbox's guarantees: a strict pattern for http(s)://host[:port].
  return (
    /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/?$/.test(url) ||
    /^https?:\/\/\[[0-9a-fA-F:]+\](:\d{1,5})?\/?$/.test(url)
  );
}

function checkTable(table: unknown, problems: string[]): void {
  const routes = (table as RoutingTable | undefined)?.routes;
  if (!Array.isArray(routes) || routes.length === 0) {
    problems.push('routingTable.routes must be a non-empty array of {modelId, url}');
    return;
  }
  const seen = new Set<string>();
  routes.forEach((r: Route, i) => {
    if (typeof r?.modelId !== 'string' || r.modelId === '')
      problems.push(`routingTable.routes[${i}].modelId is missing`);
    else if (seen.has(r.modelId))
      problems.push(`routingTable.routes[${i}]: model ${r.modelId} is routed twice`);
    else seen.add(r.modelId);
    if (!validUrl(r?.url))
      problems.push(
        `routingTable.routes[${i}].url must be http(s)://host:port, got ${JSON.stringify(r?.url)}`,
      );
  });
}

function checkLayout(layout: DeviceLayout | undefined, name: string, problems: string[]): void {
  const instances = layout?.instances;
  const devices = Array.isArray(instances)
    ? instances.flatMap((i) => (Array.isArray(i?.devices) ? i.devices : []))
    : [];
  if (devices.length === 0 || devices.some((d) => !Array.isArray(d) || d.length === 0)) {
    problems.push(`${name}.instances must hold devices, each a non-empty list of model ids`);
  } else {
    const ids = devices.flat();
    if (new Set(ids).size !== ids.length) problems.push(`${name} places a model on two devices`);
  }
}

function fraction(value: unknown, name: string, problems: string[]): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !(value > 0 && value < 1))
    problems.push(`${name} must be in (0, 1), got ${JSON.stringify(value)}`);
}

/**
 * The step stability plan from the sweep's fields, with defaults that keep a stable step stepSeconds long
 * and the longest twice that. Adds what is wrong to `problems`.
 */
export function stepStabilityOf(
  sweep: NonNullable<LoadSweepInput['sweep']> & { stepSeconds: number },
  slo: Slo,
  problems: string[],
): StepStability {
  positive(sweep.windowSeconds, 'sweep.windowSeconds', problems);
  positive(sweep.maxStepSeconds, 'sweep.maxStepSeconds', problems);
  fraction(sweep.throughputTolerance, 'sweep.throughputTolerance', problems);
  fraction(sweep.p90Tolerance, 'sweep.p90Tolerance', problems);
  if (sweep.p90FloorMs !== undefined && !(typeof sweep.p90FloorMs === 'number' && sweep.p90FloorMs >= 0))
    problems.push(`sweep.p90FloorMs must be a number ≥ 0, got ${JSON.stringify(sweep.p90FloorMs)}`);
  // Defaults never conflict with each other or the limits: only lengths given explicitly can.
  const windowSeconds =
    sweep.windowSeconds ??
    Math.min(
      MAX_STEP_SECONDS / STABLE_WINDOWS,
      Math.max(MIN_WINDOW_SECONDS, sweep.stepSeconds / STABLE_WINDOWS),
    );
  // Three times a step: a step after an overloaded one first drains the backlog it left (its first windows
  // run slow) and still needs three agreeing windows after that.
  const maxStepSeconds =
    sweep.maxStepSeconds ??
    Math.min(MAX_STEP_SECONDS, Math.max(3 * sweep.stepSeconds, STABLE_WINDOWS * windowSeconds));
  const maxWindows = Math.floor(maxStepSeconds / windowSeconds + 1e-9);
  const rule = {
    windows: STABLE_WINDOWS,
    throughputTolerance: sweep.throughputTolerance ?? DEFAULT_TOLERANCE,
    p90Tolerance: sweep.p90Tolerance ?? DEFAULT_TOLERANCE,
    p90FloorMs: sweep.p90FloorMs ?? DEFAULT_P90_FLOOR_OF_SLO * slo.p90Ms,
    sloP90Ms: slo.p90Ms,
  };
  // How the lengths relate is only worth saying once each of them is a valid length.
  const lengths = [sweep.stepSeconds, windowSeconds, maxStepSeconds];
  if (!lengths.every((n) => typeof n === 'number' && Number.isFinite(n) && n > 0))
    return { windowSeconds, maxWindows, rule, sloP90Ms: slo.p90Ms };
  if (windowSeconds < MIN_WINDOW_SECONDS)
    problems.push(`sweep.windowSeconds must be at least ${MIN_WINDOW_SECONDS}, got ${sweep.windowSeconds}`);
  if (maxStepSeconds > MAX_STEP_SECONDS)
    problems.push(`sweep.maxStepSeconds must be at most ${MAX_STEP_SECONDS}, got ${maxStepSeconds}`);
  if (maxWindows < STABLE_WINDOWS)
    problems.push(
      `sweep.maxStepSeconds (${maxStepSeconds}) must hold ${STABLE_WINDOWS} windows of ` +
        `sweep.windowSeconds (${+windowSeconds.toFixed(3)}): at least ${+(STABLE_WINDOWS * windowSeconds).toFixed(3)}`,
    );
  return { windowSeconds, maxWindows, rule, sloP90Ms: slo.p90Ms };
}

/** Every problem at once, as one message; throws LoadSweepInputError. */
export function validateLoadSweepInput(input: LoadSweepInput): ValidLoadSweepInput {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new LoadSweepInputError('loadSweep input must be a JSON object');
  }
  const problems: string[] = [];
  const sources = (['routingTable', 'routingTableUri', 'deploy'] as const).filter(
    (k) => input[k] !== undefined,
  );
  if (sources.length !== 1) {
    problems.push(`give exactly one of routingTable, routingTableUri, deploy (got ${sources.length})`);
  }
  if (input.routingTable !== undefined) checkTable(input.routingTable, problems);
  if (
    input.routingTableUri !== undefined &&
    (typeof input.routingTableUri !== 'string' || input.routingTableUri === '')
  ) {
    problems.push('routingTableUri must be an artifact URI');
  }
  if (input.deploy !== undefined) {
    checkLayout(input.deploy?.placement, 'deploy.placement', problems);
    positive(input.deploy?.maxBatch, 'deploy.maxBatch', problems, true);
    if (input.deploy?.batchWindowMs !== undefined && !(input.deploy.batchWindowMs >= 0)) {
      problems.push('deploy.batchWindowMs must be ≥ 0');
    }
  }
  const slo = { ...DEFAULT_SLO, ...input.slo };
  positive(slo.p90Ms, 'slo.p90Ms', problems);
  if (typeof slo.maxErrorRate !== 'number' || !(slo.maxErrorRate >= 0 && slo.maxErrorRate < 1)) {
    problems.push(`slo.maxErrorRate must be in [0, 1), got ${JSON.stringify(slo.maxErrorRate)}`);
  }
  const sweep = { ...DEFAULTS, ...input.sweep };
  positive(input.sweep?.startRate, 'sweep.startRate', problems);
  positive(sweep.minRate, 'sweep.minRate', problems);
  positive(sweep.maxRate, 'sweep.maxRate', problems);
  positive(sweep.stepSeconds, 'sweep.stepSeconds', problems);
  positive(sweep.maxVUs, 'sweep.maxVUs', problems, true);
  if (!Number.isInteger(sweep.maxSteps) || sweep.maxSteps < 1 || sweep.maxSteps > MAX_LOAD_STEPS) {
    problems.push(
      `sweep.maxSteps must be an integer from 1 to ${MAX_LOAD_STEPS}, got ${JSON.stringify(sweep.maxSteps)}`,
    );
  }
  if (!(sweep.factor > 1)) problems.push('sweep.factor must be > 1');
  if (!(sweep.tolerance > 0 && sweep.tolerance < 1)) problems.push('sweep.tolerance must be in (0, 1)');
  if (sweep.minRate > sweep.maxRate) problems.push('sweep.minRate must not exceed sweep.maxRate');
  const stability = stepStabilityOf(sweep, slo, problems);
  const random = { rate: 5, seconds: 5, ...input.random };
  positive(random.rate, 'random.rate', problems);
  positive(random.seconds, 'random.seconds', problems);
  if (input.placement !== undefined) checkLayout(input.placement, 'placement', problems);
  if (input.cost !== undefined) {
    positive(input.cost.pricePerHour, 'cost.pricePerHour', problems);
    positive(input.cost.instances, 'cost.instances', problems, true);
  }
  if (problems.length > 0) throw new LoadSweepInputError(`invalid loadSweep input: ${problems.join('; ')}`);

  const source: ValidLoadSweepInput['source'] = input.routingTable
    ? { kind: 'table', routingTable: input.routingTable }
    : input.routingTableUri
      ? { kind: 'uri', uri: input.routingTableUri }
      : {
          kind: 'deploy',
          placement: input.deploy!.placement,
          processor: input.deploy!.processor ?? 'cpu',
          maxBatch: input.deploy!.maxBatch ?? 8,
          batchWindowMs: input.deploy!.batchWindowMs ?? 2,
        };
  return {
    source,
    slo,
    plan: { ...sweep, startRate: input.sweep?.startRate },
    stability,
    random,
    cost: input.cost,
    placement: input.placement,
  };
}
