import { asyncLocalStorage, Context } from '@temporalio/activity';

/**
 * Runs an activity function inside an activity Context, as the worker does: it records the heartbeats the
 * function sends, and with `heartbeatDetails` it runs as a retried attempt that resumes from them.
 * (@temporalio/testing's MockActivityEnvironment does the same; that package is not a dependency.)
 */
export async function inActivity<T>(
  fn: () => Promise<T>,
  options: { activityType: string; heartbeats?: unknown[]; heartbeatDetails?: unknown },
): Promise<T> {
  const { activityType, heartbeats = [], heartbeatDetails } = options;
  const ContextClass = Context as unknown as new (...args: unknown[]) => Context;
  const ctx = new ContextClass(
    { activityType, attempt: heartbeatDetails === undefined ? 1 : 2, heartbeatDetails },
    new Promise<never>(() => undefined),
    new AbortController().signal,
    (details: unknown) => heartbeats.push(details),
    undefined,
    console,
    undefined,
    undefined,
  );
  return asyncLocalStorage.run(ctx, fn);
}
