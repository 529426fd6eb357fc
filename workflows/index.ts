export { doctor } from './doctor';
export { loadSweep } from './load-sweep';
export { traceModels } from './trace-models';
export { pipeline } from './pipeline';
export { rollout } from './rollout';
export { repack } from './repack';
export { calibrate } from './calibrate';
