/**
 * The heartbeat timeout of every activity that can run longer than a few seconds. They heartbeat every
 * second or two (activities/heartbeat.ts; the Python tracer every 2 s), so a worker that dies mid-activity
 * — a crash, a power loss — is noticed within this and the attempt retried, not at its start-to-close
 * timeout minutes later.
 */
export const HEARTBEAT_TIMEOUT = '15 seconds';
