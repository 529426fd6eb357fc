import { Context } from '@temporalio/activity';

/**
 * How often a long activity heartbeats. Workflows give these activities a heartbeat timeout of seconds
 * (workflows/heartbeat.ts), so a worker that dies mid-activity is noticed that quickly and the attempt
 * retried, instead of at the activity's start-to-close timeout (minutes).
 */
export const HEARTBEAT_EVERY_MS = 1_000;

/**
 * Runs `body` while heartbeating every second on a timer, whatever `body` is waiting on (a child
 * process, a poll, a slow API call). `report` sets the details every later heartbeat carries and sends
 * them at once: where an activity has progress to resume, they are what its next attempt reads.
 */
export async function heartbeating<T>(
  body: (report: (details: unknown) => void) => Promise<T>,
  initial?: unknown,
): Promise<T> {
  const ctx = activityContext();
  // Outside an activity (the CLI stopping a demo's servers) there is nobody to heartbeat to.
  if (!ctx) return body(() => undefined);
  let details = initial;
  const report = (next: unknown) => {
    details = next;
    ctx.heartbeat(details);
  };
  // The SDK sends the first heartbeat at once and throttles the rest (to 80% of the timeout), so an
  // empty one now would hold back the first real progress for seconds: the timer's first tick is soon
  // enough to say the worker is alive.
  if (initial !== undefined) report(initial);
  const timer = setInterval(() => ctx.heartbeat(details), HEARTBEAT_EVERY_MS);
  try {
    return await body(report);
  } finally {
    clearInterval(timer);
  }
}

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}
