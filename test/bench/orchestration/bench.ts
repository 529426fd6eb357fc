/**
 * Orchestration overhead (issue: durable pipeline): 3,000 models through traceModels with a no-op
 * tracer on the embedded server, against a raw baseline of the same no-op activities at the same
 * concurrency. Prints both wall times and their ratio.
 *   npx tsc && node dist/test/bench/orchestration/bench.js [models]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger, Worker } from '@temporalio/worker';
import { projectPaths } from '../../../src/config/paths';
import { freePort } from '../../../src/dev/ports';
import { startEmbeddedServer } from '../../../src/dev/temporal-server';
import type { TraceModelInput, TraceModelResult } from '../../../src/domain/tracing';

const MODELS = Number(process.argv[2] ?? 3000);
const BATCH = 250;
const CHILDREN = 4;
const PER_CHILD = 2;

async function noopTrace(input: TraceModelInput): Promise<TraceModelResult> {
  const prefix = `models/${input.modelId}/cpu/noop`;
  return {
    artifact: {
      modelId: input.modelId,
      processor: 'cpu',
      traceKey: 'noop',
      prefix,
      modelUri: `${prefix}/model.pt`,
      manifestUri: `${prefix}/manifest.json`,
      profileUri: `${prefix}/profile.json`,
    },
    cached: true,
    attempt: 1,
    resumedFrom: null,
    traceSeconds: 0,
    outputCheck: null,
    demand: {
      processor: 'cpu',
      expectedRequestsPerSecond: 1,
      memoryGiB: 0.1,
      compute: 0.01,
      hostMemoryGiB: 0.1,
    },
  };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-bench-'));
  const port = await freePort();
  const server = await startEmbeddedServer(projectPaths(), {
    port,
    uiPort: await freePort(),
    dbFile: path.join(state, 'temporal.db'),
    namespace: 'default',
    headless: true,
    logFile: path.join(state, 'temporal.log'),
  });
  const address = `127.0.0.1:${port}`;
  const connection = await NativeConnection.connect({ address });
  const workflows = await Worker.create({
    connection,
    taskQueue: 'stowage',
    workflowsPath: require.resolve('./workflows'),
  });
  const tracer = await Worker.create({
    connection,
    taskQueue: 'stowage-tracer-cpu',
    activities: { traceModel: noopTrace },
  });
  const client = new Client({ connection: await Connection.connect({ address }) });
  const concurrency = CHILDREN * PER_CHILD;

  const timed = async (name: string, args: unknown): Promise<number> => {
    const started = performance.now();
    await client.workflow.execute(name, { taskQueue: 'stowage', workflowId: `bench-${name}`, args: [args] });
    return (performance.now() - started) / 1000;
  };
  try {
    await workflows.runUntil(
      tracer.runUntil(async () => {
        const fleet = await timed('traceFleet', {
          models: MODELS,
          batchSize: BATCH,
          childrenInFlight: CHILDREN,
          perChild: PER_CHILD,
        });
        const raw = await timed('rawFanout', { count: MODELS, concurrency });
        console.log(
          `models: ${MODELS}, concurrency: ${concurrency} (${CHILDREN} traceModels children × ${PER_CHILD})`,
        );
        console.log(`traceModels (batched children): ${fleet.toFixed(1)} s`);
        console.log(`raw no-op activities:           ${raw.toFixed(1)} s`);
        console.log(`overhead ratio:                 ${(fleet / raw).toFixed(2)}×`);
      }),
    );
  } finally {
    await client.connection.close();
    await connection.close();
    await server.stop();
    fs.rmSync(state, { recursive: true, force: true });
  }
}

void main();
