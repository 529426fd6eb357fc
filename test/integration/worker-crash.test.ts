import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { PipelineProgress, PipelineResult } from '../../src/domain/pipeline';
import { makeTinyModels } from '../../src/dev/tiny-models';
import { STOWAGE_TASK_QUEUE } from '../../src/domain/task-queues';
import { progressQuery } from '../../workflows/pipeline';
import { killServers, recordedServers, traceFolders, waitFor } from '../support/fleet-state';
import { OwnStack } from '../support/own-stack';
import { isAlive } from '../support/processes';
import { activityAttempts, completedTraces, eventsOf, startedChildren, tally } from '../support/run-history';

/**
 * The TypeScript worker SIGKILLed mid-pipeline. It runs in-process in the shared test stack, so these
 * tests have a stack of their own where the worker is a separate `stowage worker` process.
 */
describe('pipeline: the TypeScript worker is SIGKILLed mid-run', function () {
  this.timeout(600_000);
  let stack: OwnStack;
  const runs: string[] = [];

  before(async () => {
    stack = await OwnStack.start({ name: 'crash' });
  });

  // A worker left from an earlier test would pick up the next run's tasks and dodge its kill.
  afterEach(() => stack?.killTsWorkers());

  after(async () => {
    if (!stack) return;
    for (const runId of runs) killServers(recordedServers(stack.paths.state, runId));
    await stack.stop();
  });

  async function start(prefix: string): Promise<{ handle: WorkflowHandle; ids: string[] }> {
    const sources = await makeTinyModels(stack.paths, {
      out: path.join(stack.paths.artifacts, `${prefix}-sources`),
      count: 2,
      prefix,
    });
    const ids = sources.map((_, i) => `${prefix}-${i}`);
    const handle = await stack.client.workflow.start('pipeline', {
      taskQueue: STOWAGE_TASK_QUEUE,
      workflowId: `${prefix}-pipeline`,
      args: [
        {
          name: prefix,
          models: sources.map((source, i) => ({ id: ids[i], source })),
          trace: { sequenceLength: 32 },
          loadTest: { stepSeconds: 2, maxSteps: 2 },
        },
      ],
    });
    runs.push(handle.workflowId);
    return { handle, ids };
  }

  const stageOf = async (handle: WorkflowHandle) =>
    (await handle.query(progressQuery).catch(() => undefined))?.stage;

  it('completes on a restarted worker, with each trace batch and the deploy run once', async () => {
    const first = stack.startTsWorker();
    const { handle } = await start('crash');
    await waitFor(async () => (await stageOf(handle)) === 'trace', 100);
    await stack.killTsWorker(first);
    stack.startTsWorker();

    const result = (await handle.result()) as PipelineResult;
    assert.equal(result.modelsServed, 2);
    // This stack's state is fresh: its first pipeline also probes the served path before it packs.
    assert.deepEqual(
      startedChildren(await eventsOf(handle)).map((c) => c.type),
      ['traceModels', 'calibrate', 'rollout', 'loadSweep'],
      'each child ran once',
    );
  });

  it('killed while deploying: one set of model servers, the first set gone, no duplicated artifact or trace', async () => {
    const first = stack.startTsWorker();
    const { handle, ids } = await start('deploykill');
    // Kill once the first servers are spawned and loading: the half-started deployment is what must not leak.
    let before: number[] = [];
    await waitFor(async () => {
      if ((await stageOf(handle)) !== 'deploy') return false;
      before = recordedServers(stack.paths.state, handle.workflowId).map((s) => s.pid);
      return before.length > 0;
    }, 50);
    await stack.killTsWorker(first);
    stack.startTsWorker();

    const result = (await handle.result()) as PipelineResult;
    assert.equal(result.modelsServed, 2);

    const events = await eventsOf(handle);
    const children = startedChildren(events);
    assert.deepEqual(
      children.map((c) => c.type),
      ['traceModels', 'rollout', 'loadSweep'],
      'each child ran once',
    );
    const rollout = await eventsOf(stack.client.workflow.getHandle(children[1].workflowId));
    const startAttempts = activityAttempts(rollout, 'startModelServers');
    assert.equal(startAttempts.length, 1, 'startModelServers scheduled once');
    assert.ok(
      startAttempts[0] > 1,
      `the kill landed on the running server start (attempt ${startAttempts[0]})`,
    );

    const progress: PipelineProgress = await handle.query(progressQuery);
    const servers = recordedServers(stack.paths.state, handle.workflowId);
    assert.equal(servers.length, progress.stages.deploy.done, 'exactly one server per deployed device');
    for (const s of servers) {
      assert.ok(isAlive(s.pid), `server ${s.pid} serves`);
      assert.ok(!before.includes(s.pid), `server ${s.pid} is not one of the killed worker's`);
    }
    for (const pid of before) assert.equal(isAlive(pid), false, `the first start's server ${pid} is gone`);

    assert.deepEqual(
      tally((await completedTraces(stack.client, handle)).map((t) => t.modelId)),
      Object.fromEntries(ids.map((id) => [id, 1])),
      'one completed trace per model',
    );
    for (const id of ids) assert.equal(traceFolders(stack.paths.artifacts, id).length, 1, `${id}: one trace`);
    const runFiles = fs.readdirSync(path.join(stack.paths.artifacts, 'runs', handle.workflowId));
    assert.deepEqual(
      runFiles.filter((f) => f.startsWith('trace-')),
      ['trace-cpu-0.json'],
      'one trace batch record',
    );
  });
});
