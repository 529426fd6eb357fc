import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/temporal';
import { demoCommand } from './commands/demo';
import { devCommand } from './commands/dev';
import { doctorCommand } from './commands/doctor';
import { packCommand } from './commands/pack';
import { workerCommand } from './commands/worker';

export function buildProgram(): Command {
  return new Command('stowage')
    .description(
      'Durable Temporal workflows that build, trace, pack, deploy and load-test thousands of models',
    )
    .showHelpAfterError()
    .addCommand(demoCommand())
    .addCommand(devCommand())
    .addCommand(doctorCommand())
    .addCommand(packCommand())
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
    throw err;
  }
}

if (require.main === module) {
  void main();
}
