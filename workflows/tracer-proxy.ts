import { type ActivityOptions, proxyActivities } from '@temporalio/workflow';
import { type Processor, tracerTaskQueue } from '../src/domain/task-queues';
import type { TracerActivities } from '../src/domain/tracer-activities';
import { HEARTBEAT_TIMEOUT } from './heartbeat';
import { NO_RETRY } from '../src/domain/failures';

/** A Neuron compile of bert-base takes minutes; a CPU or GPU trace of it well under one. */
const START_TO_CLOSE: Record<Processor, ActivityOptions['startToCloseTimeout']> = {
  cpu: '30 minutes',
  gpu: '30 minutes',
  inf: '2 hours',
};

/**
 * The tracer activities on the queue of `processor`. The worker heartbeats every 2 s even inside one long
 * compile, so a killed worker is noticed after the heartbeat timeout and the retry resumes from the
 * last heartbeat's details on whichever worker picks it up.
 */
export function tracerActivities(processor: Processor, overrides: Partial<ActivityOptions> = {}) {
  return proxyActivities<TracerActivities>({
    taskQueue: tracerTaskQueue(processor),
    startToCloseTimeout: START_TO_CLOSE[processor],
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    retry: {
      initialInterval: '2 seconds',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: 5,
      nonRetryableErrorTypes: [...NO_RETRY.tracer],
    },
    ...overrides,
  });
}
