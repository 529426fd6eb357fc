import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectPaths } from '../../src/config/paths';
import { makeTinyModels } from '../../src/dev/tiny-models';
import { toolPath } from '../../src/dev/tools';
import type { PipelineResult } from '../../src/domain/pipeline';
import { type RepackResult, runKeyOf } from '../../src/domain/repack';
import { STOWAGE_TASK_QUEUE } from '../../src/domain/task-queues';
import { killServers, recordedServers } from '../support/fleet-state';
import { testPaths, testStack, testStateDir } from '../support/stack';

/**
 * The official `temporal` CLI starts Stowage's public workflow types by name with the JSON from
 * examples/ (what the README shows), and the runs complete: no Stowage client code in the start path.
 */
describe('the official temporal CLI starts pipeline and repack from the example JSON', function () {
  this.timeout(600_000);
  const suffix = randomUUID().slice(0, 8);
  const runs: string[] = [];
  let sources: { id: string; source: string }[];

  before(async () => {
    await testStack();
    const made = await makeTinyModels(testPaths(), {
      out: path.join(testPaths().artifacts, `official-cli-${suffix}`),
      count: 2,
      prefix: 'ocli',
    });
    sources = made.map((source, i) => ({ id: `ocli-${i}`, source }));
  });

  after(() => {
    // Both runs leave a serving fleet behind (that is what they are for); this test is done with it.
    for (const runId of runs) killServers(recordedServers(testStateDir(), runId));
  });

  function example(name: string): Record<string, unknown> {
    return JSON.parse(fs.readFileSync(path.join(projectPaths().root, 'examples', name), 'utf8')) as Record<
      string,
      unknown
    >;
  }

  /** `temporal workflow start --type <type> --task-queue stowage --input-file <file>`; the workflow id. */
  async function officialStart(type: string, input: unknown): Promise<string> {
    const workflowId = `official-cli-${type}-${suffix}`;
    const file = path.join(testStateDir(), `${workflowId}.json`);
    fs.writeFileSync(file, JSON.stringify(input, null, 2));
    const stack = await testStack();
    const { stdout } = await promisify(execFile)(toolPath(projectPaths(), 'temporal'), [
      'workflow',
      'start',
      '--type',
      type,
      '--task-queue',
      STOWAGE_TASK_QUEUE,
      '--workflow-id',
      workflowId,
      '--input-file',
      file,
      '--address',
      stack.temporal.address,
    ]);
    assert.match(stdout, new RegExp(workflowId), 'the CLI reports the started run');
    return workflowId;
  }

  it('pipeline: examples/pipeline.local.json (2 of its models, sources in the test store) completes', async () => {
    const stack = await testStack();
    const base = example('pipeline.local.json');
    const models = base.models as { id: string }[];
    const input = {
      ...base,
      models: models.slice(0, 2).map((m, i) => ({ ...m, source: sources[i].source })),
      loadTest: { ...(base.loadTest as object), stepSeconds: 2, maxSteps: 2 },
    };
    const workflowId = await officialStart('pipeline', input);
    runs.push(workflowId);
    const handle = stack.client.workflow.getHandle(workflowId);
    const result = (await handle.result()) as PipelineResult;
    assert.equal(result.modelsServed, 2);
    const described = await handle.describe();
    assert.equal(described.type, 'pipeline');
    assert.equal(described.searchAttributes.StowageStage?.[0], 'done');
  });

  it('repack: examples/repack.local.json on an inventory of 2 models completes its initial rollout', async () => {
    const stack = await testStack();
    const inventory = `inventory/official-cli-${suffix}.json`;
    fs.mkdirSync(path.join(testPaths().artifacts, 'inventory'), { recursive: true });
    fs.writeFileSync(
      path.join(testPaths().artifacts, ...inventory.split('/')),
      JSON.stringify({ models: sources }),
    );
    // Its own fleet name and inventory: the shared stack's other fleets stay out of this one.
    const workflowId = await officialStart('repack', {
      ...example('repack.local.json'),
      name: `ocli-${suffix}`,
      inventory,
    });
    runs.push(runKeyOf(workflowId));
    const handle = stack.client.workflow.getHandle(workflowId);
    const result = (await handle.result()) as RepackResult;
    assert.equal(result.decision, 'initial');
    assert.equal(result.traceFailureCount, 0);
    assert.ok(result.changedDevices > 0, 'the first run of a fleet deploys it');
    assert.equal(result.smokeTest?.failures, 0);
    assert.equal((await handle.describe()).type, 'repack');
  });
});
