import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { Command } from 'commander';
import { largestHistories, historySizes } from '../../client/history-size';
import { followPipeline, startPipeline } from '../../client/pipeline';
import { projectPaths } from '../../config/paths';
import { ConfigError } from '../../config/temporal';
import type { PipelineProgress, PipelineResult } from '../../domain/pipeline';
import { connectClient } from '../../temporal/connect';
import { formatPipelineSummary, stageWallTimes } from '../pipeline-summary';
import { ProgressDisplay } from '../progress-display';
import { addTemporalFlags, temporalOptionsFromFlags, type TemporalFlags } from '../temporal-flags';

export const DEFAULT_PIPELINE_INPUT = 'examples/pipeline.local.json';

interface RunFlags extends TemporalFlags {
  resume?: string;
  json?: boolean;
  uiUrl?: string;
}

export function readPipelineInput(file: string): Record<string, unknown> {
  const resolved = path.resolve(projectPaths().root, file);
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : resolved, 'utf8');
  } catch {
    throw new ConfigError(`cannot read the pipeline input ${resolved}`);
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`the pipeline input ${resolved} is not JSON: ${(err as Error).message}`);
  }
}

/** Starts (or attaches to) a pipeline run and follows it with progress bars, then prints the summary. */
export async function runAndFollow(
  client: Client,
  raw: Record<string, unknown>,
  options: {
    json?: boolean;
    uiUrl?: string;
    onStarted?: (workflowId: string) => void;
    /** More fields for the --json document (the demo's generated fleet). */
    extra?: () => Record<string, unknown>;
  },
): Promise<{ workflowId: string; result: PipelineResult }> {
  const { handle, started } = await startPipeline(client, raw);
  options.onStarted?.(handle.workflowId);
  const display = options.json ? undefined : new ProgressDisplay();
  if (display) {
    process.stdout.write(`${started ? 'started' : 'attached to'} ${handle.workflowId}\n`);
    if (options.uiUrl)
      process.stdout.write(
        `UI: ${options.uiUrl}/namespaces/${client.options.namespace}/workflows/${handle.workflowId}\n`,
      );
  }
  let last: PipelineProgress | undefined;
  const result = await followPipeline(handle, (p) => {
    last = p;
    display?.update(p);
  }).catch((err: unknown) => {
    if (last) display?.update(last);
    throw err;
  });
  if (options.json) {
    const stages = stageWallTimes(last);
    const histories = largestHistories(await historySizes(client, handle.workflowId));
    const document = { workflowId: handle.workflowId, result, stages, histories, ...options.extra?.() };
    process.stdout.write(`${JSON.stringify(document)}\n`);
  } else process.stdout.write(`${formatPipelineSummary(result, last)}\nreport: ${result.report ?? '-'}\n`);
  return { workflowId: handle.workflowId, result };
}

export function runCommand(): Command {
  return addTemporalFlags(new Command('run'))
    .description('start the pipeline on a JSON input (default: the local example) and follow it')
    .argument(
      '[input]',
      `PipelineInput JSON file, or - for stdin (default ${DEFAULT_PIPELINE_INPUT})`,
      DEFAULT_PIPELINE_INPUT,
    )
    .option('--resume <workflowId>', "reuse an earlier run's stage outputs (no re-tracing)")
    .option('--ui-url <url>', 'Temporal Web UI base URL for the printed link', 'http://127.0.0.1:8233')
    .option('--json', 'print one JSON document at the end instead of progress bars')
    .action(async (file: string, flags: RunFlags) => {
      const raw = readPipelineInput(file);
      if (flags.resume) raw.resumeFrom = flags.resume;
      const client = await connectClient(temporalOptionsFromFlags(flags));
      try {
        await runAndFollow(client, raw, flags);
      } finally {
        await client.connection.close();
      }
    });
}
