import pino, { type Logger } from 'pino';
import { DefaultLogger, type LogLevel, Runtime } from '@temporalio/worker';

export type { Logger };

/**
 * Structured JSON logs. They go to stderr, or to a file when the terminal belongs to a progress display,
 * so that stdout carries only what a command prints for people or for `--json`.
 */
export function createLogger(options: { name: string; file?: string; level?: string }): Logger {
  const level = options.level ?? process.env.STOWAGE_LOG_LEVEL ?? 'info';
  const destination = options.file
    ? pino.destination({ dest: options.file, mkdir: true, sync: false })
    : pino.destination(2);
  return pino({ name: options.name, level }, destination);
}

const pinoLevel: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

let installed = false;

/** Routes the Temporal SDK's logs (workers, workflows, activities, core) into the same pino logger. */
export function installTemporalRuntimeLogger(logger: Logger): void {
  if (installed) return;
  installed = true;
  const level = (process.env.STOWAGE_TEMPORAL_LOG_LEVEL ?? 'INFO').toUpperCase() as LogLevel;
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => {
      logger[pinoLevel[entry.level]]({ ...entry.meta, sdk: 'temporal' }, entry.message);
    }),
    // Core (Rust) logs join the same stream instead of going straight to the terminal.
    telemetryOptions: { logging: { forward: {} } },
  });
}
