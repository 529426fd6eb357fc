import { Command } from 'commander';
import { cancelPipeline } from '../../client/pipeline';
import { addTemporalFlags, type TemporalFlags } from '../temporal-flags';
import { withClient } from './status';

export function cancelCommand(): Command {
  return addTemporalFlags(new Command('cancel'))
    .description('cancel a running pipeline: it stops the model servers it started and keeps its artifacts')
    .argument('<workflowId>', 'the run to cancel')
    .option('--json', 'print one JSON document')
    .addHelpText(
      'after',
      '\nReturns once cancellation is requested; `stowage status <workflowId>` shows when the run has stopped.\n' +
        'Exit status 1 when the run does not exist or has already ended.',
    )
    .action(async (workflowId: string, flags: TemporalFlags & { json?: boolean }) => {
      await withClient(flags, (client) => cancelPipeline(client, workflowId));
      process.stdout.write(
        flags.json
          ? `${JSON.stringify({ workflowId, cancelRequested: true })}\n`
          : `cancellation of ${workflowId} requested\n`,
      );
    });
}
