import {
  DEFAULT_COMPUTE_FRACTION,
  DEFAULT_MEMORY_FRACTION,
  typeKey,
  type PackingProblem,
  type PlacedInstance,
} from './types';

/** An instance type with its usable per-device caps (capacity × limits fraction) already applied. */
export interface TypeCaps {
  name: string;
  spot: boolean;
  processor: string;
  price: number;
  devices: number;
  memory: number;
  compute: number;
  host: number;
  available: number;
}

/**
 * The problem as flat arrays: demand of model i on type t lives at [i * T + t], NaN where the model
 * cannot run on t (no demand for its processor, or it overflows a device or the host on its own).
 */
export interface Prepared {
  n: number;
  T: number;
  ids: string[];
  types: TypeCaps[];
  mem: Float64Array;
  cpu: Float64Array;
  host: Float64Array;
  /** Indices of models that fit at least one type; the others go to `unplaced`. */
  placeable: number[];
  unplaceable: { index: number; reason: string }[];
}

/** Sums are compared with a relative tolerance so 24 × 0.3 GiB is not refused against 7.2 GiB. */
export const TOLERANCE = 1e-9;
export const within = (load: number, cap: number): boolean => load <= cap * (1 + TOLERANCE) + 1e-12;

export function prepare(problem: PackingProblem): Prepared {
  const memoryFraction = problem.limits?.memoryFraction ?? DEFAULT_MEMORY_FRACTION;
  const computeFraction = problem.limits?.computeFraction ?? DEFAULT_COMPUTE_FRACTION;
  const types: TypeCaps[] = problem.instanceTypes.map((t) => ({
    name: t.name,
    spot: t.market === 'spot',
    processor: t.processor,
    price: t.pricePerHour,
    devices: t.devices,
    memory: t.device.memoryGiB * memoryFraction,
    compute: t.device.compute * computeFraction,
    host: t.hostMemoryGiB ?? Infinity,
    available: t.available ?? Infinity,
  }));
  const n = problem.models.length;
  const T = types.length;
  const mem = new Float64Array(n * T).fill(NaN);
  const cpu = new Float64Array(n * T).fill(NaN);
  const host = new Float64Array(n * T).fill(NaN);
  const placeable: number[] = [];
  const unplaceable: { index: number; reason: string }[] = [];
  problem.models.forEach((model, i) => {
    const misfits: string[] = [];
    let any = false;
    types.forEach((t, k) => {
      const d = model.demands[t.processor];
      if (!d) return;
      const h = d.hostMemoryGiB ?? 0;
      if (t.available === 0) return misfits.push(`${t.name}: none available`);
      if (!within(d.memoryGiB, t.memory))
        return misfits.push(`${t.name}: memory ${d.memoryGiB} GiB > ${round(t.memory)} GiB`);
      if (!within(d.compute, t.compute))
        return misfits.push(`${t.name}: compute ${d.compute} > ${round(t.compute)}`);
      if (!within(h, t.host)) return misfits.push(`${t.name}: host memory ${h} GiB > ${t.host} GiB`);
      mem[i * T + k] = d.memoryGiB;
      cpu[i * T + k] = d.compute;
      host[i * T + k] = h;
      any = true;
    });
    if (any) placeable.push(i);
    else
      unplaceable.push({ index: i, reason: `fits no device of any instance type (${misfits.join('; ')})` });
  });
  return { n, T, ids: problem.models.map((m) => m.id), types, mem, cpu, host, placeable, unplaceable };
}

/** How an instance of type t appears in a placement: its name, and its market when that is spot. */
export function placedAs(p: Prepared, t: number, devices: string[][]): PlacedInstance {
  const ty = p.types[t];
  return ty.spot ? { type: ty.name, market: 'spot', devices } : { type: ty.name, devices };
}

/** Type index by catalog key (name and market), for reading placements back. */
export function typeIndexOf(p: Prepared): (inst: { type: string; market?: 'spot' }) => number | undefined {
  const index = new Map(
    p.types.map((t, k) => [typeKey({ name: t.name, market: t.spot ? 'spot' : undefined }), k]),
  );
  return (inst) => index.get(typeKey({ name: inst.type, market: inst.market }));
}

export const runs = (p: Prepared, i: number, t: number): boolean => !Number.isNaN(p.mem[i * p.T + t]);

/** Models with equal demands on every type: interchangeable, so LPs take one row or column per class. */
export interface DemandClass {
  /** One member, whose demands stand for all. */
  model: number;
  count: number;
  members: number[];
}

export function demandClasses(p: Prepared, models: number[]): DemandClass[] {
  const classes = new Map<string, DemandClass>();
  for (const i of models) {
    const key = Array.from(
      { length: p.T },
      (_, t) => `${p.mem[i * p.T + t]},${p.cpu[i * p.T + t]},${p.host[i * p.T + t]}`,
    ).join(';');
    const c = classes.get(key);
    if (c) {
      c.count++;
      c.members.push(i);
    } else classes.set(key, { model: i, count: 1, members: [i] });
  }
  return [...classes.values()];
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
