import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { PipelineProgress, PipelineResult } from '../../src/domain/pipeline';
import { makeTinyModels } from '../../src/dev/tiny-models';
import { STOWAGE_TASK_QUEUE } from '../../src/domain/task-queues';
import type { PipelineInputJson } from '../../src/pipeline/input';
import { approveDeployUpdate, progressQuery } from '../../workflows/pipeline';
import { killServers, recordedServers, traceFolders, waitFor } from '../support/fleet-state';
import { isAlive } from '../support/processes';
import {
  completedTraces,
  eventsOf,
  scheduledActivities,
  startedChildren,
  tally,
} from '../support/run-history';
import { testPaths, testStack } from '../support/stack';

/**
 * Real faults in a pipeline run on the shared stack: the Python tracer worker SIGKILLed mid-trace, and a
 * deploy that fails on a damaged trace artifact followed by a resumed run. Each test has models of its
 * own, so trace folders and completed traces can be counted exactly.
 */
/** PENDING_ACTIVITY_STATE_STARTED: a worker holds the attempt (1 would be merely scheduled). */
const STARTED = 2;

describe('pipeline: a killed tracer worker, and resume after a failed deploy', function () {
  this.timeout(600_000);
  const runs: string[] = [];

  after(() => {
    // Completed runs leave their servers serving (that is the deployment); this test is done with them.
    for (const runId of runs) killServers(recordedServers(testPaths().state, runId));
  });

  async function models(prefix: string): Promise<{ id: string; source: string }[]> {
    const sources = await makeTinyModels(testPaths(), {
      out: path.join(testPaths().artifacts, `${prefix}-sources`),
      count: 2,
      prefix,
    });
    return sources.map((source, i) => ({ id: `${prefix}-${i}`, source }));
  }

  async function start(input: PipelineInputJson): Promise<WorkflowHandle> {
    const stack = await testStack();
    const handle = await stack.client.workflow.start('pipeline', {
      taskQueue: STOWAGE_TASK_QUEUE,
      workflowId: `faults-${input.name}-${randomUUID()}`,
      args: [input],
    });
    runs.push(handle.workflowId);
    return handle;
  }

  const tiny = { trace: { sequenceLength: 32 }, loadTest: { stepSeconds: 2, maxSteps: 2 } };

  it('completes after the Python worker is SIGKILLed mid-trace: one trace folder and one completed trace per model', async () => {
    const stack = await testStack();
    const specs = await models('pykill');
    const handle = await start({ name: 'pykill', models: specs, ...tiny });

    // Kill while a traceModel attempt is running on the worker, not merely queued.
    const child = stack.client.workflow.getHandle(`${handle.workflowId}-trace-cpu-0`);
    await waitFor(async () => {
      const described = await child.describe().catch(() => undefined);
      return (described?.raw.pendingActivities ?? []).some(
        (a) => a.activityType?.name === 'traceModel' && a.state === STARTED,
      );
    }, 50);
    stack.pythonWorker.kill();
    await stack.pythonWorker.exited;
    await stack.restartPythonWorker();

    const result: PipelineResult = await handle.result();
    assert.equal(result.modelsServed, 2);
    const traces = await completedTraces(stack.client, handle);
    assert.deepEqual(
      tally(traces.map((t) => t.modelId)),
      { 'pykill-0': 1, 'pykill-1': 1 },
      'one completed trace each',
    );
    assert.ok(
      traces.some((t) => t.attempt > 1),
      `the kill landed on a running trace, which a later attempt completed: ${JSON.stringify(traces)}`,
    );
    for (const { id } of specs)
      assert.equal(traceFolders(testPaths().artifacts, id).length, 1, `${id}: one trace`);
    const progress: PipelineProgress = await handle.query(progressQuery);
    const servers = recordedServers(testPaths().state, handle.workflowId);
    assert.equal(servers.length, progress.stages.deploy.done, 'one server per deployed device');
    for (const s of servers) assert.ok(isAlive(s.pid), `server ${s.pid} serves`);
  });

  it('a deploy that fails on a damaged trace, resumed: zero trace activities, then it completes', async () => {
    const stack = await testStack();
    const specs = await models('dfail');
    const input: PipelineInputJson = { name: 'dfail', models: specs, ...tiny };
    const first = await start({ ...input, approval: { required: true } });
    await waitFor(
      async () => (await first.query(progressQuery).catch(() => undefined))?.awaitingApproval === true,
    );
    assert.deepEqual(
      tally((await completedTraces(stack.client, first)).map((t) => t.modelId)),
      { 'dfail-0': 1, 'dfail-1': 1 },
      'the first run traced each model once',
    );

    // The injected fault: the traced TorchScript file of one model is damaged on disk after the trace.
    const [folder] = traceFolders(testPaths().artifacts, 'dfail-1');
    const manifest = JSON.parse(fs.readFileSync(path.join(folder, 'manifest.json'), 'utf8')) as {
      files: Record<string, unknown>;
    };
    const torchScript = Object.keys(manifest.files).find((f) => f.endsWith('.pt'));
    assert.ok(torchScript, `a TorchScript file in ${Object.keys(manifest.files).join(', ')}`);
    const file = path.join(folder, torchScript);
    const intact = fs.readFileSync(file);
    fs.writeFileSync(file, 'not a TorchScript archive');
    try {
      await first.executeUpdate(approveDeployUpdate, { args: [{ by: 'faults-test' }] });
      const err = await first.result().then(
        () => assert.fail('the deploy must fail on the damaged model'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WorkflowFailedError);
      const types: string[] = [];
      for (let e: unknown = err; e instanceof Error; e = e.cause) {
        if (e instanceof ApplicationFailure && e.type) types.push(e.type);
      }
      assert.ok(types.includes('ModelServerStartFailed'), `failed starting the servers: ${types.join(', ')}`);
      assert.equal((await first.query(progressQuery)).stages.deploy.status, 'failed');
      assert.deepEqual(recordedServers(testPaths().state, first.workflowId), [], 'no server of it is left');
    } finally {
      fs.writeFileSync(file, intact);
    }

    const resumed = await start({ ...input, resumeFrom: first.workflowId });
    const result: PipelineResult = await resumed.result();
    assert.equal(result.modelsServed, 2);
    const events = await eventsOf(resumed);
    assert.deepEqual(
      startedChildren(events).map((c) => c.type),
      ['rollout', 'loadSweep'],
      'no traceModels child: the trace came from the first run',
    );
    assert.deepEqual(await completedTraces(stack.client, resumed), [], 'zero trace activities');
    const own = scheduledActivities(events);
    assert.ok(!own.includes('traceModel') && !own.includes('profileModel'), own.join(', '));
    assert.equal((await resumed.query(progressQuery)).stages.trace.status, 'skipped');
    for (const { id } of specs)
      assert.equal(traceFolders(testPaths().artifacts, id).length, 1, `${id}: one trace`);
  });
});
