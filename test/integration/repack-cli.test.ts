import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { deleteSchedule, ScheduleNotFoundError, type ScheduleSummary } from '../../src/client/schedules';
import { projectPaths } from '../../src/config/paths';
import { toolPath } from '../../src/dev/tools';
import { runCli, type CliResult } from '../support/cli';
import { testPaths, testStack, testStateDir } from '../support/stack';

/** `stowage schedule …` and `stowage models …` as a user runs them: the real CLI in its own process. */
describe('stowage schedule and models commands', function () {
  this.timeout(300_000);
  const suffix = randomUUID().slice(0, 8);
  const scheduleId = `cli-${suffix}`;
  const inventory = `inventory/cli-${suffix}.json`;
  let address: string;

  const cli = (args: string[]) => runCli(args, { STOWAGE_STATE_DIR: testStateDir() });
  const temporal = () => ['--temporal-address', address];

  function ok(result: CliResult): CliResult {
    assert.equal(result.code, 0, `exit 0 expected, stderr:\n${result.stderr}`);
    return result;
  }

  function failsWith(result: CliResult, pattern: RegExp): void {
    assert.equal(result.code, 1, `exit 1 expected, got ${result.code}: ${result.stdout}${result.stderr}`);
    assert.match(result.stderr, pattern);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  }

  async function describeJson(): Promise<ScheduleSummary> {
    return JSON.parse(ok(await cli(['schedule', 'describe', scheduleId, '--json', ...temporal()])).stdout);
  }

  before(async () => {
    address = (await testStack()).temporal.address;
  });

  after(async () => {
    await deleteSchedule((await testStack()).client, scheduleId).catch((err: unknown) => {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    });
  });

  it('models add, list and remove edit the inventory; bad edits change nothing', async () => {
    const file = path.join(testPaths().artifacts, ...inventory.split('/'));
    const added = JSON.parse(
      ok(await cli(['models', 'add', 'm-a', './models/a', '--inventory', inventory, '--json'])).stdout,
    ) as { models: number; sha256: string };
    assert.equal(added.models, 1);
    ok(await cli(['models', 'add', 'm-b', 'bert-base-uncased', '--inventory', inventory]));
    const before = fs.readFileSync(file, 'utf8');

    failsWith(
      await cli(['models', 'add', 'm-a', './x', '--inventory', inventory]),
      /already in the inventory/,
    );
    failsWith(await cli(['models', 'add', '../evil', './x', '--inventory', inventory]), /\/id: must be/);
    failsWith(
      await cli(['models', 'add', 'm-c', './x', '--inventory', '../../etc/passwd']),
      /invalid segment/,
    );
    failsWith(await cli(['models', 'remove', 'm-zz', '--inventory', inventory]), /not in the inventory/);
    assert.equal(fs.readFileSync(file, 'utf8'), before);

    const listed = JSON.parse(
      ok(await cli(['models', 'list', '--inventory', inventory, '--json'])).stdout,
    ) as {
      models: { id: string; source: string }[];
    };
    assert.deepEqual(listed.models, [
      { id: 'm-a', source: './models/a' },
      { id: 'm-b', source: 'bert-base-uncased' },
    ]);
    assert.match(
      ok(await cli(['models', 'list', '--inventory', inventory])).stdout,
      /m-b.*bert-base-uncased/,
    );

    ok(await cli(['models', 'remove', 'm-a', '--inventory', inventory]));
    const after = JSON.parse(fs.readFileSync(file, 'utf8')) as { models: { id: string }[] };
    assert.deepEqual(
      after.models.map((m) => m.id),
      ['m-b'],
    );
  });

  it('schedule create, list, pause, unpause, trigger, backfill and delete', async () => {
    const stack = await testStack();
    // An inventory that does not exist: a triggered run fails at once, deploying nothing.
    const missing = `inventory/none-${suffix}.json`;
    failsWith(
      await cli(['schedule', 'create', '--every', '0s', '--id', scheduleId, ...temporal()]),
      /\/every: must be a whole number/,
    );
    const created = JSON.parse(
      ok(
        await cli([
          'schedule',
          'create',
          '--every',
          '1h',
          '--id',
          scheduleId,
          '--inventory',
          missing,
          '--paused',
          '--json',
          ...temporal(),
        ]),
      ).stdout,
    ) as ScheduleSummary;
    assert.equal(created.id, scheduleId);
    assert.equal(created.every, '1h');
    assert.equal(created.paused, true);
    failsWith(
      await cli(['schedule', 'create', '--every', '1h', '--id', scheduleId, ...temporal()]),
      /already exists/,
    );

    // The list comes from the server's visibility store, which may lag a create by a moment.
    let listed: ScheduleSummary[] = [];
    for (let i = 0; i < 30 && !listed.some((s) => s.id === scheduleId); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 1000));
      listed = JSON.parse(ok(await cli(['schedule', 'list', '--json', ...temporal()])).stdout);
    }
    assert.ok(listed.some((s) => s.id === scheduleId && s.every === '1h'));

    ok(await cli(['schedule', 'unpause', scheduleId, ...temporal()]));
    const active = await describeJson();
    assert.equal(active.paused, false);
    assert.ok(
      active.nextRunAt && Date.parse(active.nextRunAt) > Date.now(),
      'an active schedule has a next run',
    );
    ok(await cli(['schedule', 'pause', scheduleId, '--note', 'maintenance window', ...temporal()]));
    const paused = await describeJson();
    assert.equal(paused.paused, true);
    assert.equal(paused.note, 'maintenance window');

    ok(await cli(['schedule', 'trigger', scheduleId, ...temporal()]));
    let runs: ScheduleSummary['recentRuns'] = [];
    for (let i = 0; i < 60 && runs.length === 0; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 1000));
      runs = (await describeJson()).recentRuns;
    }
    assert.equal(runs.length, 1, 'the trigger started one run');
    assert.match(runs[0].workflowId, new RegExp(`^repack-${scheduleId}-`));
    const err = await stack.client.workflow
      .getHandle(runs[0].workflowId)
      .result()
      .then(
        () => assert.fail('a run on a missing inventory must fail'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof WorkflowFailedError);
    const cause = err.cause?.cause ?? err.cause;
    assert.ok(cause instanceof ApplicationFailure);
    assert.match(cause.message, /does not exist: add models with `stowage models add/);

    failsWith(
      await cli([
        'schedule',
        'backfill',
        scheduleId,
        '--from',
        '2026-01-02T00:00:00Z',
        '--to',
        '2026-01-01T00:00:00Z',
        ...temporal(),
      ]),
      /\/to: must be after from/,
    );
    failsWith(
      await cli(['schedule', 'backfill', scheduleId, '--from', 'yesterday', '--to', 'now', ...temporal()]),
      /--from "yesterday" is not a time/,
    );
    ok(
      await cli([
        'schedule',
        'backfill',
        scheduleId,
        '--from',
        '2026-01-01T00:00:00Z',
        '--to',
        '2026-01-01T00:30:00Z',
        ...temporal(),
      ]),
    );

    const deleted = JSON.parse(
      ok(await cli(['schedule', 'delete', scheduleId, '--json', ...temporal()])).stdout,
    );
    assert.deepEqual(deleted, { id: scheduleId, deleted: true });
    for (const command of ['describe', 'pause', 'trigger', 'delete'])
      failsWith(await cli(['schedule', command, scheduleId, ...temporal()]), /no schedule with id/);
  });
  it('schedule create --input gives every run the repack input of a file, flags winning', async () => {
    const stack = await testStack();
    const id = `cli-in-${suffix}`;
    const example = path.join(projectPaths().root, 'examples', 'repack.local.json');
    ok(
      await cli([
        'schedule',
        'create',
        '--every',
        '6h',
        '--id',
        id,
        '--input',
        example,
        '--inventory',
        `inventory/in-${suffix}.json`,
        '--max-moves',
        '2',
        '--paused',
        ...temporal(),
      ]),
    );
    try {
      const described = await stack.client.schedule.getHandle(id).describe();
      const expected = JSON.parse(fs.readFileSync(example, 'utf8')) as { trace: object };
      // The spec is stored as validated: trace options carry their defaults.
      const trace = { ...expected.trace, pipelineCores: 1, precision: 'auto' };
      assert.deepEqual(described.action.args, [
        { ...expected, trace, inventory: `inventory/in-${suffix}.json`, maxMoves: 2 },
      ]);
      assert.equal(described.policies.overlap, 'SKIP');
      assert.equal(described.policies.catchupWindow, 600_000);
    } finally {
      await deleteSchedule(stack.client, id);
    }
    const bad = path.join(testStateDir(), `bad-repack-${suffix}.json`);
    fs.writeFileSync(bad, JSON.stringify({ name: 'x', colour: 'red', trace: { sequenceLength: 0 } }));
    const refused = await cli([
      'schedule',
      'create',
      '--every',
      '6h',
      '--id',
      `cli-bad-${suffix}`,
      '--input',
      bad,
      ...temporal(),
    ]);
    failsWith(refused, /^\/trace\/sequenceLength: /m);
    assert.match(refused.stderr, /Unrecognized key\(s\) in object: 'colour'/);
  });

  it('the official temporal CLI starts repack by type name with the example JSON', async () => {
    const stack = await testStack();
    const example = JSON.parse(
      fs.readFileSync(path.join(projectPaths().root, 'examples', 'repack.local.json'), 'utf8'),
    ) as Record<string, unknown>;
    // An inventory this test run never writes: the run must parse the example and get as far as reading it.
    const file = path.join(testStateDir(), `repack-example-${suffix}.json`);
    fs.writeFileSync(file, JSON.stringify({ ...example, inventory: `inventory/example-${suffix}.json` }));
    const workflowId = `official-cli-repack-${suffix}`;
    execFileSync(toolPath(projectPaths(), 'temporal'), [
      'workflow',
      'start',
      '--task-queue',
      'stowage',
      '--type',
      'repack',
      '--workflow-id',
      workflowId,
      '--input-file',
      file,
      '--address',
      address,
    ]);
    const handle = stack.client.workflow.getHandle(workflowId);
    const err = await handle.result().then(
      () => assert.fail('a run on a missing inventory must fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(
      String((err.cause?.cause as Error | undefined)?.message),
      new RegExp(`inventory/example-${suffix}.json does not exist`),
    );
    assert.equal((await handle.describe()).searchAttributes.StowageRuntime?.[0], 'local');
  });
});
