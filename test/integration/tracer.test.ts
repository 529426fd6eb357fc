import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { STOWAGE_TASK_QUEUE } from '../../src/domain/task-queues';
import type { ModelProfile, TraceModelsInput, TraceModelsResult } from '../../src/domain/tracing';
import { recordHistory } from '../support/histories';
import { testPaths, testStack } from '../support/stack';
import { makeTinyModels } from '../../src/dev/tiny-models';

/** Tiny BERT QA models (hidden 32, 2 layers) at a short sequence length: seconds per trace on 2 cores. */
const SEQ = 32;

describe('tracer worker (real dev server, real Python worker, tiny BERT QA models)', function () {
  this.timeout(240_000);
  const sources = path.join(testPaths().artifacts, 'sources');
  let models: string[];

  before(async () => {
    await testStack();
    models = await makeTinyModels(testPaths(), { out: sources, count: 3 });
  });

  async function startTrace(input: TraceModelsInput): Promise<WorkflowHandle> {
    const stack = await testStack();
    return stack.client.workflow.start('traceModels', {
      taskQueue: STOWAGE_TASK_QUEUE,
      workflowId: `test-trace-${randomUUID()}`,
      args: [input],
    });
  }

  const quickProfile = { iterations: 5, warmup: 1 };

  it('traces several models, collects a failure without failing the rest, and caches on re-run', async () => {
    const input: TraceModelsInput = {
      processor: 'cpu',
      maxConcurrent: 2,
      models: [
        ...models.map((source, i) => ({
          id: `tiny-${i}`,
          source,
          options: { sequenceLength: SEQ, profile: quickProfile },
        })),
        { id: 'missing', source: path.join(sources, 'no-such-model'), options: { sequenceLength: SEQ } },
      ],
    };
    const firstRun = await startTrace(input);
    const first: TraceModelsResult = await firstRun.result();
    recordHistory(firstRun, (await testStack()).temporal.address, 'trace-models-with-failure');
    assert.deepEqual(
      first.traced.map((t) => t.modelId),
      ['tiny-0', 'tiny-1', 'tiny-2'],
    );
    assert.deepEqual(
      first.failed.map((f) => [f.modelId, f.type]),
      [['missing', 'ModelNotFound']],
    );
    for (const traced of first.traced) {
      assert.equal(traced.cached, false);
      const folder = fileURLToPath(traced.artifact.prefix);
      assert.ok(folder.startsWith(testPaths().artifacts), `${folder} is inside the artifact root`);
      assert.equal(
        path.relative(testPaths().artifacts, folder),
        path.join('models', traced.modelId, 'cpu', traced.artifact.traceKey),
      );
      for (const file of ['model.pt', 'manifest.json', 'profile.json', 'tokenizer/vocab.txt']) {
        assert.ok(fs.existsSync(path.join(folder, file)), `${file} written for ${traced.modelId}`);
      }
      const profile = JSON.parse(fs.readFileSync(path.join(folder, 'profile.json'), 'utf8')) as ModelProfile;
      assert.deepEqual(profile.demand, traced.demand);
      assert.ok(
        profile.demand.memoryGiB > 0 && profile.demand.compute !== null && profile.demand.compute > 0,
      );
    }
    // Different seeds, different weights: different content hashes, so different trace keys.
    assert.equal(new Set(first.traced.map((t) => t.artifact.traceKey)).size, 3);
    assert.ok(
      !fs.existsSync(path.join(testPaths().artifacts, 'models', 'missing')),
      'no artifact for a failure',
    );

    const again: TraceModelsResult = await (await startTrace(input)).result();
    assert.deepEqual(
      again.traced.map((t) => [t.modelId, t.cached, t.artifact.traceKey]),
      first.traced.map((t) => [t.modelId, true, t.artifact.traceKey]),
    );
  });

  it('rejects bad input with every problem listed, before any trace is scheduled', async () => {
    const handle = await startTrace({
      processor: 'tpu' as never,
      models: [
        { id: 'Bad/Id', source: 'x' },
        { id: 'ok', source: 'x', options: { sequenceLength: 0, batchSize: 0 } },
      ],
    });
    const err = await handle.result().then(
      () => assert.fail('bad input must fail the workflow'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure);
    assert.equal(err.cause.type, 'InvalidInput');
    assert.equal(err.cause.nonRetryable, true);
    for (const field of [
      'processor',
      'models.0.id',
      'models.1.options.sequenceLength',
      'models.1.options.batchSize',
    ]) {
      assert.ok(err.cause.message.includes(field), `${field} is named in: ${err.cause.message}`);
    }
  });

  it('completes a trace whose worker was SIGKILLed mid-activity, resuming from its heartbeat', async () => {
    const stack = await testStack();
    // Enough profiling iterations that the kill lands after the trace step, while the profile runs.
    const handle = await startTrace({
      processor: 'cpu',
      models: [
        {
          id: 'tiny-killed',
          source: models[0],
          options: { sequenceLength: SEQ, batchSize: 2, profile: { iterations: 8000, warmup: 1 } },
        },
      ],
    });
    const killedPid = stack.pythonWorker.pid;
    const step = await waitForHeartbeatStep(handle, ['profile', 'publish']);
    stack.pythonWorker.kill();
    await stack.restartPythonWorker();
    assert.notEqual(stack.pythonWorker.pid, killedPid);

    const result: TraceModelsResult = await handle.result();
    recordHistory(handle, stack.temporal.address, 'trace-models-worker-killed');
    assert.deepEqual(result.failed, []);
    const [traced] = result.traced;
    assert.equal(traced.modelId, 'tiny-killed');
    assert.ok(traced.attempt >= 2, `retried after the kill (attempt ${traced.attempt}, killed at ${step})`);
    assert.equal(traced.resumedFrom, step, 'the retry picked up from the last heartbeat, not from scratch');
    assert.ok(fs.existsSync(path.join(fileURLToPath(traced.artifact.prefix), 'manifest.json')));
  });
});

/** Polls the workflow's pending activity until its heartbeat details name one of `steps`. */
async function waitForHeartbeatStep(handle: WorkflowHandle, steps: string[]): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const { raw } = await handle.describe();
    const payload = raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0];
    if (payload) {
      const details = defaultPayloadConverter.fromPayload<{ step?: string }>(payload);
      if (details.step && steps.includes(details.step)) return details.step;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the trace never heartbeated a step among ${steps.join(', ')}`);
}
