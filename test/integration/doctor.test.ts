import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { DoctorInput, DoctorReport } from '../../src/domain/doctor';
import { STOWAGE_TASK_QUEUE } from '../../src/domain/task-queues';
import { probeContainerRuntime } from '../../src/images/container-runtime';
import { recordHistory } from '../support/histories';
import { testPaths, testStack } from '../support/stack';

describe('doctor workflow (real dev server, TypeScript and Python workers)', function () {
  this.timeout(180_000);

  before(async () => {
    await testStack();
  });

  async function startDoctor(input: DoctorInput) {
    const stack = await testStack();
    return stack.client.workflow.start('doctor', {
      taskQueue: STOWAGE_TASK_QUEUE,
      workflowId: `test-doctor-${randomUUID()}`,
      args: [input],
    });
  }

  it('reports the TypeScript worker and the Python tracer with its real torch version', async () => {
    const stack = await testStack();
    const handle = await startDoctor({ processors: ['cpu'], benchmarkMs: 200 });
    const report: DoctorReport = await handle.result();
    recordHistory(handle, stack.temporal.address, 'doctor-success');

    const torch = execFileSync(testPaths().python, ['-c', 'import torch; print(torch.__version__)'])
      .toString()
      .trim();
    assert.equal(report.stowage.taskQueue, 'stowage');
    assert.equal(report.stowage.pid, process.pid);
    assert.equal(report.tracers.length, 1);
    const [tracer] = report.tracers;
    assert.equal(tracer.taskQueue, 'stowage-tracer-cpu');
    assert.equal(tracer.pid, stack.pythonWorker.pid);
    assert.equal(tracer.torchVersion, torch);
    assert.equal(tracer.devices.length, 1);
    assert.ok(tracer.matmulGflops !== null && tracer.matmulGflops > 0, 'matmul throughput was measured');
    assert.deepEqual(report.unreachable, []);
    // The worker's own answer about containers is the probe's, and always says one thing or the other.
    assert.deepEqual(report.stowage.containers, await probeContainerRuntime());
    assert.ok(
      (report.stowage.containers.runtime === null) !== (report.stowage.containers.reason === null),
      'a runtime or the reason there is none',
    );
  });

  it('reports a tracer queue nobody serves as unreachable instead of waiting forever', async () => {
    const handle = await startDoctor({ processors: ['cpu', 'gpu'], benchmarkMs: 0, waitForWorkerSeconds: 2 });
    const report: DoctorReport = await handle.result();
    assert.deepEqual(
      report.tracers.map((t) => t.taskQueue),
      ['stowage-tracer-cpu'],
    );
    assert.equal(report.unreachable.length, 1);
    assert.equal(report.unreachable[0].taskQueue, 'stowage-tracer-gpu');
    assert.match(report.unreachable[0].reason, /no worker picked up stowage-tracer-gpu/);
  });

  it('rejects bad input at once, listing every problem, before any activity runs', async () => {
    const handle = await startDoctor({
      processors: ['cpu', 'tpu' as never, 'cpu'],
      benchmarkMs: -5,
    });
    const err = await handle.result().then(
      () => assert.fail('bad input must fail the workflow'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError);
    assert.ok(err.cause instanceof ApplicationFailure);
    assert.equal(err.cause.type, 'InvalidInput');
    assert.equal(err.cause.nonRetryable, true);
    assert.match(err.cause.message, /unknown processor "tpu"/);
    assert.match(err.cause.message, /duplicates/);
    assert.match(err.cause.message, /benchmarkMs/);
    recordHistory(handle, (await testStack()).temporal.address, 'doctor-invalid-input');
    const history = await handle.fetchHistory();
    const scheduled = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes);
    assert.equal(scheduled.length, 0, 'no activity was scheduled');
  });

  it('finishes after the Python worker is SIGKILLed mid-activity and started again', async () => {
    const stack = await testStack();
    const killed = stack.pythonWorker.pid;
    const handle = await startDoctor({ processors: ['cpu'], benchmarkMs: 6000 });

    // Wait until the Python activity is running on the worker we are about to kill.
    for (;;) {
      const { raw } = await handle.describe();
      if (raw.pendingActivities?.some((a) => a.activityType?.name === 'describeTracer' && a.lastStartedTime))
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
    stack.pythonWorker.kill();
    await stack.pythonWorker.exited;
    await stack.restartPythonWorker();

    const report: DoctorReport = await handle.result();
    assert.notEqual(report.tracers[0].pid, killed, 'the answer came from the restarted worker');
    assert.equal(report.tracers[0].pid, stack.pythonWorker.pid);
    recordHistory(handle, stack.temporal.address, 'doctor-tracer-killed');
    const history = await handle.fetchHistory();
    const attempts = (history.events ?? [])
      .map((e) => e.activityTaskStartedEventAttributes?.attempt)
      .filter((a): a is number => typeof a === 'number');
    assert.ok(Math.max(...attempts) >= 2, `the activity was retried (attempts seen: ${attempts.join(',')})`);
  });
});
