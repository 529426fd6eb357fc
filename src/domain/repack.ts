import { z } from 'zod';
import { isArtifactKey } from '../artifacts/keys';
import { describeProblems, overlongListProblems, PipelineInputSchema } from '../pipeline/input';
import { ID_PATTERN, ID_RULE } from './ids';
import { LIMITS } from './limits';
import type { Processor } from './task-queues';

/**
 * The `repack` workflow's contract and its pure decisions: what a scheduled re-pack reads, when it rolls
 * out, and which servers it replaces. Pure (no I/O, no clock), so the workflow and the tests share it.
 */

export const DEFAULT_FLEET_NAME = 'fleet';
export const DEFAULT_MIN_SAVINGS_FRACTION = 0.05;

const shape = PipelineInputSchema.shape;

export const RepackInputSchema = z
  .object({
    /** The model inventory: an artifact key of a model manifest. */
    inventory: z
      .string()
      .refine(isArtifactKey, { message: 'must be an artifact key like inventory/models.json' })
      .default('inventory/models.json'),
    /** The fleet this run keeps current: its state lives at fleet/<name>/current.json. */
    name: z.string().regex(ID_PATTERN, `must be ${ID_RULE}`).default(DEFAULT_FLEET_NAME),
    /** Roll out for savings only when the new placement is at least this share cheaper. */
    minSavingsFraction: z.number().min(0).max(1).default(DEFAULT_MIN_SAVINGS_FRACTION),
    /** At most this many already-placed models change device (the packer's stable mode). */
    maxMoves: z.number().int().min(0).max(LIMITS.models).optional(),
    runtime: shape.runtime,
    catalog: shape.catalog,
    limits: shape.limits,
    processors: shape.processors,
    trace: shape.trace,
    expectedRatePerModel: shape.expectedRatePerModel,
    /** Packing time budget; default: the engine's own, by problem size. */
    packTimeLimitMs: z.number().int().min(100).max(600_000).optional(),
  })
  .strict();

export type RepackInput = z.infer<typeof RepackInputSchema>;
export type RepackInputJson = z.input<typeof RepackInputSchema>;

export type ParsedRepackInput = { ok: true; input: RepackInput } | { ok: false; problems: string[] };

export function parseRepackInput(raw: unknown): ParsedRepackInput {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, problems: ['/: the repack input must be one JSON object'] };
  }
  const overlong = overlongListProblems(raw);
  if (overlong.length > 0) return { ok: false, problems: overlong };
  const parsed = RepackInputSchema.safeParse(raw);
  const problems = parsed.success ? [] : describeProblems(parsed.error);
  const { catalog, processors } = raw as { catalog?: unknown; processors?: unknown };
  if (Array.isArray(catalog) && Array.isArray(processors)) {
    const offered = new Set(catalog.map((t: { processor?: unknown } | null) => t?.processor));
    processors.forEach((p: unknown, i) => {
      if (typeof p === 'string' && !offered.has(p)) {
        problems.push(`/processors/${i}: no instance type in the catalog has processor "${p}"`);
      }
    });
  }
  return parsed.success && problems.length === 0 ? { ok: true, input: parsed.data } : { ok: false, problems };
}

/**
 * The run's name in artifact keys, server records and child ids. Scheduled runs carry the scheduled time
 * in their workflow id ("…-2026-01-31T06:00:00Z"), and ":" is no artifact-key character.
 */
export function runKeyOf(workflowId: string): string {
  return workflowId.replace(/[^A-Za-z0-9._-]/g, '-');
}

// --- fleet state (fleet/<name>/current.json) ---

export interface FleetServer {
  /** The run that started the server: the model-server registry knows it by this id and `device`. */
  deploymentId: string;
  device: number;
  url: string;
  pid: number;
  models: string[];
}

export interface DemandEntry {
  /** Source and trace options the demand was measured for: a different fingerprint means trace again. */
  fingerprint: string;
  memoryGiB: number;
  compute: number | null;
  hostMemoryGiB?: number;
  /** What the served-path model needs (absent in books written before it). */
  forwardMs?: number | null;
  expectedRequestsPerSecond?: number;
}

/** Measured demands by model and processor (fleet/<name>/demands-<hash>.json). */
export type DemandBook = Record<string, Partial<Record<Processor, DemandEntry>>>;

export interface FleetState {
  name: string;
  /** The repack run that last changed the fleet. */
  runId: string;
  inventory: string;
  inventoryHash: string;
  /** The full Placement the servers realise (placements/<id>.json), `previous` of the next re-pack. */
  placementKey: string;
  costPerHour: number;
  processor: Processor;
  instanceType: string;
  demandsKey: string;
  /** Every route of the fleet (runs/<runId>/fleet-routing.json). */
  routingTableKey: string;
  servers: FleetServer[];
}

// --- decisions ---

export type RepackDecision = 'initial' | 'rolled-out' | 'no-change';

export interface DecisionInput {
  hasFleet: boolean;
  inventoryChanged: boolean;
  costBefore: number | null;
  costAfter: number;
  minSavingsFraction: number;
  /** Fleet servers that are no longer running (a restarted host, a killed worker). */
  deadServers: number;
}

/**
 * Roll out when there is no fleet yet, when the inventory changed, when servers need replacing, or when
 * the new placement saves at least `minSavingsFraction` of the current cost; otherwise leave the fleet be.
 */
export function decideRepack(d: DecisionInput): { decision: RepackDecision; reason: string } {
  if (!d.hasFleet) return { decision: 'initial', reason: 'no fleet yet: deploy the whole placement' };
  if (d.inventoryChanged) return { decision: 'rolled-out', reason: 'the inventory changed' };
  if (d.deadServers > 0) {
    return { decision: 'rolled-out', reason: `${d.deadServers} fleet server(s) are no longer running` };
  }
  const before = d.costBefore ?? 0;
  const saving = before - d.costAfter;
  if (before > 0 && saving > 1e-9 && saving >= d.minSavingsFraction * before) {
    return {
      decision: 'rolled-out',
      reason: `saves ${((saving / before) * 100).toFixed(1)}% (at least ${(d.minSavingsFraction * 100).toFixed(1)}% asked)`,
    };
  }
  return {
    decision: 'no-change',
    reason:
      saving > 1e-9
        ? `saves only ${((saving / before) * 100).toFixed(1)}% (${(d.minSavingsFraction * 100).toFixed(1)}% asked)`
        : 'no cheaper placement',
  };
}

export interface FleetChange {
  /** Servers whose device keeps exactly its models: left running untouched. */
  keep: FleetServer[];
  /** Devices (model ids each) that need a new server. */
  start: string[][];
  /** Servers to stop once the new ones serve. */
  retire: FleetServer[];
}

const deviceKey = (models: string[]) => [...models].sort().join('\n');

/**
 * Which servers stay, start and go. Devices are matched by content, not by index (the packer may
 * renumber them): a server stays when a device of the new placement holds exactly its models, it is
 * alive, and none of its models was traced afresh this run (its loaded artifact would be stale).
 */
export function planFleetChange(
  current: (FleetServer & { alive: boolean })[],
  devices: string[][],
  retraced: ReadonlySet<string>,
): FleetChange {
  const available = new Map<string, (FleetServer & { alive: boolean })[]>();
  for (const s of current) {
    if (!s.alive || s.models.some((m) => retraced.has(m))) continue;
    const key = deviceKey(s.models);
    available.set(key, [...(available.get(key) ?? []), s]);
  }
  const keep: FleetServer[] = [];
  const start: string[][] = [];
  for (const models of devices) {
    if (models.length === 0) continue;
    const match = available.get(deviceKey(models))?.shift();
    if (match) keep.push(withoutAlive(match));
    else start.push(models);
  }
  const kept = new Set(keep.map((s) => `${s.deploymentId}/${s.device}`));
  const retire = current.filter((s) => !kept.has(`${s.deploymentId}/${s.device}`)).map(withoutAlive);
  return { keep, start, retire };
}

function withoutAlive(s: FleetServer): FleetServer {
  return { deploymentId: s.deploymentId, device: s.device, url: s.url, pid: s.pid, models: s.models };
}

// --- progress and result ---

export const REPACK_STAGES = [
  'inventory',
  'trace',
  'pack',
  'deploy',
  'smoke-test',
  'record',
  'retire',
] as const;
export type RepackStage = (typeof REPACK_STAGES)[number];

export interface RepackProgress {
  stage: RepackStage | 'done' | 'failed' | 'cancelled';
  models: number;
  toTrace: number;
  traced: number;
  traceFailures: { modelId: string; message: string }[];
  decision?: RepackDecision;
  reason?: string;
  costBefore?: number | null;
  costAfter?: number;
  changedDevices?: number;
}

export interface RepackResult {
  decision: RepackDecision;
  reason: string;
  fleet: string;
  /** Models placed on a different device than before, new models included (0 when nothing rolled out). */
  moves: number;
  added: number;
  removed: number;
  costBefore: number | null;
  costAfter: number;
  /** The placement now serving (the previous one after "no-change"). */
  placement: string | null;
  /** Servers started for new or changed devices. */
  changedDevices: number;
  keptServers: number;
  retiredServers: number;
  /** At most 50; `unplacedCount` has the total (the run's plan artifact lists them all). */
  unplaced: { id: string; reason: string }[];
  unplacedCount: number;
  /** At most 50; `traceFailureCount` has the total. */
  traceFailures: { modelId: string; message: string }[];
  traceFailureCount: number;
  smokeTest?: { requests: number; failures: number; p50Ms: number; maxMs: number };
  /** runs/<runId>/repack.json: this run's record, written whatever the decision. */
  record: string;
  /** fleet/<name>/current.json */
  fleetState: string;
}
