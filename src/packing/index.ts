/** The packing engine's library API: the CLI prints exactly what `pack` returns. */
export { pack, defaultTimeLimitMs } from './solve';
export { checkPlacement } from './check';
export { typeKey, DEFAULT_COMPUTE_FRACTION } from './types';
export { validatePackingProblem, assertValidPackingProblem, PackingInputError } from './validate';
export type {
  PackingProblem,
  Placement,
  InstanceTypeSpec,
  ModelSpec,
  ModelDemand,
  PlacedInstance,
  Market,
} from './types';
