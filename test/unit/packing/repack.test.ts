import assert from 'node:assert/strict';
import { checkPlacement, pack } from '../../../src/packing';
import { randomCatalogProblem } from './fixtures';

describe('stable re-packing', () => {
  it('moves nothing when nothing changed', async () => {
    const problem = randomCatalogProblem(150, 21);
    const first = await pack({ ...problem, timeLimitMs: 500 });
    const again = await pack({ ...problem, previous: first, maxMoves: 0, timeLimitMs: 300 });
    assert.equal(again.moves, 0);
    assert.deepEqual(again.instances, first.instances);
    assert.deepEqual(checkPlacement(problem, again), []);
  });

  it('honours maxMoves after models are added and removed', async () => {
    const problem = randomCatalogProblem(200, 22);
    const first = await pack({ ...problem, timeLimitMs: 500 });
    const changed = {
      ...problem,
      models: [
        ...problem.models.slice(30),
        ...randomCatalogProblem(20, 23).models.map((m) => ({ ...m, id: `new-${m.id}` })),
      ],
    };
    for (const maxMoves of [0, 5]) {
      const next = await pack({ ...changed, previous: first, maxMoves, timeLimitMs: 400 });
      assert.ok(next.moves !== undefined && next.moves <= maxMoves, `moves ${next.moves} > ${maxMoves}`);
      assert.deepEqual(checkPlacement(changed, next), []);
      const before = new Map(
        first.instances.flatMap((inst, k) =>
          inst.devices.flatMap((ids, d) => ids.map((id) => [id, `${k}/${d}`] as const)),
        ),
      );
      // Each device continues at most one previous device, the one it shares the most models with
      // (greedy, largest overlaps first); every other model on it has moved.
      const overlaps: { device: string; home: string; count: number }[] = [];
      let previouslyPlaced = 0;
      next.instances.forEach((inst, k) =>
        inst.devices.forEach((ids, d) => {
          const counts = new Map<string, number>();
          for (const id of ids) {
            const home = before.get(id);
            if (home === undefined) continue;
            previouslyPlaced++;
            counts.set(home, (counts.get(home) ?? 0) + 1);
          }
          for (const [home, count] of counts) overlaps.push({ device: `${k}/${d}`, home, count });
        }),
      );
      overlaps.sort((a, b) => b.count - a.count);
      const continued = new Set<string>();
      const claimed = new Set<string>();
      let stayed = 0;
      for (const { device, home, count } of overlaps) {
        if (continued.has(device) || claimed.has(home)) continue;
        continued.add(device);
        claimed.add(home);
        stayed += count;
      }
      const moved = previouslyPlaced - stayed;
      assert.ok(moved <= maxMoves, `${moved} models changed device against maxMoves ${maxMoves}`);
    }
  });
});
