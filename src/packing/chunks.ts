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
 * Minimum slack with 10,000 checks per device is the construction that pays at this size: on 100,000
 * models of [.1,.4]² it lands 1.0% over the volume in about 3 s of this 2-core machine; chunks of
 * 1,500–2,500 need 30,000 checks (and twice the time) for the same, and 750 lose more to rounding.
 */
const CHUNK_MODELS = 1000;
/** Share of a chunk's slice for its construction; the rest goes to local search. */
const CONSTRUCTION_SHARE = 0.7;
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
 * Large problems: deal the models, in decreasing size, round-robin into chunks of a few thousand (each
 * chunk a scaled-down copy of the whole), and give each chunk the full pipeline (portfolio, bin
 * elimination, MIP windows) for its share of the time. Local search then works on a few hundred
 * instances at a time, where it is effective, instead of stalling on a hundred thousand. Each chunk
 * ends with a few part-filled instances, so the emptiest instances of all chunks are re-packed together
 * at the end.
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
  for (let c = 0; c < k; c++) {
    const sliceEnd = Date.now() + (chunksEnd - Date.now()) / (k - c);
    instances.push(...(await packChunk(problem, chunks[c], solver, sliceEnd)));
  }
  instances.sort((a, b) => a.fill - b.fill);
  const tail = instances.slice(0, Math.min(instances.length, 4 * k));
  const tailModels = tail.flatMap((inst) => inst.devices.flat());
  const merged = await packChunk(problem, tailModels, solver, deadline);
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
      `${k} chunks of ~${CHUNK_MODELS} models, each fully improved` +
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
): Promise<ChunkInstance[]> {
  const sub = prepare({ ...problem, models: models.map((i) => problem.models[i]), previous: undefined });
  const perInstance = sub.types.map((_, t) => maxModelsPerInstance(sub, t, sub.placeable));
  const plan = cardinalityPlan(sub, sub.placeable, perInstance).counts;
  const now = Date.now();
  const pk = quickConstruction(sub, now + (deadline - now) * CONSTRUCTION_SHARE, plan).packing;
  if (Date.now() < deadline) {
    const subBound = await lowerBound(solver, sub, sub.placeable, 0.05);
    await improve(pk, subBound.value, deadline, solver);
  }
  pk.dropEmpty();
  // Sub-problem model j is models[j]: types are the same list, so only model indices are mapped back.
  return pk.bins.map((b) => ({
    type: b.type,
    devices: b.items.map((ids) => ids.map((j) => models[j])),
    fill: pk.fill(b),
  }));
}
