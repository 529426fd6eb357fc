import fs from 'node:fs';
import os from 'node:os';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { firstProblems } from '../../domain/limits';
import { defaultTimeLimitMs, pack, PackingInputError, validatePackingProblem } from '../../packing';
import { parseJsonBody } from '../json';
import { ApiProblem } from '../problems';

/** The API's bounds on one synchronous pack, tighter than the packing contract's own. */
export interface PackJobLimits {
  maxModels: number;
  maxInstanceTypes: number;
  /** A request's timeLimitMs is capped at this; so is the default. */
  maxTimeLimitMs: number;
}

export type PackOutcome =
  | { ok: true; placementJson: string; timeLimitMs: number }
  | { ok: false; kind: 'badRequest' | 'validation'; detail: string; defects: string[] };

/**
 * The packer honours its budget between steps, so under CPU contention it overruns it (11–15 s for 10 s
 * on a loaded 2-core machine). It gets this share of the request's timeLimitMs, less what parsing took,
 * and the rest is headroom before the pool's hard deadline stops it.
 */
export const PACKER_SHARE = 0.75;

const cut = (defects: string[]) => firstProblems(defects, (n) => `(root): and ${n} more problem(s)`);

function apiSizeDefects(raw: unknown, limits: PackJobLimits): string[] {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return [];
  const { models, instanceTypes } = raw as { models?: unknown; instanceTypes?: unknown };
  const defects: string[] = [];
  if (Array.isArray(models) && models.length > limits.maxModels)
    defects.push(
      `models: ${models.length} models is more than this endpoint packs synchronously (${limits.maxModels}); use \`stowage pack\` or a pipeline`,
    );
  if (Array.isArray(instanceTypes) && instanceTypes.length > limits.maxInstanceTypes)
    defects.push(
      `instanceTypes: ${instanceTypes.length} instance types is more than ${limits.maxInstanceTypes}`,
    );
  return defects;
}

/**
 * One `POST /v1/pack` from its JSON text to its answer: parse, bound, validate, pack. It runs in a pack
 * thread, so none of it (not even parsing a megabyte of JSON) holds the API's event loop. `onStart` says
 * the request's time limit once it is known, so the pool can arm the hard deadline.
 */
export async function runPackJob(
  text: string,
  limits: PackJobLimits,
  onStart: (timeLimitMs: number) => void,
): Promise<PackOutcome> {
  const received = Date.now();
  let raw: unknown;
  try {
    raw = parseJsonBody(text);
  } catch (err) {
    if (err instanceof ApiProblem) return { ok: false, kind: 'badRequest', detail: err.message, defects: [] };
    throw err;
  }
  const invalid = (defects: string[]): PackOutcome => ({
    ok: false,
    kind: 'validation',
    detail: 'the request body does not validate',
    defects: cut(defects),
  });
  const oversize = apiSizeDefects(raw, limits);
  if (oversize.length > 0) return invalid(oversize);
  const valid = validatePackingProblem(raw);
  if (!valid.ok) return invalid(valid.defects);
  const problem = valid.problem;
  const timeLimitMs = Math.min(
    problem.timeLimitMs ?? defaultTimeLimitMs(problem.models.length),
    limits.maxTimeLimitMs,
  );
  onStart(timeLimitMs);
  const budget = Math.max(1, Math.floor(timeLimitMs * PACKER_SHARE) - (Date.now() - received));
  try {
    const placement = await pack({ ...problem, timeLimitMs: budget });
    return { ok: true, placementJson: JSON.stringify(placement), timeLimitMs };
  } catch (err) {
    if (err instanceof PackingInputError) return invalid(err.defects);
    throw err;
  }
}

export const PACK_THREAD_FLAG = 'stowage-pack-thread';

export type ThreadMessage = { started: number } | { outcome: PackOutcome } | { failed: string };

/**
 * Linux lets a thread have its own nice value: packing threads (and the HiGHS threads they start, which
 * inherit it) yield the CPU to the API's event loop, so /healthz answers at once while packs run.
 */
function lowerThreadPriority(): void {
  try {
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) os.setPriority(tid, 10);
  } catch {
    // Not Linux, or not allowed: the pack still runs, only at the API's priority.
  }
}

if (!isMainThread && (workerData as { flag?: string } | undefined)?.flag === PACK_THREAD_FLAG) {
  lowerThreadPriority();
  const port = parentPort!;
  port.on('message', (job: { text: string; limits: PackJobLimits }) => {
    const post = (message: ThreadMessage) => port.postMessage(message);
    runPackJob(job.text, job.limits, (started) => post({ started }))
      .then((outcome) => post({ outcome }))
      .catch((err: unknown) => post({ failed: err instanceof Error ? err.message : String(err) }));
  });
}
