import path from 'node:path';
import { Command, Option } from 'commander';
import { projectPaths } from '../../config/paths';
import { DevStack, type StackOptions } from '../../dev/stack';
import type { Processor } from '../../domain/task-queues';
import { createLogger, installTemporalRuntimeLogger, type Logger } from '../../logging';
import { parseProcessorsFlag } from '../processors-flag';
import {
  addTemporalFlags,
  temporalOptionsFromFlags,
  wantsExternalCluster,
  type TemporalFlags,
} from '../temporal-flags';

export interface DevFlags extends TemporalFlags {
  port: number;
  uiPort: number;
  processors: Processor[] | 'auto';
}

export function addDevFlags(command: Command): Command {
  return addTemporalFlags(
    command
      .addOption(
        new Option('--port <port>', 'embedded Temporal gRPC port').default(7233).argParser(parsePort),
      )
      .addOption(
        new Option('--ui-port <port>', 'embedded Temporal Web UI port').default(8233).argParser(parsePort),
      )
      .addOption(
        new Option('--processors <list>', 'tracer queues to serve: auto, or a comma list of cpu,gpu,inf')
          .default('auto')
          .argParser(parseProcessorsFlag),
      ),
  );
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`not a port: ${value}`);
  return port;
}

/** The stack options for `dev` and `demo`: embedded unless pointed at an existing cluster. */
export function stackOptions(flags: DevFlags, logger: Logger): StackOptions {
  const paths = projectPaths();
  const temporal = temporalOptionsFromFlags(flags);
  return {
    paths,
    temporal,
    logger,
    processors: flags.processors,
    embedded: wantsExternalCluster(flags)
      ? undefined
      : { port: flags.port, uiPort: flags.uiPort, dbFile: path.join(paths.state, 'temporal.db') },
  };
}

export function devCommand(): Command {
  return addDevFlags(new Command('dev'))
    .description('run the embedded Temporal server (UI on 8233) and both workers until Ctrl-C')
    .action(async (flags: DevFlags) => {
      const logger = createLogger({ name: 'stowage-dev' });
      installTemporalRuntimeLogger(logger);
      const options = stackOptions(flags, logger);
      const stack = await DevStack.start(options);
      const ui = options.embedded ? `http://127.0.0.1:${options.embedded.uiPort}` : '(your cluster UI)';
      process.stdout.write(
        `stowage dev: Temporal ${stack.temporal.address} (namespace ${stack.temporal.namespace}), UI ${ui}\n` +
          `pids: stowage worker ${process.pid}, python tracer ${stack.pythonWorker.pid}, temporal ${stack.server?.pid ?? '-'}; logs in ${stack.logDir}\n` +
          'Ctrl-C stops everything.\n',
      );
      const signalled = new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      const reason = await Promise.race([signalled, stack.firstExit().then((name) => `${name} exited`)]);
      logger.info({ reason }, 'stopping');
      await stack.stop();
      process.stdout.write(`stowage dev: stopped (${reason})\n`);
      if (!reason.startsWith('SIG')) process.exitCode = 1;
    });
}
