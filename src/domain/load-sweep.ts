/**
 * Wire types of the `loadSweep` workflow (docs/contracts.md: endpoints + SLO → k6 steps → knee → report) and
 * its input validation, which runs inside the workflow before any load is sent. Pure: workflow-safe.
 */
import type { KneePlan, Slo } from './knee';

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
    stepSeconds?: number;
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
  random: { rate: number; seconds: number };
  cost?: LoadSweepInput['cost'];
  placement?: DeviceLayout;
}

/** Figures of one k6 step, as k6/lib/summary.ts writes them (k6 scripts cannot import this file). */
export interface StepFigures {
  offeredRate: number;
  achievedRate: number;
  requests: number;
  failures: number;
  errorRate: number;
  droppedIterations: number;
  durationSeconds: number;
  minMs: number | null;
  p50Ms: number | null;
  p90Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

/** A step's figures plus its place in the search. */
export interface StepResult extends StepFigures {
  index: number;
  phase: 'ramp' | 'bisect';
  verdict: 'pass' | 'latency' | 'errors' | 'saturated';
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
    random,
    cost: input.cost,
    placement: input.placement,
  };
}
