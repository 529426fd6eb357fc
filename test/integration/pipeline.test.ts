import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Calibration } from '../../src/capacity/served-path';
import type { PipelineProgress, PipelineResult } from '../../src/domain/pipeline';
import { STOWAGE_TASK_QUEUE } from '../../src/domain/task-queues';
import type { PipelineInputJson } from '../../src/pipeline/input';
import { approveDeployUpdate, progressQuery } from '../../workflows/pipeline';
import { recordHistory } from '../support/histories';
import { runCli } from '../support/cli';
import { testPaths, testStack, testStateDir } from '../support/stack';
import { makeTinyModels } from '../../src/dev/tiny-models';
import { isAlive } from '../support/processes';

/** A client call that spans a server restart: retried while the server is away. */
async function retryWhileUnavailable<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt > 30 || !/UNAVAILABLE|unavailable|ECONNREFUSED|connection/i.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 200));
}

function serverRecords(runId: string): { pid: number }[] {
  const file = path.join(testPaths().state, 'model-servers.json');
  const records = fs.existsSync(file)
    ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { runId: string; pid: number }[])
    : [];
  return records.filter((r) => r.runId === runId);
}

/** The whole pipeline on tiny BERT QA models, through the real dev server and both real workers. */
describe('pipeline workflow (build → trace → pack → deploy → test → report)', function () {
  this.timeout(600_000);
  let sources: string[];

  before(async () => {
    await testStack();
    // No calibration yet: the first run must probe the served path before it packs.
    fs.rmSync(path.join(testPaths().artifacts, 'calibration'), { recursive: true, force: true });
    sources = await makeTinyModels(testPaths(), {
      out: path.join(testPaths().artifacts, 'pipeline-sources'),
      count: 3,
      prefix: 'pipe',
    });
  });

  function input(extra: Partial<PipelineInputJson> = {}): PipelineInputJson {
    return {
      name: 'test',
      models: [
        ...sources.map((source, i) => ({ id: `pipe-${i}`, source })),
        // One model that cannot be traced: collected as a failure, not fatal to the run.
        { id: 'pipe-missing', source: path.join(testPaths().artifacts, 'pipeline-sources', 'no-such-model') },
      ],
      trace: { sequenceLength: 32 },
      loadTest: { stepSeconds: 2, maxSteps: 3 },
      ...extra,
    };
  }

  async function start(raw: unknown): Promise<WorkflowHandle> {
    const stack = await testStack();
    return stack.client.workflow.start('pipeline', {
      taskQueue: STOWAGE_TASK_QUEUE,
      workflowId: `test-pipeline-${randomUUID()}`,
      args: [raw],
    });
  }

  async function childTypes(handle: WorkflowHandle): Promise<string[]> {
    const history = await handle.fetchHistory();
    return (history.events ?? [])
      .map((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name)
      .filter((n): n is string => Boolean(n));
  }

  let first: WorkflowHandle;

  it('runs every stage on small models, reports the one that failed to trace, leaves each output stored', async () => {
    first = await start(input());
    const result: PipelineResult = await first.result();
    recordHistory(first, (await testStack()).temporal.address, 'pipeline-with-failed-model');

    const progress: PipelineProgress = await first.query(progressQuery);
    assert.equal(progress.stage, 'done');
    for (const [name, s] of Object.entries(progress.stages)) assert.equal(s.status, 'done', `stage ${name}`);
    assert.equal(result.modelsServed, 3);
    assert.deepEqual(
      result.failures.map((f) => [f.stage, f.modelId]),
      [['trace', 'pipe-missing']],
    );
    assert.ok(result.costPerHour !== null && result.costPerHour > 0);
    assert.ok(result.placement && fs.existsSync(path.join(testPaths().artifacts, result.placement)));
    const report = path.join(testPaths().artifacts, 'runs', first.workflowId, 'report.html');
    assert.equal(result.report, pathToFileURL(report).href, 'the report sits in the run folder');
    assert.match(fs.readFileSync(report, 'utf8'), /<svg/, 'report.html holds its charts');
    assert.deepEqual(await childTypes(first), ['traceModels', 'calibrate', 'rollout', 'loadSweep']);

    // The plan it packed with, checked against what the sweep measured, in the result and the report.
    assert.match(progress.stages.pack.detail ?? '', /served path [\d.]+ ms \+ [\d.]+× forward/);
    const capacity = result.capacity!;
    assert.ok(['promise held', 'promise broken'].includes(capacity.verdict), capacity.verdict);
    assert.ok(capacity.plannedRps > 0 && capacity.measuredRps! > 0);
    assert.equal(capacity.ratio, Math.round((capacity.measuredRps! / capacity.plannedRps) * 1000) / 1000);
    const reportJson = JSON.parse(
      fs.readFileSync(path.join(testPaths().artifacts, 'runs', first.workflowId, 'report.json'), 'utf8'),
    ) as { capacity: { devices: { device: string; plannedRps: number; measuredRps: number }[] } };
    assert.deepEqual(
      reportJson.capacity.devices.map((d) => d.device),
      ['local-cpu#0/dev0'],
    );
    assert.equal(reportJson.capacity.devices[0].measuredRps, result.kneeRequestsPerSecond);
    assert.match(fs.readFileSync(report, 'utf8'), /Plan against measurement: <span class="verdict">promise/);

    const described = await first.describe();
    assert.equal(described.searchAttributes.StowageStage?.[0], 'done');
  });

  it('a resumed run reuses the earlier trace: no trace child, no trace activity', async () => {
    const resumed = await start(input({ resumeFrom: first.workflowId }));
    const result: PipelineResult = await resumed.result();
    recordHistory(resumed, (await testStack()).temporal.address, 'pipeline-resumed');
    assert.equal(result.modelsServed, 3);
    const progress: PipelineProgress = await resumed.query(progressQuery);
    assert.equal(progress.stages.trace.status, 'skipped');
    // The calibration the first run measured is the one this run plans with: no probe again.
    assert.deepEqual(await childTypes(resumed), ['rollout', 'loadSweep']);
    assert.match(progress.stages.pack.detail ?? '', /served path/);
  });

  it('`stowage calibrate <run>` probes the served path again on that run’s models and resets the closed loop', async () => {
    const address = (await testStack()).temporal.address;
    const env = { STOWAGE_STATE_DIR: testStateDir() };
    const result = await runCli(
      ['calibrate', first.workflowId, '--sample', '2', '--json', '--temporal-address', address],
      env,
    );
    assert.equal(result.code, 0, result.stderr);
    const { key, calibration } = JSON.parse(result.stdout) as { key: string; calibration: Calibration };
    assert.match(key, /^calibration\/cpu\/local-cpu\/local-torch-/);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(testPaths().artifacts, key), 'utf8')), calibration);
    assert.equal(calibration.probe.models.length, 2);
    assert.ok(calibration.probe.windows.length >= 3 && calibration.probe.saturationRps > 0);
    assert.equal(calibration.capacityFactor, 1);
    assert.deepEqual(calibration.checks, []);

    const bad = await runCli(['calibrate', '../etc', '--temporal-address', address], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /\/fromRun: must be a workflow id/);
    const never = await runCli(['calibrate', 'no-such-run', '--temporal-address', address], env);
    assert.equal(never.code, 1);
    assert.match(never.stderr, /run no-such-run has no trace stage record/);
  });

  it('waits for approval before deploy, and a cancelled run stops the servers it started', async () => {
    const stack = await testStack();
    const handle = await start(
      input({ approval: { required: true }, loadTest: { stepSeconds: 5, maxSteps: 8 } }),
    );
    const progressOf = () => handle.query(progressQuery);
    await waitFor(async () => (await progressOf().catch(() => undefined))?.awaitingApproval === true);
    assert.equal((await progressOf()).stages.deploy.status, 'pending', 'nothing deployed before approval');
    await handle.executeUpdate(approveDeployUpdate, { args: [{ by: 'test' }] });
    await assert.rejects(handle.executeUpdate(approveDeployUpdate, { args: [{ by: 'again' }] }), (e: Error) =>
      /nothing is waiting for approval/.test(String((e.cause as Error | undefined)?.message)),
    );

    await waitFor(async () => (await progressOf()).stage === 'test');
    const servers = serverRecords(handle.workflowId);
    assert.ok(servers.length > 0, 'the deploy stage started servers');
    await handle.cancel();
    const err = await handle.result().then(
      () => assert.fail('a cancelled run must not complete'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure);
    recordHistory(handle, stack.temporal.address, 'pipeline-cancelled');
    assert.equal((await progressOf()).approvedBy, 'test');
    assert.deepEqual(serverRecords(handle.workflowId), [], 'no server of the run is recorded');
    for (const s of servers) assert.equal(isAlive(s.pid), false, `model server ${s.pid} was stopped`);
  });

  it('completes when the Temporal server restarts mid-trace, with one set of servers and one trace per model', async () => {
    const stack = await testStack();
    // A sequence length no other test uses: new trace keys, so the restart lands while traces really run.
    const handle = await start(input({ trace: { sequenceLength: 48 } }));
    await waitFor(async () => (await handle.query(progressQuery).catch(() => undefined))?.stage === 'trace');
    await stack.restartServer();

    const result: PipelineResult = await retryWhileUnavailable(() => handle.result());
    assert.equal(result.modelsServed, 3);
    const history = await handle.fetchHistory();
    const traceChildren = (history.events ?? []).filter(
      (e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name === 'traceModels',
    );
    assert.equal(traceChildren.length, 1, 'the trace batch ran once');
    const servers = serverRecords(handle.workflowId);
    assert.equal(servers.length, new Set(servers.map((s) => s.pid)).size);
    const routes = (await handle.query(progressQuery)).stages.deploy.done;
    assert.equal(servers.length, routes, 'exactly one server per deployed device');
    for (const model of ['pipe-0', 'pipe-1', 'pipe-2']) {
      // Content-addressed traces: one folder per distinct trace, however often runs were retried or restarted.
      const dir = path.join(testPaths().artifacts, 'models', model, 'cpu');
      const lengths = fs.readdirSync(dir).map(
        (key) =>
          (
            JSON.parse(fs.readFileSync(path.join(dir, key, 'manifest.json'), 'utf8')) as {
              sequenceLength: number;
            }
          ).sequenceLength,
      );
      assert.equal(
        lengths.filter((n) => n === 48).length,
        1,
        `${model} was traced once at length 48: ${lengths}`,
      );
    }
  });

  it('rejects bad input at once with every problem, starting no activity', async () => {
    const handle = await start({
      models: [
        { id: 'a', source: 'x' },
        { id: 'a', source: 'y' },
      ],
      processors: ['tpu'],
      loadTest: { sloP90Ms: -1 },
    });
    const err = await handle.result().then(
      () => assert.fail('bad input must fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure);
    assert.equal(err.cause.type, 'InvalidInput');
    assert.match(err.cause.message, /\/models\/1\/id: duplicate/);
    assert.match(err.cause.message, /\/processors\/0/);
    assert.match(err.cause.message, /\/loadTest\/sloP90Ms/);
    const history = await handle.fetchHistory();
    assert.equal((history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).length, 0);
  });
});
