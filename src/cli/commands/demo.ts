import { Command } from 'commander';
import { runDoctor } from '../../client/doctor';
import { DevStack } from '../../dev/stack';
import type { Processor } from '../../domain/task-queues';
import { createLogger, installTemporalRuntimeLogger } from '../../logging';
import path from 'node:path';
import { projectPaths } from '../../config/paths';
import { addDoctorFlags, doctorInput, printDoctorReport } from './doctor';
import { addDevFlags, stackOptions, type DevFlags } from './dev';

/**
 * The README's main command: bring up the embedded stack, run the main job, take everything down.
 * Logs go to .stowage/logs so the terminal shows only results.
 */
export function demoCommand(): Command {
  return addDoctorFlags(addDevFlags(new Command('demo')))
    .description('start the embedded stack, run the doctor workflow end to end, print the result, stop')
    .action(async (flags: DevFlags & { tracers: Processor[]; benchmarkMs: number; json?: boolean }) => {
      const logger = createLogger({
        name: 'stowage-demo',
        file: path.join(projectPaths().state, 'logs', 'stowage.log'),
      });
      installTemporalRuntimeLogger(logger);
      const options = stackOptions(flags, logger);
      const stack = await DevStack.start(options);
      try {
        const { workflowId, report } = await runDoctor(stack.client, doctorInput(flags));
        printDoctorReport(report, flags.json);
        if (!flags.json && options.embedded) {
          process.stdout.write(
            `workflow ${workflowId}: http://127.0.0.1:${options.embedded.uiPort}/namespaces/${stack.temporal.namespace}/workflows/${workflowId}\n` +
              '(the UI is up while `stowage dev` runs; state persists in .stowage/temporal.db)\n',
          );
        }
      } finally {
        await stack.stop();
      }
    });
}
