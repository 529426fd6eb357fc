import type { Client } from '@temporalio/client';
import { Command } from 'commander';
import { describePipeline, type PipelineStatus } from '../../client/pipeline';
import { STAGES } from '../../domain/pipeline';
import { connectClient } from '../../temporal/connect';
import { addTemporalFlags, temporalOptionsFromFlags, type TemporalFlags } from '../temporal-flags';

/** Connects with the command's Temporal flags, runs `work`, and always closes the connection. */
export async function withClient<T>(flags: TemporalFlags, work: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectClient(temporalOptionsFromFlags(flags));
  try {
    return await work(client);
  } finally {
    await client.connection.close();
  }
}

export function formatPipelineStatus(s: PipelineStatus): string {
  const lines = [
    `${s.workflowId}  ${s.status}${s.stage ? `  stage ${s.stage}` : ''}`,
    `started ${s.startTime}${s.closeTime ? `, closed ${s.closeTime}` : ''}${s.startedBy ? ` by ${s.startedBy}` : ''}`,
  ];
  if (s.progress) {
    for (const name of STAGES) {
      const p = s.progress.stages[name];
      const count = p.total > 0 ? `${p.done}/${p.total}` : '';
      lines.push(`  ${name.padEnd(7)} ${p.status.padEnd(8)} ${count.padEnd(9)} ${p.detail ?? ''}`.trimEnd());
    }
    if (s.progress.awaitingApproval) lines.push(`awaiting approval: stowage approve ${s.workflowId}`);
    if (s.progress.approvedBy) lines.push(`approved by ${s.progress.approvedBy}`);
    for (const f of s.progress.failures.slice(0, 10))
      lines.push(`  failed ${f.stage}${f.modelId ? ` ${f.modelId}` : ''}: ${f.message}`);
  }
  const cost = s.result?.costPerHour ?? s.progress?.costPerHour ?? s.costPerHour;
  if (cost !== undefined && cost !== null) lines.push(`cost $${cost.toFixed(3)}/hour`);
  if (s.result?.report) lines.push(`report ${s.result.report}`);
  if (s.failure) lines.push(`failure: ${s.failure}`);
  return lines.join('\n');
}

export function statusCommand(): Command {
  return addTemporalFlags(new Command('status'))
    .description("show a pipeline run's status, the progress of each stage, and its result or failure")
    .argument('<workflowId>', 'the run, e.g. pipeline-demo-3f2a9c1b7e04 (as `stowage run` prints it)')
    .option('--json', 'print one JSON document (the same shape as GET /v1/pipelines/{id})')
    .addHelpText(
      'after',
      '\nExit status: 0 when the run was found, 1 when there is no pipeline run with that id.',
    )
    .action(async (workflowId: string, flags: TemporalFlags & { json?: boolean }) => {
      const status = await withClient(flags, (client) => describePipeline(client, workflowId));
      process.stdout.write(flags.json ? `${JSON.stringify(status)}\n` : `${formatPipelineStatus(status)}\n`);
    });
}
