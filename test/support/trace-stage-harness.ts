import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createPipelineActivities } from '../../activities/pipeline';
import { openArtifactStore } from '../../src/artifacts/store';
import type { TraceStageSummary } from '../../src/domain/pipeline-stages';
import type { TraceModelInput, TraceModelResult } from '../../src/domain/tracing';
import { type HistorySize, historySizes } from '../../src/client/history-size';
import { startScratchServer } from './scratch-server';

/**
 * The pipeline's trace stage (manifest, traceModels batches, batch records) on its own embedded server
 * and in-process workers, with a given traceModel: how histories and payloads grow with the model count.
 */
export async function runTraceStage(options: {
  models: number;
  traceModel: (input: TraceModelInput) => Promise<TraceModelResult>;
}): Promise<{ summary: TraceStageSummary; seconds: number; histories: HistorySize[]; records: unknown[] }> {
  const { state, address, server } = await startScratchServer('trace-stage');
  const artifacts = openArtifactStore(path.join(state, 'artifacts'));
  const connection = await NativeConnection.connect({ address });
  const client = new Client({ connection: await Connection.connect({ address }) });
  try {
    const manifest = 'inventory/scale.json';
    const models = Array.from({ length: options.models }, (_, i) => ({
      id: `m-${i}`,
      source: `./.stowage/artifacts/sources/fleet/tiny-bert-qa-${i}`,
    }));
    await artifacts.writeJson(manifest, { models });
    const workflows = await Worker.create({
      connection,
      taskQueue: 'stowage',
      workflowsPath: require.resolve('./trace-stage-workflows'),
      activities: createPipelineActivities(artifacts),
    });
    const tracer = await Worker.create({
      connection,
      taskQueue: 'stowage-tracer-cpu',
      activities: { traceModel: options.traceModel },
    });
    const runId = `trace-stage-${options.models}`;
    const started = performance.now();
    const summary = await workflows.runUntil(
      tracer.runUntil(
        client.workflow.execute('traceStage', {
          taskQueue: 'stowage',
          workflowId: runId,
          args: [{ runId, manifest, count: options.models }],
        }) as Promise<TraceStageSummary>,
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    const records = await Promise.all(summary.batches.map((key) => artifacts.readJson(key)));
    return { summary, seconds, histories: await historySizes(client, runId), records };
  } finally {
    await client.connection.close();
    await connection.close();
    await server.stop();
    fs.rmSync(state, { recursive: true, force: true });
  }
}
