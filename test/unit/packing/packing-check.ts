import assert from 'node:assert/strict';
import { within, type Prepared } from '../../../src/packing/prepare';
import type { Packing } from '../../../src/packing/state';

/** Recomputes every device's and host's load from the model lists alone. */
export function assertFeasible(p: Prepared, pk: Packing): void {
  const seen = new Set<number>();
  for (const bin of pk.bins) {
    const ty = p.types[bin.type];
    let host = 0;
    bin.items.forEach((models, d) => {
      let mem = 0;
      let cpu = 0;
      for (const i of models) {
        assert.ok(!seen.has(i), `model ${i} placed twice`);
        seen.add(i);
        const k = i * p.T + bin.type;
        assert.ok(!Number.isNaN(p.mem[k]), `model ${i} on a type it cannot run on`);
        mem += p.mem[k];
        cpu += p.cpu[k];
        host += p.host[k];
      }
      assert.ok(within(mem, ty.memory) && within(cpu, ty.compute), `device ${d} of a ${ty.name} overfull`);
    });
    assert.ok(within(host, ty.host), `host of a ${ty.name} overfull`);
  }
  assert.equal(seen.size, p.placeable.length, 'every placeable model placed');
}
