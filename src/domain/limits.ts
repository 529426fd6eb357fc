/**
 * The maximum of every count and size the project accepts, in one place. The zod schemas of the packing
 * contract, the pipeline input and the repack schedule take their bounds from here, so the API, the CLI
 * and a workflow started from the Temporal UI refuse the same input with the same message, and nothing
 * a client sends can make one request allocate without bound. README.md ("Limits") lists them.
 */

export const LIMITS = {
  /** Instance types in one problem or catalog (AWS sells a few dozen with accelerators). */
  instanceTypes: 200,
  /**
   * Devices of one instance type. The largest AWS types have 16 Inferentia chips or 8 GPUs; the local
   * runtime makes one device per core, so a big machine needs the headroom.
   */
  devicesPerType: 256,
  /** Distinct processors in one problem, and so demand entries per model. */
  processors: 16,
  /** Models in one packing problem or model manifest. */
  models: 100_000,
  /** Models listed inline in a pipeline input; more go by manifest (the 2 MB payload cap would refuse them). */
  inlineModels: 10_000,
  /**
   * Models × instance types of one packing problem: the packer keeps a demand per pair, so this bounds a
   * pack's memory before anything is allocated (100,000 models on 50 types, 25,000 on 200).
   */
  demandCells: 5_000_000,
  /** Instance type names, processors and model ids of the packing contract. */
  nameLength: 256,
  /** Instances of one type that may be bought. */
  available: 100_000,
  /** Dollars per hour of one instance. */
  pricePerHour: 100_000,
  /** GiB of one device, one host, or one model's demand. */
  memoryGiB: 1_048_576,
  /** Compute capacity of one device or demand (1.0 is one device kept busy). */
  compute: 1_000_000,
  /** Expected requests per second of one model. */
  requestsPerSecond: 1_000_000,
  /** A latency objective (a load test's P90). */
  latencyMs: 60_000,
  /** A packing time budget: an hour. */
  timeLimitMs: 3_600_000,
  /** A schedule's interval: a year (slower is a typo, not a plan). */
  scheduleIntervalMs: 366 * 86_400_000,
} as const;

/** A reported list of problems holds at most this many entries, the last saying "and K more". */
export const MAX_REPORTED_PROBLEMS = 20;

/**
 * At most `max` entries: the first problems and one saying how many were left out. A list already cut
 * comes back as it was, so each layer may cut without counting twice.
 */
export function firstProblems<T>(
  problems: readonly T[],
  more: (count: number) => T,
  max = MAX_REPORTED_PROBLEMS,
): T[] {
  if (problems.length <= max) return [...problems];
  return [...problems.slice(0, max - 1), more(problems.length - (max - 1))];
}

export interface OverlongList {
  path: readonly string[];
  length: number;
  max: number;
}

/**
 * Lists longer than their maximum, found before a schema checks their entries one by one: zod reports
 * the length but still visits every entry, and half a million bad entries cost seconds and hundreds of MB.
 */
export function overlongLists(
  raw: unknown,
  lists: readonly { path: readonly string[]; max: number }[],
): OverlongList[] {
  const found: OverlongList[] = [];
  for (const { path, max } of lists) {
    let value: unknown = raw;
    for (const key of path) {
      value =
        typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, key)
          ? (value as Record<string, unknown>)[key]
          : undefined;
    }
    if (Array.isArray(value) && value.length > max) found.push({ path, length: value.length, max });
  }
  return found;
}
