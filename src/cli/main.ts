import { WorkflowFailedError } from '@temporalio/client';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/temporal';
import { demoCommand } from './commands/demo';
import { devCommand } from './commands/dev';
import { doctorCommand } from './commands/doctor';
import { runCommand } from './commands/run';
import { packCommand } from './commands/pack';
import { modelsCommand } from './commands/models';
import { scheduleCommand } from './commands/schedule';
import { workerCommand } from './commands/worker';
import { apiCommand } from './commands/api';
import { approveCommand } from './commands/approve';
import { calibrateCommand } from './commands/calibrate';
import { cancelCommand } from './commands/cancel';
import { reportCommand } from './commands/report';
import { statusCommand } from './commands/status';

export function buildProgram(): Command {
  return new Command('stowage')
    .description(
      'Durable Temporal workflows that build, trace, pack, deploy and load-test thousands of models',
    )
    .showHelpAfterError()
    .addCommand(demoCommand())
    .addCommand(devCommand())
    .addCommand(doctorCommand())
    .addCommand(runCommand())
    .addCommand(statusCommand())
    .addCommand(reportCommand())
    .addCommand(approveCommand())
    .addCommand(cancelCommand())
    .addCommand(apiCommand())
    .addCommand(packCommand())
    .addCommand(calibrateCommand())
    .addCommand(scheduleCommand())
    .addCommand(modelsCommand())
    .addCommand(workerCommand());
}

/** Configuration errors are one line and exit 1; anything else is a bug and keeps its stack. */
export async function main(argv = process.argv): Promise<void> {
  try {
    await buildProgram().exitOverride().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`stowage: ${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    if (err instanceof WorkflowFailedError) {
      // The run failed for a reason the workflow already put into words: show those, not a stack.
      process.stderr.write(`stowage: ${err.message}: ${causeChain(err.cause)}\n`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
}

function causeChain(err: unknown): string {
  const messages: string[] = [];
  for (let e = err as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.message) messages.push(e.message);
  }
  return messages.join(' <- ') || 'no cause given';
}

if (require.main === module) {
  void main();
}
