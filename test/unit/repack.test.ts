import assert from 'node:assert/strict';
import { decideRepack, type FleetServer, parseRepackInput, planFleetChange } from '../../src/domain/repack';
import { C5_XLARGE } from '../support/catalogs';

const server = (deploymentId: string, device: number, models: string[], alive = true) => ({
  deploymentId,
  device,
  url: `http://127.0.0.1:${9000 + device}`,
  pid: 1000 + device,
  models,
  alive,
});

describe('repack decisions (pure)', () => {
  const base = {
    hasFleet: true,
    inventoryChanged: false,
    costBefore: 10,
    costAfter: 10,
    minSavingsFraction: 0.05,
    deadServers: 0,
  };

  it('deploys everything when there is no fleet yet', () => {
    assert.equal(decideRepack({ ...base, hasFleet: false, costBefore: null }).decision, 'initial');
  });

  it('rolls out on an inventory change even at no saving', () => {
    assert.deepEqual(decideRepack({ ...base, inventoryChanged: true, costAfter: 11 }), {
      decision: 'rolled-out',
      reason: 'the inventory changed',
    });
  });

  it('rolls out for a saving of at least the threshold, not below it', () => {
    assert.equal(decideRepack({ ...base, costAfter: 9.5 }).decision, 'rolled-out');
    assert.equal(decideRepack({ ...base, costAfter: 9.51 }).decision, 'no-change');
    assert.match(decideRepack({ ...base, costAfter: 9.51 }).reason, /saves only 4\.9%/);
    assert.equal(decideRepack({ ...base, costAfter: 10 }).decision, 'no-change');
    assert.equal(decideRepack({ ...base, costAfter: 12 }).decision, 'no-change');
  });

  it('a zero threshold still needs a real saving', () => {
    assert.equal(decideRepack({ ...base, minSavingsFraction: 0 }).decision, 'no-change');
    assert.equal(decideRepack({ ...base, minSavingsFraction: 0, costAfter: 9.99 }).decision, 'rolled-out');
  });

  it('replaces servers that are gone', () => {
    assert.match(decideRepack({ ...base, deadServers: 2 }).reason, /2 fleet server\(s\)/);
  });
});

describe('planning a partial rollout (pure)', () => {
  const ids = (list: FleetServer[]) => list.map((s) => `${s.deploymentId}/${s.device}`);

  it('keeps every server whose device holds exactly its models, in any order or index', () => {
    const current = [server('r1', 0, ['a', 'b']), server('r1', 1, ['c'])];
    const change = planFleetChange(current, [['c'], ['b', 'a'], ['d']], new Set(['d']));
    assert.deepEqual(ids(change.keep), ['r1/1', 'r1/0']);
    assert.deepEqual(change.start, [['d']]);
    assert.deepEqual(change.retire, []);
  });

  it('restarts a device whose models changed and retires the server it replaces', () => {
    const current = [server('r1', 0, ['a', 'b']), server('r2', 0, ['c'])];
    const change = planFleetChange(current, [['a'], ['b', 'c']], new Set());
    assert.deepEqual(change.keep, []);
    assert.deepEqual(change.start, [['a'], ['b', 'c']]);
    assert.deepEqual(ids(change.retire), ['r1/0', 'r2/0']);
  });

  it('replaces a dead server and one that serves a model traced afresh', () => {
    const current = [server('r1', 0, ['a']), server('r1', 1, ['b'], false), server('r1', 2, ['c'])];
    const change = planFleetChange(current, [['a'], ['b'], ['c']], new Set(['c']));
    assert.deepEqual(ids(change.keep), ['r1/0']);
    assert.deepEqual(change.start, [['b'], ['c']]);
    assert.deepEqual(ids(change.retire), ['r1/1', 'r1/2']);
    assert.equal('alive' in change.keep[0], false);
  });

  it('ignores idle devices and retires servers of removed models', () => {
    const current = [server('r1', 0, ['a']), server('r1', 1, ['gone'])];
    const change = planFleetChange(current, [['a'], []], new Set());
    assert.deepEqual(change.start, []);
    assert.deepEqual(ids(change.retire), ['r1/1']);
  });
});

describe('repack input', () => {
  it('fills defaults', () => {
    const parsed = parseRepackInput({});
    assert.ok(parsed.ok);
    assert.equal(parsed.input.inventory, 'inventory/models.json');
    assert.equal(parsed.input.name, 'fleet');
    assert.equal(parsed.input.minSavingsFraction, 0.05);
    assert.deepEqual(parsed.input.processors, ['cpu']);
  });

  it('lists every problem', () => {
    const parsed = parseRepackInput({
      inventory: '/etc/passwd',
      name: 'x y',
      minSavingsFraction: -1,
      maxMoves: 1.5,
      runtime: 'mainframe',
      processors: ['gpu'],
      catalog: [C5_XLARGE],
      surprise: true,
    });
    assert.ok(!parsed.ok);
    const text = parsed.problems.join('\n');
    for (const pointer of [
      '/inventory',
      '/name',
      '/minSavingsFraction',
      '/maxMoves',
      '/runtime',
      '/processors/0',
    ])
      assert.match(text, new RegExp(`^${pointer}: `, 'm'), pointer);
    assert.match(text, /surprise/);
    assert.deepEqual(parseRepackInput('x'), {
      ok: false,
      problems: ['/: the repack input must be one JSON object'],
    });
  });
});
