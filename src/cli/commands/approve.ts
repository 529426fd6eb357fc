import os from 'node:os';
import { Command } from 'commander';
import { approvePipeline } from '../../client/pipeline';
import { addTemporalFlags, type TemporalFlags } from '../temporal-flags';
import { withClient } from './status';

const APPROVER = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

function defaultApprover(): string {
  const user = (() => {
    try {
      return os.userInfo().username;
    } catch {
      return 'unknown';
    }
  })();
  return APPROVER.test(`cli-${user}`) ? `cli-${user}` : 'cli';
}

export function approveCommand(): Command {
  return addTemporalFlags(new Command('approve'))
    .description('approve the deploy of a run that waits for approval ("approval": {"required": true})')
    .argument('<workflowId>', 'the run to approve')
    .option('--by <name>', 'who approves, recorded in the run (default cli-<your user name>)', (v) => {
      if (!APPROVER.test(v)) throw new Error(`--by must match ${APPROVER.source}`);
      return v;
    })
    .option('--json', 'print one JSON document')
    .addHelpText('after', '\nExit status 1 when the run does not exist, has ended, or waits for nothing.')
    .action(async (workflowId: string, flags: TemporalFlags & { by?: string; json?: boolean }) => {
      const by = flags.by ?? defaultApprover();
      await withClient(flags, (client) => approvePipeline(client, workflowId, by));
      process.stdout.write(
        flags.json
          ? `${JSON.stringify({ workflowId, approvedBy: by })}\n`
          : `approved ${workflowId} (by ${by}); deploy goes ahead\n`,
      );
    });
}
