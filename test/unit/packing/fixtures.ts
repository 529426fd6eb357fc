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
export function randomVectorProblem(n: number, seed: number, lo = 0.1, hi = 0.5): PackingProblem {
  const r = seeded(seed);
  return {
    instanceTypes: [
      { name: 'box', processor: 'cpu', pricePerHour: 1, devices: 1, device: { memoryGiB: 1, compute: 1 } },
    ],
    limits: { memoryFraction: 1, computeFraction: 1 },
    models: Array.from({ length: n }, (_, i) => ({
      id: `v-${i}`,
      demands: { cpu: { memoryGiB: lo + r() * (hi - lo), compute: lo + r() * (hi - lo) } },
    })),
  };
}
