import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { WorkflowFailedError, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { makeTinyModels } from '../../src/dev/tiny-models';
import { STOWAGE_TASK_QUEUE } from '../../src/domain/task-queues';
import { eventsOf, scheduledActivities, startedChildren } from '../support/run-history';
import { testPaths, testStack } from '../support/stack';

/**
 * Bad input started straight through the Temporal client, as the UI's Start Workflow form or the official
 * CLI would start it: no client-side check runs, so the workflow's own validation is what answers.
 * (Duplicate ids, an unknown processor and a negative SLO together are in pipeline.test.ts; every
 * message's wording is in test/unit/pipeline-input.test.ts.)
 */
describe('pipeline: bad input started directly through Temporal', function () {
  this.timeout(300_000);

  async function start(raw: unknown): Promise<WorkflowHandle> {
    const stack = await testStack();
    return stack.client.workflow.start('pipeline', {
      taskQueue: STOWAGE_TASK_QUEUE,
      workflowId: `bad-input-${randomUUID()}`,
      args: [raw],
    });
  }

  async function failureOf(handle: WorkflowHandle): Promise<ApplicationFailure> {
    const err = await handle.result().then(
      () => assert.fail('bad input must fail the run'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError, String(err));
    assert.ok(err.cause instanceof ApplicationFailure, String(err.cause));
    return err.cause;
  }

  const model = (id: string) => ({ id, source: `./models/${id}` });
  const cpuCatalog = [
    {
      name: 'local-cpu',
      processor: 'cpu',
      pricePerHour: 0.1,
      devices: 1,
      device: { memoryGiB: 8, compute: 1 },
    },
  ];
  const cases: { name: string; input: unknown; field: RegExp }[] = [
    { name: 'an empty model list', input: { models: [] }, field: /^\/models: the model list is empty$/m },
    {
      name: 'a processor the catalog cannot serve',
      input: { models: [model('a')], processors: ['inf'], catalog: cpuCatalog },
      field: /^\/processors\/0: no instance type in the catalog has processor "inf"$/m,
    },
    {
      name: 'a manifest reference that climbs out of the artifact root',
      input: { models: { manifest: '../../etc/passwd' } },
      field: /^\/models\/manifest: must be an artifact key inside the artifact root/m,
    },
    {
      name: 'an absolute manifest path',
      input: { models: { manifest: '/etc/passwd' } },
      field: /^\/models\/manifest: must be an artifact key inside the artifact root/m,
    },
    {
      name: 'a manifest in another bucket',
      input: { models: { manifest: 's3://other/models.json' } },
      field: /^\/models\/manifest: must be an artifact key inside the artifact root/m,
    },
  ];

  for (const c of cases) {
    it(`${c.name}: fails in its first workflow task, naming the field, with no activity`, async () => {
      const handle = await start(c.input);
      const failure = await failureOf(handle);
      assert.equal(failure.type, 'InvalidInput');
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, c.field);
      const events = await eventsOf(handle);
      assert.deepEqual(scheduledActivities(events), [], 'no activity was scheduled');
      assert.deepEqual(startedChildren(events), [], 'no child workflow was started');
      // "At once": the very first workflow task failed the run; nothing waited on a timer or a retry.
      assert.equal(events.filter((e) => e.workflowTaskCompletedEventAttributes).length, 1);
      assert.ok(events.at(-1)?.workflowExecutionFailedEventAttributes, 'the run ended failed');
    });
  }

  it('1,000,000 inline models: the server refuses the start (payload limit), so no run and no activity exist', async () => {
    // About 40 MB of JSON: far over Temporal's 2 MB payload limit. The workflow's own check (a count before
    // any per-entry work, tested in pipeline-input.test.ts) never gets the chance: no run is created.
    const million = Array.from({ length: 1_000_000 }, (_, i) => model(`m-${i}`));
    const workflowId = `bad-input-${randomUUID()}`;
    const stack = await testStack();
    const err = await stack.client.workflow
      .start('pipeline', { taskQueue: STOWAGE_TASK_QUEUE, workflowId, args: [{ models: million }] })
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    if (err === undefined) {
      // Should a server ever accept it, the workflow must still refuse it in its first task.
      const handle = stack.client.workflow.getHandle(workflowId);
      const failure = await failureOf(handle);
      assert.match(failure.message, /^\/models: 1000000 inline models is more than/m);
      assert.deepEqual(scheduledActivities(await eventsOf(handle)), []);
      return;
    }
    // The client wraps the server's answer: the reason is in the cause chain.
    const reasons: string[] = [];
    for (let e: unknown = err; e instanceof Error; e = e.cause) reasons.push(e.message);
    assert.match(reasons.join(' | '), /size|limit|larger|exceed/i, `a size refusal: ${reasons.join(' | ')}`);
    console.log(`      server's refusal: ${reasons.join(' | ').slice(0, 300)}`);
    await assert.rejects(stack.client.workflow.getHandle(workflowId).describe(), WorkflowNotFoundError);
  });

  it('a model no instance type can hold: found at pack (demand is measured by the trace), naming the models', async () => {
    // How big a model is on a device is only known once it is traced and profiled, so this cannot be
    // refused before the first activity; it must still end the run at pack with a readable message and
    // deploy nothing.
    const sources = await makeTinyModels(testPaths(), {
      out: path.join(testPaths().artifacts, 'bad-input-sources'),
      count: 2,
      prefix: 'unfit',
    });
    const handle = await start({
      name: 'unfit',
      models: sources.map((source, i) => ({ id: `unfit-${i}`, source })),
      trace: { sequenceLength: 32 },
      catalog: [
        {
          name: 'thimble',
          processor: 'cpu',
          pricePerHour: 0.01,
          devices: 1,
          device: { memoryGiB: 0.000001, compute: 1 },
        },
      ],
    });
    const failure = await failureOf(handle);
    assert.equal(failure.type, 'PackFailed');
    assert.match(failure.message, /no model could be placed/);
    for (const id of ['unfit-0', 'unfit-1'])
      assert.match(failure.message, new RegExp(`${id}: fits no device`));
    const events = await eventsOf(handle);
    assert.deepEqual(
      startedChildren(events).map((c) => c.type),
      ['traceModels'],
      'traced, then stopped at pack: no rollout, no load sweep',
    );
    assert.ok(scheduledActivities(events).includes('packPlacement'));
  });
});
