import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { activityDepsFromEnv } from '../../activities';
import type { ProjectPaths } from '../config/paths';
import type { TemporalOptions } from '../config/temporal';
import type { Processor } from '../domain/task-queues';
import type { Logger } from '../logging';
import { connectClient, connectWorker } from '../temporal/connect';
import { startPythonWorker, PYTHON_WORKER_MARKER } from './python-worker';
import { createTypeScriptWorker } from '../worker/typescript-worker';
import type { ManagedChild } from './child';
import { ProcessRegistry } from './process-registry';
import { startEmbeddedServer } from './temporal-server';

export interface StackOptions {
  paths: ProjectPaths;
  temporal: TemporalOptions;
  /** Start the embedded dev server; without it the stack joins the cluster at temporal.address. */
  embedded?: { port: number; uiPort: number; dbFile: string; headless?: boolean };
  processors: Processor[] | 'auto';
  logger: Logger;
  /** Where child processes log; default .stowage/logs. */
  logDir?: string;
}

const SERVER_MARKER = 'start-dev';

function startServer(options: StackOptions, namespace: string, logDir: string): Promise<ManagedChild> {
  return startEmbeddedServer(options.paths, {
    ...options.embedded!,
    namespace,
    logFile: path.join(logDir, 'temporal.log'),
  });
}

/**
 * Everything `stowage dev` runs: the embedded Temporal server (optional), the TypeScript worker
 * in this process and the Python tracer worker as a child. Stop order is the reverse of start order.
 */
export class DevStack {
  private tsWorkerRun?: Promise<void>;

  private constructor(
    private readonly options: StackOptions,
    readonly temporal: TemporalOptions,
    readonly client: Client,
    private readonly registry: ProcessRegistry,
    private readonly connection: NativeConnection,
    private readonly tsWorker: Worker,
    public server: ManagedChild | undefined,
    public pythonWorker: ManagedChild,
  ) {}

  static async start(options: StackOptions): Promise<DevStack> {
    const { paths, logger } = options;
    const logDir = options.logDir ?? path.join(paths.state, 'logs');
    const registry = new ProcessRegistry(path.join(paths.state, 'processes.json'));
    for (const orphan of registry.reap()) logger.warn({ orphan }, 'reaped a process left by an earlier run');

    const started: ManagedChild[] = [];
    const undo = async () => {
      for (const child of started.reverse()) await child.stop(3000);
    };
    try {
      let temporal = options.temporal;
      let server: ManagedChild | undefined;
      if (options.embedded) {
        server = await startServer(options, temporal.namespace, logDir);
        started.push(server);
        registry.add({ pid: server.pid, role: 'temporal', marker: SERVER_MARKER });
        temporal = { ...temporal, address: `127.0.0.1:${options.embedded.port}` };
        logger.info(
          { address: temporal.address, db: options.embedded.dbFile },
          'embedded Temporal server ready',
        );
      }
      const client = await connectClient(temporal);
      const connection = await connectWorker(temporal);
      const tsWorker = await createTypeScriptWorker({
        connection,
        namespace: temporal.namespace,
        deps: activityDepsFromEnv(paths),
      });
      const pythonWorker = await startPythonWorker(paths, {
        temporal,
        processors: options.processors,
        logFile: path.join(logDir, 'python-tracer.log'),
      });
      started.push(pythonWorker);
      registry.add({ pid: pythonWorker.pid, role: 'python-tracer', marker: PYTHON_WORKER_MARKER });
      const stack = new DevStack(
        options,
        temporal,
        client,
        registry,
        connection,
        tsWorker,
        server,
        pythonWorker,
      );
      stack.tsWorkerRun = tsWorker.run();
      logger.info('typescript worker polling stowage');
      return stack;
    } catch (err) {
      await undo();
      throw err;
    }
  }

  get logDir(): string {
    return this.options.logDir ?? path.join(this.options.paths.state, 'logs');
  }

  /** Starts a new Python worker in place of the current one (after a crash, or to test one). */
  async restartPythonWorker(): Promise<ManagedChild> {
    await this.pythonWorker.stop(3000);
    this.registry.remove(this.pythonWorker.pid);
    this.pythonWorker = await startPythonWorker(this.options.paths, {
      temporal: this.temporal,
      processors: this.options.processors,
      logFile: path.join(this.logDir, 'python-tracer.log'),
    });
    this.registry.add({ pid: this.pythonWorker.pid, role: 'python-tracer', marker: PYTHON_WORKER_MARKER });
    return this.pythonWorker;
  }

  /**
   * Stops the embedded server and starts it again on the same SQLite file and port: what a crash and
   * restart of Temporal looks like to the workers, which reconnect on their own.
   */
  async restartServer(): Promise<void> {
    if (!this.server) throw new Error('this stack joined an external cluster: it has no server to restart');
    await this.server.stop();
    this.registry.remove(this.server.pid);
    this.server = await startServer(this.options, this.temporal.namespace, this.logDir);
    this.registry.add({ pid: this.server.pid, role: 'temporal', marker: SERVER_MARKER });
  }

  /** Resolves when any part of the stack stops on its own (a crash), with its name. */
  async firstExit(): Promise<string> {
    const parts: Promise<string>[] = [
      this.pythonWorker.exited.then(() => this.pythonWorker.name),
      (this.tsWorkerRun ?? Promise.resolve()).then(
        () => 'typescript worker',
        () => 'typescript worker',
      ),
    ];
    if (this.server) parts.push(this.server.exited.then(() => 'temporal dev server'));
    return Promise.race(parts);
  }

  async stop(): Promise<void> {
    await this.pythonWorker.stop();
    this.registry.remove(this.pythonWorker.pid);
    if (this.tsWorker.getState() === 'RUNNING') this.tsWorker.shutdown();
    await this.tsWorkerRun?.catch((err) => this.options.logger.error({ err }, 'typescript worker failed'));
    await this.connection.close();
    await this.client.connection.close();
    if (this.server) {
      await this.server.stop();
      this.registry.remove(this.server.pid);
    }
  }
}
