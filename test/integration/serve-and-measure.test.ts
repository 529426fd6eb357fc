import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { freePort } from '../../src/dev/ports';
import type { LoadSweepInput, LoadSweepResult } from '../../src/domain/load-sweep';
import { STOWAGE_TASK_QUEUE } from '../../src/domain/task-queues';
import { testPaths, testStack } from '../support/stack';

/**
 * Serve and measure, end to end: the loadSweep workflow on the real dev server deploys two real model
 * servers (tiny traced BERT-QA models), runs the post's sequential and random tests and a short sweep
 * with real k6, and writes the report. Rates and steps are small: this is about every part being real
 * and connected, not about the figures (the benchmark measures those).
 */
const MODELS = ['qa-0', 'qa-1', 'qa-2', 'qa-3', 'qa-4'];
const PLACEMENT = { instances: [{ type: 'local-cpu', devices: [MODELS.slice(0, 3), MODELS.slice(3)] }] };

interface ServerRecord {
  runId: string;
  pid: number;
  url: string;
}

function serverRecords(runId: string): ServerRecord[] {
  try {
    const file = path.join(testPaths().state, 'model-servers.json');
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as ServerRecord[]).filter((r) => r.runId === runId);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('stowage_tracer');
  } catch {
    return false;
  }
}

async function failureOf(handle: WorkflowHandle): Promise<ApplicationFailure> {
  const err = await handle.result().then(
    () => assert.fail('the workflow must fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError);
  assert.ok(err.cause instanceof ApplicationFailure, String(err.cause));
  return err.cause;
}

async function scheduledActivities(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
    .filter((n): n is string => typeof n === 'string');
}

describe('serve and measure (real dev server, model servers, k6)', function () {
  this.timeout(300_000);

  before(async () => {
    await testStack();
    const paths = testPaths();
    await promisify(execFile)(
      paths.python,
      [
        '-m',
        'stowage_tracer.serving.tiny_artifacts',
        '--root',
        paths.artifacts,
        '--models',
        MODELS.join(','),
      ],
      { cwd: paths.pythonTracer },
    );
  });

  async function start(input: LoadSweepInput, id = `test-sweep-${randomUUID()}`) {
    const stack = await testStack();
    return stack.client.workflow.start('loadSweep', {
      taskQueue: STOWAGE_TASK_QUEUE,
      workflowId: id,
      args: [input],
    });
  }

  /** A real model server recorded as started by a worker that has since died (a pid that has exited). */
  async function leaveOrphan(): Promise<number> {
    const paths = testPaths();
    const dead = spawn('true');
    await new Promise((r) => dead.once('exit', r));
    const specFile = path.join(paths.state, 'orphan-models.json');
    const folder = path.join(paths.artifacts, 'models', 'qa-0', 'cpu', 'bs1-seq32');
    fs.writeFileSync(specFile, JSON.stringify({ models: [{ modelId: 'qa-0', path: folder }] }));
    const port = await freePort();
    const orphan = spawn(
      paths.python,
      ['-m', 'stowage_tracer', 'serve', '--models', specFile, '--port', String(port)],
      { cwd: paths.pythonTracer, stdio: 'ignore', detached: true },
    );
    orphan.unref();
    const file = path.join(paths.state, 'model-servers.json');
    fs.writeFileSync(
      file,
      JSON.stringify([
        {
          runId: 'run-of-a-dead-worker',
          device: 0,
          pid: orphan.pid,
          url: `http://127.0.0.1:${port}`,
          models: ['qa-0'],
          ownerPid: dead.pid,
          logFile: '/dev/null',
        },
      ]),
    );
    // Wait until its command line is the server's (the registry trusts a pid only while it is).
    while (!alive(orphan.pid!)) await new Promise((r) => setTimeout(r, 50));
    return orphan.pid!;
  }

  it('deploys two servers, runs sequential, random and a sweep, and writes a full report', async () => {
    const orphan = await leaveOrphan();
    const handle = await start({
      deploy: { placement: PLACEMENT },
      random: { rate: 5, seconds: 3 },
      sweep: { startRate: 10, maxRate: 40, stepSeconds: 3, maxSteps: 3 },
    });
    const result: LoadSweepResult = await handle.result();

    assert.equal(result.models, 5);
    assert.equal(result.servers, 2);
    assert.equal(result.sequential.requests, 5, 'sequential asks each model once');
    assert.equal(result.sequential.failures, 0);
    assert.ok(result.random.requests > 0 && result.random.failures === 0);
    assert.ok(result.steps.length >= 1 && result.steps.length <= 3);
    for (const step of result.steps) {
      assert.ok(step.requests > 0 && step.offeredRate > 0 && step.achievedRate > 0);
      assert.ok(step.p50Ms !== null && step.p90Ms !== null && step.p95Ms !== null && step.p99Ms !== null);
      assert.ok(step.p50Ms <= step.p90Ms && step.p90Ms <= step.p95Ms && step.p95Ms <= step.p99Ms);
      // Measured in 1 s windows (a third of stepSeconds) until the last three agree, at most 9 of them.
      const windows = step.windows ?? [];
      assert.ok(windows.length >= 3 && windows.length <= 9, `step ${step.index}: ${windows.length} windows`);
      assert.ok(windows.every((w) => w.seconds === 1 && w.requests > 0));
      assert.equal(typeof step.stable, 'boolean');
      if (step.verdict === 'unstable') assert.equal(step.stable, false);
      if (step.stable === false) assert.ok(['unstable', 'errors'].includes(step.verdict), step.verdict);
      assert.equal(step.spread?.windows, 3);
      assert.equal(
        step.requests,
        windows.slice(-3).reduce((a, w) => a + w.requests, 0),
      );
    }
    assert.ok(result.knee === null || result.knee.stable === true, 'the knee is a stable step');

    const reportFile = fileURLToPath(result.report.json);
    assert.equal(path.basename(path.dirname(reportFile)), handle.workflowId, 'runs/<workflowId>/');
    const report = JSON.parse(fs.readFileSync(reportFile, 'utf8'));
    // Every field of the post's results row, filled from measurements.
    for (const [field, value] of Object.entries(report.results)) {
      assert.ok(value !== null && value !== undefined, `results.${field} is filled`);
    }
    assert.equal(report.results.models, 5);
    assert.match(report.results.instances, /^1 x local-cpu$/);
    assert.ok(report.results.sequentialResponseMs[0] > 0);
    assert.ok(report.results.costPerModelHour > 0);
    assert.deepEqual(
      report.packing.map((d: { models: { modelId: string }[] }) => d.models.map((m) => m.modelId)),
      PLACEMENT.instances[0].devices,
    );
    assert.ok(
      report.packing.every((d: { models: { memoryBytes: number }[] }) =>
        d.models.every((m) => m.memoryBytes > 0),
      ),
    );
    const html = fs.readFileSync(fileURLToPath(result.report.html), 'utf8');
    assert.equal((html.match(/<svg/g) ?? []).length, 2, 'curve and packing charts are inline SVG');
    assert.match(html, /Throughput–latency curve/);
    assert.match(html, /SLO: P90 ≤ 100 ms/);
    assert.match(html, /<h2>Step stability<\/h2>/);
    assert.match(html, /in 1\.00 s windows until its last 3 agree/);
    assert.deepEqual(
      report.steps.map((s: { windows: unknown[] }) => s.windows.length),
      result.steps.map((s) => s.windows?.length),
    );
    assert.equal(report.stability.rule.windowSeconds, 1);
    assert.deepEqual(
      report.stability.unstableSteps,
      result.steps.filter((s) => s.stable === false).map((s) => s.index),
    );
    assert.ok(fs.existsSync(fileURLToPath(result.report.sweep)));

    const records = serverRecords(handle.workflowId);
    assert.deepEqual(records, [], 'the run forgot its servers');
    assert.ok(!alive(orphan), 'the server a dead worker left behind was reaped by this run');
    assert.deepEqual(serverRecords('run-of-a-dead-worker'), []);
  });

  it('a server killed during a sweep shows as errors, fails the run clearly, and leaves no process', async () => {
    const handle = await start({
      deploy: { placement: PLACEMENT },
      random: { rate: 2, seconds: 1 },
      sweep: { startRate: 10, maxRate: 10, stepSeconds: 8, maxSteps: 1 },
    });
    // Wait for the load step to be running, then kill one server outright.
    let pids: number[] = [];
    for (let i = 0; ; i++) {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      if (pending.some((a) => a.activityType?.name === 'runLoadStep')) break;
      assert.ok(i < 600, 'the load step never started');
      await new Promise((r) => setTimeout(r, 200));
    }
    pids = serverRecords(handle.workflowId).map((r) => r.pid);
    assert.equal(pids.length, 2);
    await new Promise((r) => setTimeout(r, 1500)); // some requests succeed first
    process.kill(pids[1], 'SIGKILL');

    const failure = await failureOf(handle);
    assert.equal(failure.type, 'ModelServerLost');
    assert.match(failure.message, /lost during load step 0 at 10 req\/s/);
    assert.match(failure.message, /ECONNREFUSED/);
    const [details] = failure.details as [{ steps: { errorRate: number; requests: number }[] }];
    assert.ok(details.steps[0].errorRate > 0.001, 'the step recorded the errors');

    assert.ok(
      pids.every((pid) => !alive(pid)),
      'no model server left running',
    );
    assert.deepEqual(serverRecords(handle.workflowId), []);
  });

  describe('bad input fails with a clear validation error before any load', () => {
    it('a routing table entry with an unreachable URL', async () => {
      const url = `http://127.0.0.1:${await freePort()}`;
      const handle = await start({ routingTable: { routes: [{ modelId: 'qa-0', url }] } });
      const failure = await failureOf(handle);
      assert.equal(failure.type, 'InvalidInput');
      assert.ok(failure.message.includes(url) && /ECONNREFUSED/.test(failure.message), failure.message);
      assert.match(failure.message, /no load was sent/);
      const ran = await scheduledActivities(handle);
      assert.ok(!ran.some((a) => /Test|Step/.test(a)), `no load activity ran: ${ran.join(', ')}`);
    });

    for (const [what, input, expected] of [
      ['an SLO ≤ 0', { slo: { p90Ms: 0 } }, /slo\.p90Ms must be a positive number/],
      ['a rate ≤ 0', { sweep: { startRate: -5 } }, /sweep\.startRate must be a positive number/],
      [
        'a sweep with zero steps',
        { sweep: { maxSteps: 0 } },
        /sweep\.maxSteps must be an integer from 1 to 8/,
      ],
    ] as const) {
      it(what, async () => {
        const handle = await start({
          routingTable: { routes: [{ modelId: 'qa-0', url: 'http://127.0.0.1:9' }] },
          ...input,
        } as LoadSweepInput);
        const failure = await failureOf(handle);
        assert.equal(failure.type, 'InvalidInput');
        assert.equal(failure.nonRetryable, true);
        assert.match(failure.message, expected);
        assert.deepEqual(await scheduledActivities(handle), [], 'nothing ran');
      });
    }
  });
});
