/** The packing contract (docs/contracts.md): a PackingProblem goes in, a Placement comes out. */

export interface DeviceSpec {
  memoryGiB: number;
  compute: number;
}

export interface InstanceTypeSpec {
  name: string;
  processor: string;
  pricePerHour: number;
  devices: number;
  device: DeviceSpec;
  hostMemoryGiB?: number;
  available?: number;
  /** Spot capacity is the same instance type at another price and availability; on-demand by default. */
  market?: Market;
}

export type Market = 'on-demand' | 'spot';

/** What tells two catalog entries apart: the instance type's name and its market. */
export const typeKey = (t: { name: string; market?: Market }): string =>
  t.market === 'spot' ? `${t.name} (spot)` : t.name;

export interface ModelDemand {
  memoryGiB: number;
  compute: number;
  hostMemoryGiB?: number;
}

export interface ModelSpec {
  id: string;
  demands: Record<string, ModelDemand>;
}

export interface PackingLimits {
  memoryFraction?: number;
  computeFraction?: number;
  /** At most this share of the fleet's devices on spot instances (none by default). */
  maxSpotFraction?: number;
}

export interface PackingProblem {
  instanceTypes: InstanceTypeSpec[];
  models: ModelSpec[];
  limits?: PackingLimits;
  previous?: Placement;
  maxMoves?: number;
  timeLimitMs?: number;
}

export interface PlacedInstance {
  type: string;
  /** Present for spot instances only. */
  market?: 'spot';
  devices: string[][];
}

export interface Placement {
  costPerHour: number;
  lowerBoundPerHour: number;
  instances: PlacedInstance[];
  unplaced: { id: string; reason: string }[];
  moves?: number;
  stats: { elapsedMs: number; algorithm: string };
}

/** The post's 7.4 GB of an 8 GB device and its 83% compute ceiling. */
export const DEFAULT_MEMORY_FRACTION = 0.925;
export const DEFAULT_COMPUTE_FRACTION = 0.83;
