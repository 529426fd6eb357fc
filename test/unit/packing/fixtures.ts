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

type InstanceType = PackingProblem['instanceTypes'][number];

const byName = (...names: string[]) => postCatalog().filter((t) => names.includes(t.name));

/** On-demand us-east-1 prices of the instance families the AWS post compared (CPU, GPU, Inferentia). */
const catalogPool: Record<string, InstanceType[]> = {
  inf: [
    ...byName('inf1.xlarge', 'inf1.2xlarge', 'inf1.6xlarge'),
    {
      name: 'inf1.24xlarge',
      processor: 'inf',
      pricePerHour: 4.721,
      devices: 16,
      device: { memoryGiB: 8, compute: 100 },
      hostMemoryGiB: 192,
    },
  ],
  gpu: [
    ...byName('g4dn.xlarge'),
    {
      name: 'g4dn.2xlarge',
      processor: 'gpu',
      pricePerHour: 0.752,
      devices: 1,
      device: { memoryGiB: 16, compute: 100 },
      hostMemoryGiB: 32,
    },
    ...byName('g4dn.12xlarge'),
    {
      name: 'g5.xlarge',
      processor: 'gpu',
      pricePerHour: 1.006,
      devices: 1,
      device: { memoryGiB: 24, compute: 160 },
      hostMemoryGiB: 16,
    },
    {
      name: 'g5.12xlarge',
      processor: 'gpu',
      pricePerHour: 5.672,
      devices: 4,
      device: { memoryGiB: 24, compute: 160 },
      hostMemoryGiB: 192,
    },
  ],
  cpu: [
    {
      name: 'c5.xlarge',
      processor: 'cpu',
      pricePerHour: 0.17,
      devices: 1,
      device: { memoryGiB: 8, compute: 100 },
      hostMemoryGiB: 8,
    },
    {
      name: 'c5.4xlarge',
      processor: 'cpu',
      pricePerHour: 0.68,
      devices: 1,
      device: { memoryGiB: 32, compute: 400 },
      hostMemoryGiB: 32,
    },
  ],
};

export interface MixedCatalogOptions {
  /** Processors drawn for the catalog: 2 or 3 (always Inferentia and GPU, CPU as the third). */
  processors?: 2 | 3;
  /** Cap some types' `available` below what an unconstrained fleet would use. */
  quotas?: boolean;
}

/**
 * A fleet as real ones look: a few architectures in many fine-tuned copies, each architecture runnable on
 * some processors with its own memory, host memory and per-request cost there; each copy's compute is its
 * own traffic. The catalog is a random subset of each processor's types, always with a one-device and
 * (where the family has one) a multi-device type, so the packer must choose processor and instance size.
 */
export function mixedCatalogProblem(n: number, seed: number, opts: MixedCatalogOptions = {}): PackingProblem {
  const r = seeded(seed);
  const processors = ['inf', 'gpu', ...(opts.processors === 3 ? ['cpu'] : [])];
  const instanceTypes: InstanceType[] = [];
  for (const proc of processors) {
    const pool = catalogPool[proc];
    const single = pool.filter((t) => t.devices === 1);
    const multi = pool.filter((t) => t.devices > 1);
    const chosen = new Set<InstanceType>([single[Math.floor(r() * single.length)]]);
    if (multi.length > 0) chosen.add(multi[Math.floor(r() * multi.length)]);
    for (const t of pool) if (r() < 0.3) chosen.add(t);
    for (const t of chosen) instanceTypes.push({ ...t, device: { ...t.device } });
  }
  const architectures = Array.from({ length: 3 + Math.floor(r() * 6) }, () => {
    const params = 0.1 + r() * r() * 1.5; // GiB of weights: tiny to large
    const demands: Record<string, { memoryGiB: number; compute: number; hostMemoryGiB: number }> = {};
    const runsOnInf = r() < 0.8;
    const runsOnGpu = !runsOnInf || r() < 0.6;
    if (runsOnInf)
      demands.inf = { memoryGiB: params * 1.2, compute: 1 + r() * 12, hostMemoryGiB: 0.2 + params };
    if (runsOnGpu)
      demands.gpu = { memoryGiB: params * 2 + 0.3, compute: 1 + r() * 10, hostMemoryGiB: 0.4 + params };
    if (processors.includes('cpu') && r() < 0.5)
      demands.cpu = {
        memoryGiB: params * 1.5 + 0.2,
        compute: 4 + r() * 40,
        hostMemoryGiB: params * 1.5 + 0.2,
      };
    return demands;
  });
  const models = Array.from({ length: n }, (_, i) => {
    const arch = architectures[Math.floor(r() * architectures.length)];
    const traffic = 0.3 + r() * 1.4;
    const demands: Record<string, { memoryGiB: number; compute: number; hostMemoryGiB: number }> = {};
    for (const [proc, d] of Object.entries(arch))
      demands[proc] = {
        memoryGiB: round3(d.memoryGiB),
        compute: round3(d.compute * traffic),
        hostMemoryGiB: round3(d.hostMemoryGiB),
      };
    return { id: `m-${i}`, demands };
  });
  if (opts.quotas) {
    // Roughly a tenth to a third of what the fleet needs on each capped type, so the cap binds; one type
    // of each processor stays unlimited, as the on-demand pool of a region does.
    const memory = models.reduce(
      (s, m) => s + (m.demands.inf?.memoryGiB ?? m.demands.gpu?.memoryGiB ?? 1),
      0,
    );
    const uncapped = new Set(processors.map((proc) => instanceTypes.find((t) => t.processor === proc)));
    for (const t of instanceTypes)
      if (!uncapped.has(t) && r() < 0.7)
        t.available = Math.max(
          1,
          Math.floor((memory / (t.device.memoryGiB * t.devices)) * (0.1 + 0.25 * r())),
        );
  }
  return { instanceTypes, models };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** `bins` unit bins each filled exactly by three items in both dimensions: optimum = bins, and tight. */
export function tripletItems(bins: number, r: () => number): [number, number][] {
  const items: [number, number][] = [];
  for (let b = 0; b < bins; b++) {
    // Thousandths again: a first part in [.25,.5), a second in [.25, what leaves the third ≥ .25).
    const split = (): number[] => {
      const a = 250 + Math.floor(r() * 250);
      const b2 = 250 + Math.floor(r() * (500 - a));
      return [a / 1000, b2 / 1000, (1000 - a - b2) / 1000];
    };
    const m = split();
    const c = split();
    for (let j = 0; j < 3; j++) items.push([m[j], c[(j + b) % 3]]);
  }
  return items;
}
