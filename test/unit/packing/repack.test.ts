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
      let moved = 0;
      next.instances.forEach((inst) =>
        inst.devices.forEach((ids) => {
          const homes = ids.map((id) => before.get(id)).filter((h) => h !== undefined);
          const main = homes.sort().find((h, _, all) => all.filter((x) => x === h).length * 2 > all.length);
          moved += homes.filter((h) => h !== main).length;
        }),
      );
      assert.ok(moved <= maxMoves, `${moved} models changed device against maxMoves ${maxMoves}`);
    }
  });
});
