import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { PipelineResult } from '../../src/domain/pipeline';
import { projectPaths, type ProjectPaths } from '../../src/config/paths';
import { parseTemporalOptions } from '../../src/config/temporal';
import type { ManagedChild } from '../../src/dev/child';
import { freePort } from '../../src/dev/ports';
import { startPythonWorker } from '../../src/dev/python-worker';
import { makeTinyModels } from '../../src/dev/tiny-models';
import { startEmbeddedServer } from '../../src/dev/temporal-server';
import { STOWAGE_TASK_QUEUE } from '../../src/domain/task-queues';
import { progressQuery } from '../../workflows/pipeline';
import { STOWAGE_BIN } from '../support/cli';

/**
 * The TypeScript worker SIGKILLed mid-pipeline. It runs in-process in the shared test stack, so this
 * test has a stack of its own where the worker is a separate `stowage worker` process.
 */
describe('pipeline: the TypeScript worker is SIGKILLed mid-run', function () {
  this.timeout(600_000);
  let paths: ProjectPaths;
  let server: ManagedChild;
  let tracer: ManagedChild;
  let client: Client;
  let address: string;
  const workers: ChildProcess[] = [];

  function startTsWorker(): ChildProcess {
    const proc = spawn(process.execPath, [STOWAGE_BIN, 'worker', '--temporal-address', address], {
      env: { ...process.env, STOWAGE_STATE_DIR: paths.state, STOWAGE_ARTIFACTS: paths.artifacts },
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    workers.push(proc);
    return proc;
  }

  before(async () => {
    const state = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-crash-'));
    paths = { ...projectPaths(), state, artifacts: path.join(state, 'artifacts') };
    const port = await freePort();
    address = `127.0.0.1:${port}`;
    server = await startEmbeddedServer(paths, {
      port,
      uiPort: await freePort(),
      dbFile: path.join(state, 'temporal.db'),
      namespace: 'default',
      headless: true,
      logFile: path.join(state, 'logs', 'temporal.log'),
    });
    tracer = await startPythonWorker(paths, {
      temporal: parseTemporalOptions({ address }),
      processors: ['cpu'],
      logFile: path.join(state, 'logs', 'python-tracer.log'),
    });
    client = new Client({ connection: await Connection.connect({ address }) });
  });

  after(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await client?.connection.close();
    await tracer?.stop(3000);
    await server?.stop(3000);
    if (paths) fs.rmSync(paths.state, { recursive: true, force: true });
  });

  it('completes on a restarted worker, with each trace batch and the deploy run once', async () => {
    const sources = await makeTinyModels(paths, { out: path.join(paths.artifacts, 'src'), count: 2 });
    const first = startTsWorker();
    const handle = await client.workflow.start('pipeline', {
      taskQueue: STOWAGE_TASK_QUEUE,
      workflowId: 'crash-pipeline',
      args: [
        {
          name: 'crash',
          models: sources.map((source, i) => ({ id: `crash-${i}`, source })),
          trace: { sequenceLength: 32 },
          loadTest: { stepSeconds: 2, maxSteps: 2 },
        },
      ],
    });
    for (;;) {
      const progress = await handle.query(progressQuery).catch(() => undefined);
      if (progress?.stage === 'trace') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    startTsWorker();

    const result = (await handle.result()) as PipelineResult;
    assert.equal(result.modelsServed, 2);
    const history = await handle.fetchHistory();
    const children = (history.events ?? [])
      .map((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name)
      .filter(Boolean);
    assert.deepEqual(children, ['traceModels', 'rollout', 'loadSweep'], 'each child ran once');
  });
});
