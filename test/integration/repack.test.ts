import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { createServerActivities, isServerAlive } from '../../activities/load/servers';
import { openArtifactStore } from '../../src/artifacts/store';
import {
  createRepackSchedule,
  deleteSchedule,
  describeSchedule,
  ScheduleNotFoundError,
} from '../../src/client/schedules';
import {
  type FleetServer,
  type FleetState,
  type RepackInputJson,
  type RepackResult,
  runKeyOf,
} from '../../src/domain/repack';
import { STOWAGE_TASK_QUEUE } from '../../src/domain/task-queues';
import { makeTinyModels } from '../../src/dev/tiny-models';
import { addModel, removeModel } from '../../src/inventory';
import { repackProgressQuery } from '../../workflows/repack';
import { recordHistory } from '../support/histories';
import { testPaths, testStack } from '../support/stack';

async function waitFor(check: () => Promise<boolean>, intervalMs = 1000): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, intervalMs));
}

async function eventsOf(handle: WorkflowHandle) {
  return (await handle.fetchHistory()).events ?? [];
}

async function activityTypes(handle: WorkflowHandle): Promise<string[]> {
  return (await eventsOf(handle))
    .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
    .filter((n): n is string => Boolean(n));
}

async function childTypes(handle: WorkflowHandle): Promise<string[]> {
  return (await eventsOf(handle))
    .map((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name)
    .filter((n): n is string => Boolean(n));
}

const serverKey = (s: FleetServer) => `${s.deploymentId}/${s.device}`;

/**
 * Scheduled re-packing on the real stack: an initial repack deploys the inventory; one model is added;
 * a Temporal Schedule with a short interval then runs `repack` twice: the first run rolls out only the
 * changed device, the second finds nothing to do and touches nothing.
 */
describe('repack workflow and its schedule', function () {
  this.timeout(1_200_000);
  const suffix = randomUUID().slice(0, 8);
  const fleet = `rp-${suffix}`;
  const inventory = `inventory/repack-${suffix}.json`;
  const scheduleId = `rp-${suffix}`;
  // Devices just over one tiny model's measured memory (about 2.5 MB): one model each, so adding a
  // model adds a device and leaves the others alone.
  const catalog = [
    {
      name: 'test-cpu',
      processor: 'cpu' as const,
      pricePerHour: 0.17,
      devices: 6,
      device: { memoryGiB: 0.0049, compute: 1 },
      available: 1,
    },
  ];
  const common: RepackInputJson = {
    name: fleet,
    inventory,
    catalog,
    trace: { sequenceLength: 32 },
    packTimeLimitMs: 2000,
  };
  const deployments = new Set<string>();
  let sources: string[];
  let initialState: FleetState;

  const store = () => openArtifactStore(testPaths().artifacts);
  const fleetState = async () => store().readJson<FleetState>(`fleet/${fleet}/current.json`);

  before(async () => {
    await testStack();
    sources = await makeTinyModels(testPaths(), {
      out: path.join(testPaths().artifacts, 'repack-sources'),
      count: 4,
      prefix: 'rp',
    });
    for (const i of [0, 1, 2]) await addModel(store(), { id: `rp-${i}`, source: sources[i] }, inventory);
  });

  after(async () => {
    const stack = await testStack();
    await deleteSchedule(stack.client, scheduleId).catch((err: unknown) => {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    });
    const servers = createServerActivities(testPaths(), store());
    for (const runId of deployments) await servers.stopModelServers({ runId });
  });

  it('deploys the whole inventory on the first run of a fleet', async () => {
    const stack = await testStack();
    const handle = await stack.client.workflow.start('repack', {
      taskQueue: STOWAGE_TASK_QUEUE,
      workflowId: `repack-initial-${suffix}`,
      args: [common],
    });
    deployments.add(handle.workflowId);
    const result = (await handle.result()) as RepackResult;
    recordHistory(handle, stack.temporal.address, 'repack-initial');

    assert.equal(result.decision, 'initial');
    assert.equal(result.costBefore, null);
    assert.equal(result.costAfter, 0.17);
    assert.equal(result.moves, 3);
    assert.equal(result.keptServers, 0);
    assert.equal(result.retiredServers, 0);
    assert.ok(result.changedDevices >= 1);
    assert.equal(result.smokeTest?.failures, 0);
    assert.equal(result.smokeTest?.requests, 3, 'the smoke test asked each model once');
    assert.deepEqual(await childTypes(handle), ['traceModels']);

    initialState = await fleetState();
    assert.equal(initialState.servers.length, result.changedDevices);
    assert.deepEqual(initialState.servers.flatMap((s) => s.models).sort(), ['rp-0', 'rp-1', 'rp-2']);
    for (const s of initialState.servers) assert.ok(isServerAlive(s.pid), `server ${s.pid} runs`);
    assert.equal((await handle.query(repackProgressQuery)).stage, 'done');
    const described = await handle.describe();
    assert.equal(described.searchAttributes.StowageStage?.[0], 'repack-initial');
    assert.equal(described.searchAttributes.StowageRuntime?.[0], 'local');
  });

  it('on a schedule: rolls out only the changed device after an inventory change, then changes nothing', async () => {
    const stack = await testStack();
    await addModel(store(), { id: 'rp-3', source: sources[3] }, inventory);
    const created = await createRepackSchedule(stack.client, { id: scheduleId, every: '15s', ...common });
    assert.equal(created.every, '15s');
    assert.equal(created.paused, false);

    let runs: string[] = [];
    try {
      await waitFor(async () => {
        runs = (await describeSchedule(stack.client, scheduleId)).recentRuns.map((r) => r.workflowId);
        return runs.length >= 2;
      });
      runs = runs.slice(-2); // recent runs come newest first: the two oldest, in start order
      runs.reverse();
      for (const id of runs) deployments.add(runKeyOf(id));
      // Overlap policy SKIP: the second run can only start once the first has ended.
      await stack.client.workflow.getHandle(runs[1]).result();
    } finally {
      await deleteSchedule(stack.client, scheduleId);
    }
    const [firstHandle, secondHandle] = runs.map((id) => stack.client.workflow.getHandle(id));
    const first = (await firstHandle.result()) as RepackResult;
    const second = (await secondHandle.result()) as RepackResult;
    recordHistory(firstHandle, stack.temporal.address, 'repack-scheduled-rolled-out');
    recordHistory(secondHandle, stack.temporal.address, 'repack-scheduled-no-change');

    // The first run: the new model is traced, placed and served; unchanged servers keep their process.
    assert.equal(first.decision, 'rolled-out', first.reason);
    assert.match(first.reason, /inventory changed/);
    assert.equal(first.added, 1);
    assert.ok(first.moves >= 1);
    assert.ok(first.changedDevices >= 1);
    assert.ok(first.keptServers >= 1, 'at least one device kept its models');
    assert.equal(first.smokeTest?.failures, 0);
    assert.deepEqual(await childTypes(firstHandle), ['traceModels']);
    const afterFirst = await fleetState();
    assert.deepEqual(afterFirst.servers.flatMap((s) => s.models).sort(), ['rp-0', 'rp-1', 'rp-2', 'rp-3']);
    const before = new Map(initialState.servers.map((s) => [serverKey(s), s]));
    const kept = afterFirst.servers.filter((s) => before.has(serverKey(s)));
    assert.equal(kept.length, first.keptServers);
    for (const s of kept) {
      assert.equal(s.pid, before.get(serverKey(s))!.pid, `server ${serverKey(s)} kept its pid`);
      assert.ok(isServerAlive(s.pid));
    }
    const retired = initialState.servers.filter((s) => !afterFirst.servers.some((a) => a.pid === s.pid));
    assert.equal(retired.length, first.retiredServers);
    for (const s of retired) assert.equal(isServerAlive(s.pid), false, `replaced server ${s.pid} stopped`);
    assert.equal(
      afterFirst.servers.filter((s) => s.deploymentId === runKeyOf(runs[0])).length,
      first.changedDevices,
      'the run started one server per changed device',
    );

    // The second run: same inventory, same demands: nothing traced, nothing started, nothing stopped.
    assert.equal(second.decision, 'no-change', second.reason);
    assert.equal(second.moves, 0);
    assert.equal(second.changedDevices, 0);
    assert.equal(second.retiredServers, 0);
    assert.equal(second.costAfter, first.costAfter);
    assert.equal(second.placement, first.placement);
    assert.deepEqual(await childTypes(secondHandle), []);
    const secondActivities = await activityTypes(secondHandle);
    for (const forbidden of ['startModelServers', 'stopModelServerDevices', 'runSequentialTest'])
      assert.ok(!secondActivities.includes(forbidden), `${forbidden} did not run`);
    const afterSecond = await fleetState();
    assert.deepEqual(
      afterSecond.servers.map((s) => [serverKey(s), s.pid]),
      afterFirst.servers.map((s) => [serverKey(s), s.pid]),
    );
    for (const s of afterSecond.servers) assert.ok(isServerAlive(s.pid));
    const record = JSON.parse(
      fs.readFileSync(path.join(testPaths().artifacts, 'runs', runKeyOf(runs[1]), 'repack.json'), 'utf8'),
    ) as RepackResult;
    assert.equal(record.decision, 'no-change');
    const described = await secondHandle.describe();
    assert.equal(described.searchAttributes.StowageRuntime?.[0], 'local', 'the schedule sets the runtime');
  });

  it('retires the server of a removed model after the new state is recorded, keeping the others', async () => {
    const stack = await testStack();
    const before = await fleetState();
    await removeModel(store(), 'rp-1', inventory);
    const handle = await stack.client.workflow.start('repack', {
      taskQueue: STOWAGE_TASK_QUEUE,
      workflowId: `repack-removed-${suffix}`,
      args: [common],
    });
    deployments.add(handle.workflowId);
    const result = (await handle.result()) as RepackResult;
    recordHistory(handle, stack.temporal.address, 'repack-model-removed');

    assert.equal(result.decision, 'rolled-out', result.reason);
    assert.equal(result.removed, 1);
    assert.ok(result.retiredServers >= 1);
    assert.deepEqual(await childTypes(handle), [], 'nothing new to trace');
    const activities = await activityTypes(handle);
    assert.ok(
      activities.indexOf('commitRepack') < activities.indexOf('stopModelServerDevices'),
      'the state stops naming a server before it is stopped',
    );
    const after = await fleetState();
    assert.deepEqual(after.servers.flatMap((s) => s.models).sort(), ['rp-0', 'rp-2', 'rp-3']);
    const gone = before.servers.filter((s) => !after.servers.some((a) => a.pid === s.pid));
    assert.equal(gone.length, result.retiredServers);
    assert.ok(gone.some((s) => s.models.includes('rp-1')));
    for (const s of gone) assert.equal(isServerAlive(s.pid), false, `retired server ${s.pid} stopped`);
    for (const s of after.servers) assert.ok(isServerAlive(s.pid), `server ${s.pid} serves`);
    assert.equal(
      after.servers.filter((s) => s.deploymentId !== runKeyOf(handle.workflowId)).length,
      result.keptServers,
    );
  });

  it('rolls out for a cheaper placement only when it saves the share asked for', async () => {
    const stack = await testStack();
    const before = await fleetState();
    // The same devices on a cheaper instance type: a 41% saving with nothing to restart.
    const cheaper = [...catalog, { ...catalog[0], name: 'test-cpu-b', pricePerHour: 0.1 }];
    const run = async (minSavingsFraction: number, tag: string) => {
      const handle = await stack.client.workflow.start('repack', {
        taskQueue: STOWAGE_TASK_QUEUE,
        workflowId: `repack-${tag}-${suffix}`,
        args: [{ ...common, catalog: cheaper, minSavingsFraction }],
      });
      deployments.add(handle.workflowId);
      return (await handle.result()) as RepackResult;
    };

    const held = await run(0.5, 'held');
    assert.equal(held.decision, 'no-change', held.reason);
    assert.match(held.reason, /saves only 41\.2% \(50\.0% asked\)/);
    assert.equal(held.costAfter, 0.17);
    assert.equal(held.placement, before.placementKey);
    assert.equal((await fleetState()).placementKey, before.placementKey);

    const taken = await run(0.2, 'taken');
    assert.equal(taken.decision, 'rolled-out', taken.reason);
    assert.match(taken.reason, /saves 41\.2%/);
    assert.equal(taken.costBefore, 0.17);
    assert.equal(taken.costAfter, 0.1);
    assert.equal(taken.changedDevices, 0);
    assert.equal(taken.retiredServers, 0);
    const after = await fleetState();
    assert.equal(after.costPerHour, 0.1);
    assert.notEqual(after.placementKey, before.placementKey);
    assert.deepEqual(
      after.servers.map((s) => s.pid),
      before.servers.map((s) => s.pid),
      'the same device groups keep their servers',
    );
  });

  it('rejects bad input with every problem before any activity', async () => {
    const stack = await testStack();
    const handle = await stack.client.workflow.start('repack', {
      taskQueue: STOWAGE_TASK_QUEUE,
      workflowId: `repack-bad-${suffix}`,
      args: [{ inventory: '../../etc/passwd', name: 'Bad Name', maxMoves: -1, extra: 1 }],
    });
    const err = await handle.result().then(
      () => assert.fail('bad input must fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure);
    assert.equal(err.cause.type, 'InvalidInput');
    for (const pointer of ['/inventory', '/name', '/maxMoves'])
      assert.match(err.cause.message, new RegExp(pointer));
    assert.match(err.cause.message, /extra/);
    assert.deepEqual(await activityTypes(handle), []);
    recordHistory(handle, stack.temporal.address, 'repack-invalid-input');
  });
});
