import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { PipelineProgress, PipelineResult } from '../../src/domain/pipeline';
import type { LoadSweepResult } from '../../src/domain/load-sweep';
import { makeTinyModels } from '../../src/dev/tiny-models';
import { STOWAGE_TASK_QUEUE } from '../../src/domain/task-queues';
import type { CalibrateResult } from '../../workflows/calibrate';
import { progressQuery } from '../../workflows/pipeline';
import { killServers, recordedServers, waitFor } from '../support/fleet-state';
import { isAlive } from '../support/processes';
import { eventsOf } from '../support/run-history';
import { testPaths, testStack } from '../support/stack';

/**
 * The deployed local fleet lost after deploy — its servers SIGKILLed, as a power loss or a crash of their
 * worker leaves them — while the run goes on: the pipeline must start them again and still measure.
 */
describe('pipeline: model servers lost after deploy are started again', function () {
  this.timeout(600_000);
  const runs: string[] = [];

  after(() => {
    for (const runId of runs) killServers(recordedServers(testPaths().state, runId));
  });

  async function start(name: string, stepSeconds: number): Promise<WorkflowHandle> {
    const stack = await testStack();
    const sources = await makeTinyModels(testPaths(), {
      out: path.join(testPaths().artifacts, `${name}-sources`),
      count: 2,
      prefix: name,
    });
    const handle = await stack.client.workflow.start('pipeline', {
      taskQueue: STOWAGE_TASK_QUEUE,
      workflowId: `${name}-${randomUUID()}`,
      args: [
        {
          name,
          models: sources.map((source, i) => ({ id: `${name}-${i}`, source })),
          trace: { sequenceLength: 32 },
          loadTest: { stepSeconds, maxSteps: 2 },
        },
      ],
    });
    runs.push(handle.workflowId);
    return handle;
  }

  /** SIGKILLs every server the run has recorded; returns their pids. */
  function killFleet(runId: string): number[] {
    const servers = recordedServers(testPaths().state, runId);
    killServers(servers);
    return servers.map((s) => s.pid);
  }

  /** Devices restarted by each completed reconcileModelServers of a run (from its history). */
  async function restarts(handle: WorkflowHandle): Promise<number[][]> {
    const events = await eventsOf(handle);
    const scheduled = new Set(
      events
        .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'reconcileModelServers')
        .map((e) => String(e.eventId)),
    );
    return events
      .map((e) => e.activityTaskCompletedEventAttributes)
      .filter((c): c is NonNullable<typeof c> => Boolean(c) && scheduled.has(String(c?.scheduledEventId)))
      .map(
        (c) => defaultPayloadConverter.fromPayload<{ restarted: number[] }>(c.result!.payloads![0]).restarted,
      );
  }

  /** The run completed, measured, and ends with one live server per deployed device, none of `killed`. */
  async function assertServing(handle: WorkflowHandle, killed: number[]): Promise<LoadSweepResult> {
    const result: PipelineResult = await handle.result();
    assert.equal(result.modelsServed, 2);
    assert.ok(result.report, 'the run has its report');
    const sweep: LoadSweepResult = await (
      await testStack()
    ).client.workflow
      .getHandle(`${handle.workflowId}-test`)
      .result();
    assert.ok(sweep.steps.length > 0, 'load steps were measured');
    assert.equal(sweep.sequential.failures, 0, 'the sequential test ran on a serving fleet');
    const progress: PipelineProgress = await handle.query(progressQuery);
    const servers = recordedServers(testPaths().state, handle.workflowId);
    assert.equal(servers.length, progress.stages.deploy.done, 'one server per deployed device');
    for (const s of servers) {
      assert.ok(isAlive(s.pid), `server ${s.pid} serves`);
      assert.ok(!killed.includes(s.pid), `server ${s.pid} is not one of the killed ones`);
    }
    return sweep;
  }

  it('killed as the test stage begins: the fleet is started again and the sweep measures it', async () => {
    const handle = await start('lostbefore', 2);
    let killed: number[] = [];
    await waitFor(async () => {
      const progress = await handle.query(progressQuery).catch(() => undefined);
      if (progress?.stages.deploy.status !== 'done') return false;
      killed = killFleet(handle.workflowId);
      return true;
    }, 50);
    assert.ok(killed.length > 0, 'the deployed servers were killed');

    await assertServing(handle, killed);
    // Whether the pipeline's own check or the sweep's probe found them gone first, they were restarted.
    const restarted = [
      ...(await restarts(handle)),
      ...(await restarts((await testStack()).client.workflow.getHandle(`${handle.workflowId}-test`))),
    ].flat();
    assert.equal(restarted.length, killed.length, `every lost server started again once: ${restarted}`);
  });

  it('the served-path probe’s server killed mid-probe: calibrate restarts it and resumes its levels', async () => {
    const stack = await testStack();
    const traced = await start('lostprobe', 2);
    await traced.result();
    const handle = await stack.client.workflow.start('calibrate', {
      taskQueue: STOWAGE_TASK_QUEUE,
      workflowId: `lostprobe-calibrate-${randomUUID()}`,
      args: [{ fromRun: traced.workflowId, sampleSize: 2, windowSeconds: 1, maxWindows: 4 }],
    });
    runs.push(handle.workflowId);
    await waitFor(async () => {
      const pending = (await handle.describe().catch(() => undefined))?.raw.pendingActivities ?? [];
      return pending.some((a) => a.activityType?.name === 'measureServedPath');
    }, 100);
    await new Promise((r) => setTimeout(r, 1500)); // a window or two is measured first
    const killed = killFleet(handle.workflowId);
    assert.equal(killed.length, 1, 'the probe runs one server');

    const { calibration } = (await handle.result()) as CalibrateResult;
    assert.ok(calibration.probe.saturationRps > 0, 'the probe measured a capacity');
    assert.deepEqual(await restarts(handle), [[0]], 'the probe server was started again once');
    assert.equal(recordedServers(testPaths().state, handle.workflowId).length, 0, 'and stopped at the end');
  });

  it('killed during a load step: the step is measured again on the restarted fleet, not counted lost', async () => {
    const stack = await testStack();
    // Steps long enough that the kill lands inside the first one.
    const handle = await start('lostduring', 4);
    const sweep = stack.client.workflow.getHandle(`${handle.workflowId}-test`);
    await waitFor(async () => {
      const pending = (await sweep.describe().catch(() => undefined))?.raw.pendingActivities ?? [];
      return pending.some((a) => a.activityType?.name === 'runLoadStep');
    }, 100);
    await new Promise((r) => setTimeout(r, 500)); // some requests are answered first
    const killed = killFleet(handle.workflowId);
    assert.ok(killed.length > 0, 'the deployed servers were killed');

    const result = await assertServing(handle, killed);
    assert.deepEqual(await restarts(sweep), [killed.map((_, i) => i)], 'one reconciliation, every device');
    for (const step of result.steps)
      assert.ok(
        step.errorRate < 0.5,
        `step ${step.index} was measured on a serving fleet: ${step.errorRate}`,
      );
  });
});
