import type { Client, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

/**
 * Reading what a run actually did from its Temporal history: the events are the record the acceptance
 * criteria speak about ("starts no activity", "performs zero trace activities", "no model traced twice").
 */
export async function eventsOf(handle: WorkflowHandle): Promise<HistoryEvent[]> {
  return (await handle.fetchHistory()).events ?? [];
}

/** Activity types the run scheduled, in order. */
export function scheduledActivities(events: HistoryEvent[]): string[] {
  return events
    .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
    .filter((n): n is string => Boolean(n));
}

/** Child workflows the run started, in order. */
export function startedChildren(events: HistoryEvent[]): { type: string; workflowId: string }[] {
  return events
    .map((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)
    .filter((a): a is NonNullable<typeof a> => Boolean(a))
    .map((a) => ({ type: a.workflowType?.name ?? '', workflowId: a.workflowId ?? '' }));
}

/** For each scheduled activity of `type`: the attempt its last start had (0 if it never started). */
export function activityAttempts(events: HistoryEvent[], type: string): number[] {
  const attempts = new Map<string, number>();
  for (const e of events) {
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === type)
      attempts.set(String(e.eventId), 0);
    const started = e.activityTaskStartedEventAttributes;
    const id = String(started?.scheduledEventId);
    if (started && attempts.has(id)) attempts.set(id, started.attempt ?? 1);
  }
  return [...attempts.values()];
}

export interface CompletedTrace {
  modelId: string;
  /** The attempt that completed: above 1 when an earlier attempt was lost (a killed worker). */
  attempt: number;
}

/**
 * Every `traceModel` activity that completed in the `traceModels` children of a pipeline run, with the
 * model it traced (read from the scheduled activity's input) and the attempt that completed it.
 */
export async function completedTraces(client: Client, pipeline: WorkflowHandle): Promise<CompletedTrace[]> {
  const children = startedChildren(await eventsOf(pipeline)).filter((c) => c.type === 'traceModels');
  const traces: CompletedTrace[] = [];
  for (const child of children) {
    const events = await eventsOf(client.workflow.getHandle(child.workflowId));
    const byScheduledId = new Map<string, { modelId: string; attempt: number }>();
    for (const e of events) {
      const scheduled = e.activityTaskScheduledEventAttributes;
      if (scheduled?.activityType?.name === 'traceModel') {
        const payload = scheduled.input?.payloads?.[0];
        const request = payload
          ? defaultPayloadConverter.fromPayload<{ modelId: string }>(payload)
          : undefined;
        byScheduledId.set(String(e.eventId), { modelId: request?.modelId ?? '?', attempt: 0 });
      }
      const started = e.activityTaskStartedEventAttributes;
      const entry = started && byScheduledId.get(String(started.scheduledEventId));
      if (entry) entry.attempt = started.attempt ?? 1;
      const completed = e.activityTaskCompletedEventAttributes;
      const done = completed && byScheduledId.get(String(completed.scheduledEventId));
      if (done) traces.push({ ...done });
    }
  }
  return traces;
}

/** How often each id occurs: { a: 1, b: 2 }. */
export function tally(ids: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const id of ids) counts[id] = (counts[id] ?? 0) + 1;
  return counts;
}
