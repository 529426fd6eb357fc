export { doctor } from './doctor';
export { loadSweep } from './load-sweep';
