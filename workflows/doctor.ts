import { TimeoutType } from '@temporalio/common';
import { ActivityFailure, ApplicationFailure, proxyActivities, TimeoutFailure } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { DoctorInput, DoctorReport, TracerDescription, UnreachableQueue } from '../src/domain/doctor';
import { isProcessor, PROCESSORS, type Processor, tracerTaskQueue } from '../src/domain/task-queues';
import type { TracerActivities } from '../src/domain/tracer-activities';
import { FailureType, NO_RETRY } from '../src/domain/failures';

const { describeWorker } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

/**
 * Asks every worker what it has: the TypeScript worker on `stowage`, the Python tracer on each
 * requested tracer queue. Proves the polyglot path: Python activities called by name across queues.
 */
export async function doctor(input: DoctorInput = {}): Promise<DoctorReport> {
  const { processors, benchmarkMs, waitForWorkerSeconds } = validateDoctorInput(input);
  const stowage = await describeWorker();

  const answers = await Promise.all(
    processors.map((processor) => describeTracerOn(processor, benchmarkMs, waitForWorkerSeconds)),
  );
  return {
    stowage,
    tracers: answers.filter((a): a is TracerDescription => 'pid' in a),
    unreachable: answers.filter((a): a is UnreachableQueue => 'reason' in a),
  };
}

async function describeTracerOn(
  processor: Processor,
  benchmarkMs: number,
  waitForWorkerSeconds: number,
): Promise<TracerDescription | UnreachableQueue> {
  const taskQueue = tracerTaskQueue(processor);
  const { describeTracer } = proxyActivities<TracerActivities>({
    taskQueue,
    // A queue nobody polls is reported, not waited on forever.
    scheduleToStartTimeout: `${waitForWorkerSeconds} seconds`,
    startToCloseTimeout: '2 minutes',
    // A worker that dies mid-measurement is noticed within seconds, and the attempt is retried.
    heartbeatTimeout: '5 seconds',
    retry: { initialInterval: '1 second', maximumAttempts: 5, nonRetryableErrorTypes: [...NO_RETRY.input] },
  });
  try {
    return await describeTracer({ processor, benchmarkMs });
  } catch (err) {
    if (
      err instanceof ActivityFailure &&
      err.cause instanceof TimeoutFailure &&
      err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START
    ) {
      return { taskQueue, reason: `no worker picked up ${taskQueue} within ${waitForWorkerSeconds}s` };
    }
    throw err;
  }
}

function validateDoctorInput(input: DoctorInput): Required<DoctorInput> {
  const problems: string[] = [];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw ApplicationFailure.nonRetryable('doctor input must be a JSON object', FailureType.InvalidInput);
  }
  const processors = input.processors ?? ['cpu'];
  if (!Array.isArray(processors) || processors.length === 0) {
    problems.push(`processors must be a non-empty array of ${PROCESSORS.join('|')}`);
  } else {
    for (const p of processors) if (!isProcessor(p)) problems.push(`unknown processor ${JSON.stringify(p)}`);
    if (new Set(processors).size !== processors.length) problems.push('processors contains duplicates');
  }
  const benchmarkMs = input.benchmarkMs ?? 1000;
  if (!Number.isInteger(benchmarkMs) || benchmarkMs < 0 || benchmarkMs > 60_000) {
    problems.push('benchmarkMs must be an integer between 0 and 60000');
  }
  const waitForWorkerSeconds = input.waitForWorkerSeconds ?? 60;
  if (!Number.isInteger(waitForWorkerSeconds) || waitForWorkerSeconds < 1 || waitForWorkerSeconds > 3600) {
    problems.push('waitForWorkerSeconds must be an integer between 1 and 3600');
  }
  if (problems.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `invalid doctor input: ${problems.join('; ')}`,
      FailureType.InvalidInput,
    );
  }
  return { processors, benchmarkMs, waitForWorkerSeconds };
}
