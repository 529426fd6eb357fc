import type { Prepared } from './prepare';

/** How one number summarizes a model's demand vector when sorting models largest first. */
export type SizeMeasure = 'max' | 'sum' | 'l2';

/** Demand of model i on type t as fractions of one device (memory, compute) and of the host. */
export function normalized(p: Prepared, i: number, t: number): [number, number, number] {
  const k = i * p.T + t;
  const ty = p.types[t];
  const h = Number.isFinite(ty.host) ? p.host[k] / ty.host : 0;
  return [p.mem[k] / ty.memory, p.cpu[k] / ty.compute, h];
}

export function measure(p: Prepared, i: number, t: number, kind: SizeMeasure): number {
  const [a, b, c] = normalized(p, i, t);
  if (kind === 'max') return Math.max(a, b, c);
  if (kind === 'sum') return a + b + c;
  return Math.sqrt(a * a + b * b + c * c);
}

/**
 * What one model costs on type t if instances were perfectly filled: the price times the model's share
 * of the instance's bottleneck resource.
 */
export function costShare(p: Prepared, i: number, t: number): number {
  const ty = p.types[t];
  const [a, b, c] = normalized(p, i, t);
  return ty.price * Math.max(a / ty.devices, b / ty.devices, c) || 0;
}

/**
 * The type on which a model is cheapest per unit of bottleneck resource: used to sort and to size.
 * Filled in for `models` only (all placeable ones by default), -1 elsewhere.
 */
export function homeTypes(p: Prepared, models: number[] = p.placeable): Int32Array {
  const home = new Int32Array(p.n).fill(-1);
  for (const i of models) {
    let best = Infinity;
    for (let t = 0; t < p.T; t++) {
      if (Number.isNaN(p.mem[i * p.T + t])) continue;
      const s = costShare(p, i, t);
      if (s < best || home[i] < 0) {
        best = s;
        home[i] = t;
      }
    }
  }
  return home;
}

/** Placeable models sorted by decreasing size on their home type. */
export function sortedBy(p: Prepared, home: Int32Array, kind: SizeMeasure): number[] {
  const key = new Float64Array(p.n);
  for (const i of p.placeable) key[i] = measure(p, i, home[i], kind);
  return [...p.placeable].sort((x, y) => key[y] - key[x] || x - y);
}
