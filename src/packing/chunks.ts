import { cardinalityPlan, lowerBound, maxModelsPerInstance } from './bounds/lower-bound';
import { quickConstruction } from './heuristics/portfolio';
import type { HighsSolver } from './highs/worker';
import { improve } from './improve/search';
import { homeTypes, sortedBy } from './measures';
import { placedAs, prepare, type Prepared } from './prepare';
import type { PackingProblem, PlacedInstance } from './types';

/** Above this many models the problem is solved as independent chunks of about CHUNK_MODELS each. */
export const CHUNK_ABOVE_MODELS = 20_000;
/**
 * Minimum slack is the construction that pays, and it pays best at this size: with 10,000 checks per
 * device, chunks of 1,000 of 100,000 models of [.1,.4]² land 1.0% over their volume in about 3 s of
 * this 2-core machine; chunks of 1,500–2,500 need 30,000 checks (and twice the time) for the same, and
 * 750 lose more to rounding.
 */
const CHUNK_MODELS = 1000;
/**
 * Minimum slack's checks per device for the first chunk; later chunks scale them, between the bounds,
 * to what their slices allow.
 */
const FIRST_CHECKS = 10_000;
const MIN_CHECKS = 2000;
const MAX_CHECKS = 40_000;
/**
 * Share of a chunk's slice its construction aims at, and the share past which minimum slack cuts its
 * search short (the aim is an estimate from the chunk before); the rest goes to local search. Searching
 * longer pays more than local search within a chunk: on 100,000 models of [.1,.4]², aiming at half the
 * slice left 1.0–1.05% over the bound, at 85% 0.6–0.7% (load 4–6).
 */
const CONSTRUCTION_AIM = 0.85;
const CONSTRUCTION_SHARE = 0.95;
/**
 * Instances per chunk, the emptiest of all, re-packed together at the end: each chunk's minimum slack
 * leaves its last instances part-filled with what no device search could pair. Re-packing 4 per chunk
 * saved about 100 of 25,400 instances on 100,000 models of [.1,.4]², 16 per chunk 190–260.
 */
const TAIL_PER_CHUNK = 16;
/** Share of the budget left, after the chunks, to re-pack their emptiest instances together. */
const TAIL_SHARE = 0.1;

/** Chunks never compete for instances when every type is unlimited. */
export function chunkable(p: Prepared): boolean {
  return p.placeable.length > CHUNK_ABOVE_MODELS && p.types.every((t) => !Number.isFinite(t.available));
}

/** A chunk's instance, with its models as indices into the whole problem. */
interface ChunkInstance {
  type: number;
  devices: number[][];
  fill: number;
}

/**
 * Large problems: deal the models, in decreasing size, round-robin into chunks of a thousand (each
 * chunk a scaled-down copy of the whole), and give each its share of the time: minimum slack, whose
 * search per device is sized from the chunk before so that it fills the slice, then local search on
 * a few hundred instances, where it is effective. Each chunk ends with a few part-filled instances, so
 * the emptiest instances of all chunks are re-packed together at the end.
 */
export async function packInChunks(
  problem: PackingProblem,
  p: Prepared,
  solver: HighsSolver,
  deadline: number,
): Promise<{ placement: PlacedInstance[]; cost: number; algorithm: string }> {
  const order = sortedBy(p, homeTypes(p), 'sum');
  const k = Math.ceil(order.length / CHUNK_MODELS);
  const chunks: number[][] = Array.from({ length: k }, () => []);
  order.forEach((i, r) => chunks[r % k].push(i));
  const chunksEnd = deadline - (deadline - Date.now()) * TAIL_SHARE;
  let instances: ChunkInstance[] = [];
  let checks = FIRST_CHECKS;
  for (let c = 0; c < k; c++) {
    const now = Date.now();
    const slice = (chunksEnd - now) / (k - c);
    const packed = await packChunk(problem, chunks[c], solver, now + slice, checks);
    instances.push(...packed.instances);
    if (c === k - 1) break;
    // The chunks are alike, so the next one's search takes about what this one's did per check: aim it
    // at its share of the next slice, whatever the machine's load does to the rate.
    const next = Math.max(0, chunksEnd - Date.now()) / Math.max(1, k - c - 1);
    const scaled = (checks * CONSTRUCTION_AIM * next) / Math.max(1, packed.constructionMs);
    checks = Math.round(Math.min(MAX_CHECKS, Math.max(MIN_CHECKS, Math.sqrt(checks * scaled))));
  }
  instances.sort((a, b) => a.fill - b.fill);
  const tail = instances.slice(0, Math.min(instances.length, TAIL_PER_CHUNK * k));
  const tailModels = tail.flatMap((inst) => inst.devices.flat());
  const merged = (await packChunk(problem, tailModels, solver, deadline, checks)).instances;
  const price = (xs: ChunkInstance[]) => xs.reduce((sum, inst) => sum + p.types[inst.type].price, 0);
  const tailMerged = price(merged) < price(tail) - 1e-9;
  if (tailMerged) instances = [...instances.slice(tail.length), ...merged];
  return {
    placement: instances.map((inst) =>
      placedAs(
        p,
        inst.type,
        inst.devices.map((ids) => [...ids].sort((x, y) => x - y).map((i) => p.ids[i])),
      ),
    ),
    cost: price(instances),
    algorithm:
      `${k} chunks of ~${CHUNK_MODELS} models, minimum slack (last ${checks} checks per device) and local search` +
      (tailMerged ? `; emptiest ${tail.length} instances re-packed as ${merged.length}` : ''),
  };
}

/**
 * A subset of the models until `deadline`: the greedy baseline, first fit into the instance mix of the
 * cardinality bound (exact for alike models), and minimum slack (which falls back to
 * a short search per device once its share of the slice is spent, instead of overrunning it and
 * leaving the chunks after it no time), then local search.
 */
async function packChunk(
  problem: PackingProblem,
  models: number[],
  solver: HighsSolver,
  deadline: number,
  checks: number,
): Promise<{ instances: ChunkInstance[]; constructionMs: number }> {
  const sub = prepare({ ...problem, models: models.map((i) => problem.models[i]), previous: undefined });
  const perInstance = sub.types.map((_, t) => maxModelsPerInstance(sub, t, sub.placeable));
  const plan = cardinalityPlan(sub, sub.placeable, perInstance).counts;
  const now = Date.now();
  const pk = quickConstruction(sub, now + (deadline - now) * CONSTRUCTION_SHARE, { plan, checks }).packing;
  const constructionMs = Date.now() - now;
  if (Date.now() < deadline) {
    const subBound = await lowerBound(solver, sub, sub.placeable, 0.05);
    await improve(pk, subBound.value, deadline, solver);
  }
  pk.dropEmpty();
  // Sub-problem model j is models[j]: types are the same list, so only model indices are mapped back.
  const instances = pk.bins.map((b) => ({
    type: b.type,
    devices: b.items.map((ids) => ids.map((j) => models[j])),
    fill: pk.fill(b),
  }));
  return { instances, constructionMs };
}
