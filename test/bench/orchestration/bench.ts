/**
 * Orchestration overhead (issue: durable pipeline): 3,000 models through traceModels with a no-op
 * tracer on the embedded server, against a raw baseline of the same no-op activities at the same
 * concurrency. Prints both wall times and their ratio.
 *   npx tsc && node dist/test/bench/orchestration/bench.js [models]
 */
import fs from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger, Worker } from '@temporalio/worker';
import { noopTrace } from '../../support/noop-tracer';
import { startScratchServer } from '../../support/scratch-server';

const MODELS = Number(process.argv[2] ?? 3000);
const BATCH = 250;
const CHILDREN = 4;
const PER_CHILD = 2;

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const { state, address, server } = await startScratchServer('bench');
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
