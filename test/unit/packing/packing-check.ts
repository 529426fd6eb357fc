import assert from 'node:assert/strict';
import { checkPlacement, type PackingProblem } from '../../../src/packing';
import type { Packing } from '../../../src/packing/state';

/**
 * A heuristic's packing, checked by the project's independent checker (`checkPlacement`) as a placement
 * with every model placed: caps per device and host, processors, each model exactly once.
 */
export function assertFeasible(problem: PackingProblem, pk: Packing): void {
  const p = pk.p;
  const bins = pk.bins.filter((b) => b.size > 0);
  const violations = checkPlacement(problem, {
    costPerHour: pk.cost(),
    lowerBoundPerHour: 0,
    instances: bins.map((b) => ({
      type: p.types[b.type].name,
      devices: b.items.map((ids) => ids.map((i) => p.ids[i])),
    })),
    unplaced: [],
    stats: { elapsedMs: 0, algorithm: 'test' },
  });
  assert.deepEqual(violations, []);
}
