/**
 * The task queues of the worker processes (docs/architecture.md). Tracing is routed by queue, never by a flag inside one worker,
 * because a trace must run on the processor it targets.
 */
export const PROCESSORS = ['cpu', 'gpu', 'inf'] as const;
export type Processor = (typeof PROCESSORS)[number];

export const STOWAGE_TASK_QUEUE = 'stowage';

export function tracerTaskQueue(processor: Processor): string {
  return `stowage-tracer-${processor}`;
}

export function isProcessor(value: unknown): value is Processor {
  return typeof value === 'string' && (PROCESSORS as readonly string[]).includes(value);
}
