import { Command } from 'commander';
import { activityDepsFromEnv } from '../../../activities';
import { projectPaths } from '../../config/paths';
import { createLogger, installTemporalRuntimeLogger } from '../../logging';
import { connectWorker } from '../../temporal/connect';
import { createTypeScriptWorker } from '../../worker/typescript-worker';
import { addTemporalFlags, temporalOptionsFromFlags, type TemporalFlags } from '../temporal-flags';

/** The TypeScript worker alone, for deployments where Temporal and the tracers run elsewhere. */
export function workerCommand(): Command {
  return addTemporalFlags(new Command('worker'))
    .description('run only the TypeScript worker (task queue stowage) against a Temporal cluster')
    .action(async (flags: TemporalFlags) => {
      const logger = createLogger({ name: 'stowage-worker' });
      installTemporalRuntimeLogger(logger);
      const temporal = temporalOptionsFromFlags(flags);
      const connection = await connectWorker(temporal);
      const paths = projectPaths();
      const worker = await createTypeScriptWorker({
        connection,
        namespace: temporal.namespace,
        deps: activityDepsFromEnv(paths),
      });
      // The SDK installs SIGINT/SIGTERM handlers that shut the worker down gracefully.
      await worker.run();
      await connection.close();
    });
}
