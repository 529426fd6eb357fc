import { createHash } from 'node:crypto';
import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  type WorkflowExecutionInfo,
  WorkflowFailedError,
  type WorkflowHandle,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ConfigError } from '../config/temporal';
import type { PipelineProgress, PipelineResult } from '../domain/pipeline';
import {
  StowageCostPerHour,
  StowageModelCount,
  StowageRuntime,
  StowageStage,
} from '../domain/search-attributes';
import { STOWAGE_TASK_QUEUE } from '../domain/task-queues';
import { parsePipelineInput, type PipelineInput } from '../pipeline/input';
import { approveDeployUpdate, progressQuery, type pipeline } from '../../workflows/pipeline';

/** Invalid pipeline input, caught at the client edge before anything starts. */
export class PipelineInputError extends ConfigError {
  constructor(readonly problems: string[]) {
    super(`invalid pipeline input (${problems.length} problem(s)):\n${problems.join('\n')}`);
  }
}

/** Stable per request: the same input maps to the same id, so a duplicate start attaches instead of running twice. */
export function pipelineWorkflowId(input: PipelineInput): string {
  const hash = createHash('sha256').update(canonicalJson(input)).digest('hex').slice(0, 12);
  return `pipeline-${input.name}-${hash}`;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export interface StartedPipeline {
  handle: WorkflowHandle<typeof pipeline>;
  /** False when an identical run was already going and this call attached to it. */
  started: boolean;
}

export interface StartPipelineOptions {
  /**
   * A caller's retry key: the run's id derives from the key alone and is never reused, so a retried
   * request finds the first run (even a finished one) instead of starting a second.
   */
  idempotencyKey?: string;
  /** The caller's NAME (never a credential), kept in the run's memo. */
  startedBy?: string;
}

/** Letters, digits, ".", "_", ":" and "-", at most 128: a UUID, a ULID or a request id all fit. */
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** Workflow ids the API and CLI accept: `pipeline-<name>-<hash>` and the ids other starters choose. */
export const WORKFLOW_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

/** A request with the same idempotency key but a different body. */
export class IdempotencyConflictError extends ConfigError {
  constructor(readonly workflowId: string) {
    super(`idempotency key already used for a different request (run ${workflowId})`);
  }
}

export class PipelineNotFoundError extends ConfigError {
  constructor(readonly workflowId: string) {
    super(`no pipeline run with id ${workflowId}`);
  }
}

/** The run exists but is in no state to take the request (already ended, nothing waiting). */
export class PipelineStateError extends ConfigError {}

export function idempotentWorkflowId(key: string): string {
  if (!IDEMPOTENCY_KEY_PATTERN.test(key)) throw new ConfigError(`invalid idempotency key`);
  return `pipeline-idem-${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
}

const REQUEST_MEMO = 'stowageRequest';
const STARTED_BY_MEMO = 'stowageStartedBy';

export async function startPipeline(
  client: Client,
  raw: unknown,
  options: StartPipelineOptions = {},
): Promise<StartedPipeline> {
  const parsed = parsePipelineInput(raw);
  if (!parsed.ok) throw new PipelineInputError(parsed.problems);
  const keyed = options.idempotencyKey !== undefined;
  const workflowId = keyed ? idempotentWorkflowId(options.idempotencyKey!) : pipelineWorkflowId(parsed.input);
  // The hash of the normalised input, not the input: enough to tell a retry from a different request.
  const request = createHash('sha256').update(canonicalJson(parsed.input)).digest('hex');
  try {
    const handle = await client.workflow.start<typeof pipeline>('pipeline', {
      taskQueue: STOWAGE_TASK_QUEUE,
      workflowId,
      args: [raw as Parameters<typeof pipeline>[0]],
      workflowIdConflictPolicy: 'FAIL',
      ...(keyed ? { workflowIdReusePolicy: 'REJECT_DUPLICATE' as const } : {}),
      memo: {
        [REQUEST_MEMO]: request,
        ...(options.startedBy ? { [STARTED_BY_MEMO]: options.startedBy } : {}),
      },
    });
    return { handle, started: true };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const handle = client.workflow.getHandle<typeof pipeline>(workflowId);
    if (keyed) {
      const existing = await handle.describe();
      if (existing.memo?.[REQUEST_MEMO] !== request) throw new IdempotencyConflictError(workflowId);
    }
    return { handle, started: false };
  }
}

/** What `stowage status` and `GET /v1/pipelines/{id}` show. */
export interface PipelineStatus {
  workflowId: string;
  runId: string;
  status: string;
  startTime: string;
  closeTime?: string;
  stage?: string;
  runtime?: string;
  modelCount?: number;
  costPerHour?: number;
  startedBy?: string;
  /** The `progress` query; null when the run never got far enough to answer it (e.g. invalid input). */
  progress: PipelineProgress | null;
  result?: PipelineResult;
  failure?: string;
}

export type PipelineSummary = Omit<PipelineStatus, 'progress' | 'result' | 'failure'>;

function summaryOf(info: Omit<WorkflowExecutionInfo, 'raw'>): PipelineSummary {
  const sa = info.typedSearchAttributes;
  const startedBy = info.memo?.[STARTED_BY_MEMO];
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    status: info.status.name,
    startTime: info.startTime.toISOString(),
    closeTime: info.closeTime?.toISOString(),
    stage: sa.get(StowageStage),
    runtime: sa.get(StowageRuntime),
    modelCount: sa.get(StowageModelCount),
    costPerHour: sa.get(StowageCostPerHour),
    startedBy: typeof startedBy === 'string' ? startedBy : undefined,
  };
}

/** Only `pipeline` runs: an id of another workflow type (a child, a doctor run) is "not found" here. */
async function describeRun(client: Client, workflowId: string) {
  if (!WORKFLOW_ID_PATTERN.test(workflowId)) throw new PipelineNotFoundError(workflowId);
  const handle = client.workflow.getHandle<typeof pipeline>(workflowId);
  try {
    const info = await handle.describe();
    if (info.type !== 'pipeline') throw new PipelineNotFoundError(workflowId);
    return { handle, info };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new PipelineNotFoundError(workflowId);
    throw err;
  }
}

function withDeadline<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export async function describePipeline(
  client: Client,
  workflowId: string,
  options: { queryTimeoutMs?: number } = {},
): Promise<PipelineStatus> {
  const { handle, info } = await describeRun(client, workflowId);
  const status: PipelineStatus = { ...summaryOf(info), progress: null };
  // A run that failed on its input never registered the query; a worker that is down cannot answer it.
  status.progress = await withDeadline(options.queryTimeoutMs ?? 10_000, handle.query(progressQuery)).catch(
    () => null,
  );
  if (info.status.name === 'COMPLETED') {
    status.result = await handle.result();
  } else if (info.status.name !== 'RUNNING') {
    status.failure = await handle.result().then(
      () => undefined,
      (err: unknown) => causeMessages(err),
    );
  }
  return status;
}

function causeMessages(err: unknown): string {
  const messages: string[] = [];
  let e = err as { message?: string; cause?: unknown } | undefined;
  if (err instanceof WorkflowFailedError) e = err.cause as typeof e;
  for (; e; e = e.cause as typeof e) if (e.message) messages.push(e.message);
  return messages.join(' <- ') || 'no cause given';
}

/** Releases the approval gate; `by` is the approver's name, recorded in the run's progress. */
export async function approvePipeline(client: Client, workflowId: string, by: string): Promise<void> {
  const { handle, info } = await describeRun(client, workflowId);
  if (info.status.name !== 'RUNNING') {
    throw new PipelineStateError(`run ${workflowId} has ended (${info.status.name}): nothing to approve`);
  }
  try {
    await handle.executeUpdate(approveDeployUpdate, { args: [{ by }] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      throw new PipelineStateError(`run ${workflowId}: ${causeMessages(err.cause)}`);
    }
    throw err;
  }
}

/** Requests cancellation; the run stops the servers it started and keeps its artifacts. */
export async function cancelPipeline(client: Client, workflowId: string): Promise<void> {
  const { handle, info } = await describeRun(client, workflowId);
  if (info.status.name !== 'RUNNING') {
    throw new PipelineStateError(`run ${workflowId} has ended (${info.status.name}): nothing to cancel`);
  }
  await handle.cancel();
}

export interface PipelineListFilters {
  stage?: string;
  runtime?: string;
  status?: string;
}

/** Visibility values are never taken raw: each must match its pattern, and status comes from a table. */
export const LIST_FILTER_PATTERNS = {
  stage: /^[a-z][a-z-]{0,31}$/,
  runtime: /^[a-z][a-z0-9-]{0,31}$/,
} as const;

export const LIST_STATUSES = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Canceled',
  terminated: 'Terminated',
  'timed-out': 'TimedOut',
} as const;

export function pipelineListQuery(filters: PipelineListFilters): string {
  const clauses = [`WorkflowType = 'pipeline'`];
  for (const key of ['stage', 'runtime'] as const) {
    const value = filters[key];
    if (value === undefined) continue;
    if (!LIST_FILTER_PATTERNS[key].test(value)) throw new ConfigError(`invalid ${key} filter`);
    clauses.push(`${key === 'stage' ? StowageStage.name : StowageRuntime.name} = '${value}'`);
  }
  if (filters.status !== undefined) {
    if (!Object.hasOwn(LIST_STATUSES, filters.status)) throw new ConfigError('invalid status filter');
    clauses.push(`ExecutionStatus = '${LIST_STATUSES[filters.status as keyof typeof LIST_STATUSES]}'`);
  }
  return clauses.join(' AND ');
}

/** The newest runs first, at most `limit` of them. */
export async function listPipelines(
  client: Client,
  filters: PipelineListFilters,
  limit = 50,
): Promise<PipelineSummary[]> {
  const out: PipelineSummary[] = [];
  for await (const info of client.workflow.list({ query: pipelineListQuery(filters), pageSize: limit })) {
    out.push(summaryOf(info));
    if (out.length >= limit) break;
  }
  return out;
}

/** Where a run's report lands (docs/artifacts.md): runs/<workflowId>/report.html and report.json. */
export function pipelineReportKey(workflowId: string, format: 'html' | 'json'): string {
  return `runs/${workflowId}/report.${format}`;
}

/** Checks that a pipeline run exists (404 vs "no report yet" need telling apart). */
export async function pipelineExists(client: Client, workflowId: string): Promise<PipelineSummary> {
  return summaryOf((await describeRun(client, workflowId)).info);
}

/** Polls the `progress` query until the run ends; `onProgress` sees every snapshot. */
export async function followPipeline(
  handle: WorkflowHandle<typeof pipeline>,
  onProgress: (p: PipelineProgress) => void,
  intervalMs = 500,
): Promise<PipelineResult> {
  let finished = false;
  const result = handle.result().finally(() => (finished = true));
  while (!finished) {
    try {
      onProgress(await handle.query(progressQuery));
    } catch {
      // The first workflow task may not have run yet; the next poll will see it.
    }
    await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, intervalMs))]);
  }
  try {
    onProgress(await handle.query(progressQuery));
  } catch {
    // A failed run may reject queries; the result below carries the failure.
  }
  return result;
}
