import { createHash } from 'node:crypto';
import { type Client, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { ConfigError } from '../config/temporal';
import type { PipelineProgress, PipelineResult } from '../domain/pipeline';
import { STOWAGE_TASK_QUEUE } from '../domain/task-queues';
import { parsePipelineInput, type PipelineInput } from '../pipeline/input';
import { progressQuery, type pipeline } from '../../workflows/pipeline';

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

export async function startPipeline(client: Client, raw: unknown): Promise<StartedPipeline> {
  const parsed = parsePipelineInput(raw);
  if (!parsed.ok) throw new PipelineInputError(parsed.problems);
  const workflowId = pipelineWorkflowId(parsed.input);
  try {
    const handle = await client.workflow.start<typeof pipeline>('pipeline', {
      taskQueue: STOWAGE_TASK_QUEUE,
      workflowId,
      args: [raw as Parameters<typeof pipeline>[0]],
      workflowIdConflictPolicy: 'FAIL',
    });
    return { handle, started: true };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      return { handle: client.workflow.getHandle<typeof pipeline>(workflowId), started: false };
    }
    throw err;
  }
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
