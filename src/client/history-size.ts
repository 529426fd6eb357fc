import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

export interface HistorySize {
  workflowId: string;
  events: number;
  /** The history encoded as Temporal stores it (protobuf): what its 50 MB limit counts. */
  bytes: number;
  /** The largest single payload in it (inputs, results, heartbeat details). */
  largestPayloadBytes: number;
}

/** A run's history size and its children's, recursively: what grows with the number of models. */
export async function historySizes(client: Client, workflowId: string): Promise<HistorySize[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  let largest = 0;
  for (const event of events) {
    for (const payload of payloadsOf(event)) largest = Math.max(largest, payload.data?.length ?? 0);
  }
  const own: HistorySize = {
    workflowId,
    events: events.length,
    bytes: temporal.api.history.v1.History.encode(history).finish().length,
    largestPayloadBytes: largest,
  };
  const childIds = events
    .map((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId)
    .filter((id): id is string => Boolean(id));
  const children = await Promise.all(childIds.map((id) => historySizes(client, id)));
  return [own, ...children.flat()];
}

/** The largest history by events and by bytes, and the largest payload: what a run's --json reports. */
export function largestHistories(sizes: HistorySize[]) {
  const by = (field: 'events' | 'bytes') => sizes.reduce((a, b) => (b[field] > a[field] ? b : a));
  return {
    workflows: sizes.length,
    mostEvents: by('events'),
    mostBytes: by('bytes'),
    largestPayloadBytes: Math.max(...sizes.map((s) => s.largestPayloadBytes)),
  };
}

/** Every payload an event carries, wherever its attributes keep them. */
function* payloadsOf(node: unknown): Generator<temporal.api.common.v1.IPayload> {
  if (!node || typeof node !== 'object') return;
  if ('payloads' in node && Array.isArray(node.payloads)) {
    yield* node.payloads as temporal.api.common.v1.IPayload[];
    return;
  }
  for (const value of Object.values(node)) {
    if (value && typeof value === 'object') yield* payloadsOf(value);
  }
}
