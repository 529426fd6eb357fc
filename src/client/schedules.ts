import {
  type Client,
  ScheduleAlreadyRunning,
  type ScheduleDescription,
  ScheduleNotFoundError as TemporalScheduleNotFoundError,
  type ScheduleSummary as TemporalScheduleSummary,
} from '@temporalio/client';
import { z } from 'zod';
import { isArtifactKey } from '../artifacts/keys';
import { ConfigError } from '../config/temporal';
import { ID_PATTERN, ID_RULE } from '../domain/ids';
import { LIMITS } from '../domain/limits';
import { RepackInputSchema } from '../domain/repack';
import { StowageRuntime } from '../domain/search-attributes';
import { STOWAGE_TASK_QUEUE } from '../domain/task-queues';
import { DEFAULT_INVENTORY_KEY } from '../inventory';
import { describeProblems, overlongListProblems, PipelineInputSchema } from '../pipeline/input';

export { DEFAULT_INVENTORY_KEY };

/**
 * Temporal Schedules that run the `repack` workflow. The CLI (`stowage schedule …`) and the HTTP API both
 * go through this module, so a schedule means the same thing whichever way it was made.
 */

export const REPACK_WORKFLOW_TYPE = 'repack';

const repack = RepackInputSchema.shape;

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^([1-9][0-9]{0,5})(s|m|h|d)$/;
const MAX_INTERVAL_MS = LIMITS.scheduleIntervalMs;

/** "30s", "5m", "6h", "1d" → milliseconds; undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** The shortest exact spelling: 21600000 → "6h", 90000 → "90s". */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

function duration(minMs: number) {
  const rule = `must be a whole number with a unit s, m, h or d ("30s", "5m", "6h"), at least ${formatDuration(minMs)} and at most 366d`;
  return z.string().refine(
    (text) => {
      const ms = parseDuration(text);
      return ms !== undefined && ms >= minMs && ms <= MAX_INTERVAL_MS;
    },
    { message: rule },
  );
}

export const RepackScheduleSpecSchema = z
  .object({
    /** The schedule's id; also the prefix of every workflow id it starts. */
    id: z.string().regex(ID_PATTERN, `must be ${ID_RULE}`),
    every: duration(1_000),
    /** The model inventory the runs re-pack: an artifact key, never a path outside the store. */
    inventory: z
      .string()
      .refine(isArtifactKey, { message: 'must be an artifact key like inventory/models.json' })
      .default(DEFAULT_INVENTORY_KEY),
    /** The fleet the runs keep current (fleet/<name>/current.json); default: the repack workflow's own. */
    name: z.string().regex(ID_PATTERN, `must be ${ID_RULE}`).optional(),
    minSavingsFraction: z.number().min(0).max(1).optional(),
    maxMoves: repack.maxMoves,
    /** How late a missed run (server down) may still start; the server refuses less than 10 s. */
    catchupWindow: duration(10_000).default('10m'),
    paused: z.boolean().optional(),
    runtime: PipelineInputSchema.shape.runtime,
    // The rest of the repack input, passed through when given (the workflow's own defaults otherwise).
    catalog: repack.catalog,
    limits: repack.limits.removeDefault().optional(),
    processors: repack.processors.removeDefault().optional(),
    trace: repack.trace.removeDefault().optional(),
    expectedRatePerModel: repack.expectedRatePerModel.removeDefault().optional(),
    packTimeLimitMs: repack.packTimeLimitMs,
  })
  .strict();

/** Fields copied as they are from a schedule spec into every run's repack input. */
const PASSED_THROUGH = [
  'name',
  'minSavingsFraction',
  'maxMoves',
  'catalog',
  'limits',
  'processors',
  'trace',
  'expectedRatePerModel',
  'packTimeLimitMs',
] as const;

export type RepackScheduleSpec = z.infer<typeof RepackScheduleSpecSchema>;
export type RepackScheduleSpecJson = z.input<typeof RepackScheduleSpecSchema>;

export interface ScheduleSummary {
  id: string;
  /** The interval as it was given ("6h"). */
  every: string;
  paused: boolean;
  /** ISO 8601 time of the next scheduled run; absent while paused. */
  nextRunAt?: string;
  /** Most recent runs first. */
  recentRuns: { workflowId: string; startedAt: string }[];
  note?: string;
}

export class ScheduleNotFoundError extends Error {
  override name = 'ScheduleNotFoundError';
  constructor(readonly scheduleId: string) {
    super(`no schedule with id "${scheduleId}"`);
  }
}

/** A schedule with this id already exists (and is not deleted). */
export class ScheduleExistsError extends Error {
  override name = 'ScheduleExistsError';
  constructor(readonly scheduleId: string) {
    super(`a schedule with id "${scheduleId}" already exists`);
  }
}

/** Invalid schedule spec or arguments, caught before anything reaches Temporal. */
export class ScheduleSpecError extends ConfigError {
  constructor(readonly problems: string[]) {
    super(`invalid schedule (${problems.length} problem(s)):\n${problems.join('\n')}`);
  }
}

export function parseRepackScheduleSpec(raw: unknown): RepackScheduleSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ScheduleSpecError(['/: a schedule must be one JSON object']);
  }
  const overlong = overlongListProblems(raw);
  if (overlong.length > 0) throw new ScheduleSpecError(overlong);
  const parsed = RepackScheduleSpecSchema.safeParse(raw);
  if (!parsed.success) throw new ScheduleSpecError(describeProblems(parsed.error));
  return parsed.data;
}

/** The one JSON argument every scheduled run gets: the repack workflow's input. */
export function repackArgsOf(spec: RepackScheduleSpec): Record<string, unknown> {
  const args: Record<string, unknown> = { inventory: spec.inventory, runtime: spec.runtime };
  for (const field of PASSED_THROUGH) if (spec[field] !== undefined) args[field] = spec[field];
  return args;
}

export async function createRepackSchedule(
  client: Client,
  raw: RepackScheduleSpec | RepackScheduleSpecJson,
): Promise<ScheduleSummary> {
  const spec = parseRepackScheduleSpec(raw);
  try {
    await client.schedule.create({
      scheduleId: spec.id,
      spec: { intervals: [{ every: parseDuration(spec.every)! }] },
      action: {
        type: 'startWorkflow',
        workflowType: REPACK_WORKFLOW_TYPE,
        taskQueue: STOWAGE_TASK_QUEUE,
        // The server appends the scheduled time, so every run has its own id under this prefix.
        workflowId: `repack-${spec.id}`,
        args: [repackArgsOf(spec)],
        typedSearchAttributes: [{ key: StowageRuntime, value: spec.runtime }],
      },
      // Two repacks of one fleet at once would fight over its servers: a run still going skips the next.
      policies: { overlap: 'SKIP', catchupWindow: parseDuration(spec.catchupWindow)! },
      memo: { every: spec.every },
      state: { paused: spec.paused ?? false, note: spec.paused ? 'created paused' : undefined },
    });
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) throw new ScheduleExistsError(spec.id);
    throw err;
  }
  return describeSchedule(client, spec.id);
}

/** Schedules that start `repack` (others on the namespace are not Stowage's to show). */
export async function listSchedules(client: Client): Promise<ScheduleSummary[]> {
  const out: ScheduleSummary[] = [];
  for await (const s of client.schedule.list()) {
    if (s.action?.workflowType !== REPACK_WORKFLOW_TYPE) continue;
    out.push(summaryOf(s));
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

export async function describeSchedule(client: Client, id: string): Promise<ScheduleSummary> {
  return summaryOf(await onSchedule(client, id, (h) => h.describe()));
}

export async function deleteSchedule(client: Client, id: string): Promise<void> {
  await onSchedule(client, id, (h) => h.delete());
}

/** Runs now; a run already going makes this one wait for it (never two at once, never silently dropped). */
export async function triggerSchedule(client: Client, id: string): Promise<void> {
  await onSchedule(client, id, (h) => h.trigger('BUFFER_ONE'));
}

export async function pauseSchedule(client: Client, id: string, note?: string): Promise<void> {
  await onSchedule(client, id, (h) => h.pause(note ?? 'paused by stowage'));
}

export async function unpauseSchedule(client: Client, id: string, note?: string): Promise<void> {
  await onSchedule(client, id, (h) => h.unpause(note ?? 'unpaused by stowage'));
}

/** Takes the runs the schedule would have taken between `from` and `to`, now (overlap still skips). */
export async function backfillSchedule(client: Client, id: string, from: Date, to: Date): Promise<void> {
  const problems: string[] = [];
  if (!(from instanceof Date) || Number.isNaN(from.getTime())) problems.push('/from: must be a valid time');
  if (!(to instanceof Date) || Number.isNaN(to.getTime())) problems.push('/to: must be a valid time');
  if (problems.length === 0 && from.getTime() >= to.getTime()) problems.push('/to: must be after from');
  if (problems.length > 0) throw new ScheduleSpecError(problems);
  await onSchedule(client, id, (h) => h.backfill({ start: from, end: to, overlap: 'SKIP' }));
}

async function onSchedule<T>(
  client: Client,
  id: string,
  action: (handle: ReturnType<Client['schedule']['getHandle']>) => Promise<T>,
): Promise<T> {
  // An id that fails the pattern cannot name a schedule of ours: say so without asking the server.
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) throw new ScheduleNotFoundError(String(id));
  try {
    return await action(client.schedule.getHandle(id));
  } catch (err) {
    if (err instanceof TemporalScheduleNotFoundError) throw new ScheduleNotFoundError(id);
    throw err;
  }
}

function summaryOf(s: ScheduleDescription | TemporalScheduleSummary): ScheduleSummary {
  const interval = s.spec?.intervals?.[0]?.every;
  const memoEvery = s.memo?.every;
  const every =
    typeof memoEvery === 'string' ? memoEvery : interval !== undefined ? formatDuration(interval) : 'unknown';
  const next = s.info.nextActionTimes[0];
  const recentRuns = [...s.info.recentActions]
    .reverse()
    .map((a) => ({ workflowId: a.action.workflow.workflowId, startedAt: a.takenAt.toISOString() }));
  return {
    id: s.scheduleId,
    every,
    paused: s.state.paused,
    ...(next && !s.state.paused ? { nextRunAt: next.toISOString() } : {}),
    recentRuns,
    ...(s.state.note ? { note: s.state.note } : {}),
  };
}
