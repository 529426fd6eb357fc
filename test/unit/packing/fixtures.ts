import type { PackingProblem } from '../../../src/packing';

/** Deterministic pseudo-random numbers so failures reproduce. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const postCatalog = (): PackingProblem['instanceTypes'] => [
  {
    name: 'inf1.xlarge',
    processor: 'inf',
    pricePerHour: 0.228,
    devices: 1,
    device: { memoryGiB: 8, compute: 100 },
    hostMemoryGiB: 8,
  },
  {
    name: 'inf1.2xlarge',
    processor: 'inf',
    pricePerHour: 0.362,
    devices: 1,
    device: { memoryGiB: 8, compute: 100 },
    hostMemoryGiB: 16,
  },
  {
    name: 'inf1.6xlarge',
    processor: 'inf',
    pricePerHour: 1.18,
    devices: 4,
    device: { memoryGiB: 8, compute: 100 },
    hostMemoryGiB: 48,
  },
  {
    name: 'g4dn.xlarge',
    processor: 'gpu',
    pricePerHour: 0.526,
    devices: 1,
    device: { memoryGiB: 16, compute: 100 },
    hostMemoryGiB: 16,
  },
  {
    name: 'g4dn.12xlarge',
    processor: 'gpu',
    pricePerHour: 3.912,
    devices: 4,
    device: { memoryGiB: 16, compute: 100 },
    hostMemoryGiB: 192,
  },
];

/** Models of random sizes on the post's catalog, runnable on inf, gpu or both. */
export function randomCatalogProblem(n: number, seed: number): PackingProblem {
  const r = seeded(seed);
  return {
    instanceTypes: postCatalog(),
    models: Array.from({ length: n }, (_, i) => {
      const demands: PackingProblem['models'][number]['demands'] = {};
      const kind = r();
      if (kind < 0.7)
        demands.inf = { memoryGiB: 0.2 + r() * 2.5, compute: 2 + r() * 30, hostMemoryGiB: 0.3 + r() * 2 };
      if (kind > 0.4)
        demands.gpu = { memoryGiB: 0.5 + r() * 5, compute: 3 + r() * 40, hostMemoryGiB: 0.5 + r() * 3 };
      return { id: `m-${i}`, demands };
    }),
  };
}

/** One single-device type with unit caps (after the limits) and random 2-D items. */
/** Items as [memory, compute] shares of one unit bin: one single-device type with unit caps (after the limits). */
export function unitBinProblem(
  items: [number, number][],
  name = 'bin',
  id = (i: number) => `i${i}`,
): PackingProblem {
  return {
    instanceTypes: [
      { name, processor: 'cpu', pricePerHour: 1, devices: 1, device: { memoryGiB: 1, compute: 1 } },
    ],
    limits: { memoryFraction: 1, computeFraction: 1 },
    models: items.map(([m, c], i) => ({ id: id(i), demands: { cpu: { memoryGiB: m, compute: c } } })),
  };
}

/** Random 2-D items on unit bins. */
export function randomVectorProblem(n: number, seed: number, lo = 0.1, hi = 0.5): PackingProblem {
  const r = seeded(seed);
  const items = Array.from({ length: n }, (): [number, number] => [
    lo + r() * (hi - lo),
    lo + r() * (hi - lo),
  ]);
  return unitBinProblem(items, 'box', (i) => `v-${i}`);
}

/** `bins` unit bins filled exactly in both dimensions, each split at random into 2–4 items: optimum = bins. */
export function perfectSplitItems(bins: number, r: () => number): [number, number][] {
  const items: [number, number][] = [];
  for (let b = 0; b < bins; b++) {
    const k = 2 + Math.floor(r() * 3);
    // Distinct integer cuts in thousandths: every part is positive and the parts sum to exactly 1.
    const cut = (): number[] => {
      const c = new Set<number>();
      while (c.size < k - 1) c.add(1 + Math.floor(r() * 999));
      const sorted = [...c].sort((x, y) => x - y);
      return [...sorted, 1000].map((v, j) => (v - (j === 0 ? 0 : sorted[j - 1])) / 1000);
    };
    const m = cut();
    const c = cut();
    for (let j = 0; j < k; j++) items.push([m[j], c[j]]);
  }
  return items;
}
