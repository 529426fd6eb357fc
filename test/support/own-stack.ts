import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { projectPaths, type ProjectPaths } from '../../src/config/paths';
import { parseTemporalOptions } from '../../src/config/temporal';
import type { ManagedChild } from '../../src/dev/child';
import { freePort } from '../../src/dev/ports';
import { startPythonWorker } from '../../src/dev/python-worker';
import { startEmbeddedServer } from '../../src/dev/temporal-server';
import { STOWAGE_BIN } from './cli';

/**
 * A stack of a test file's own, for tests that must kill or look at pieces the shared stack keeps
 * in-process or headless: the embedded dev server (optionally with its Web UI), the real Python tracer
 * worker, and the TypeScript worker as separate `stowage worker` processes that can be SIGKILLed.
 */
export class OwnStack {
  private readonly tsWorkers: ChildProcess[] = [];

  private constructor(
    readonly paths: ProjectPaths,
    readonly address: string,
    readonly uiPort: number,
    private server: ManagedChild,
    public tracer: ManagedChild,
    readonly client: Client,
  ) {}

  static async start(options: { name: string; ui?: boolean }): Promise<OwnStack> {
    const state = fs.mkdtempSync(path.join(os.tmpdir(), `stowage-${options.name}-`));
    const paths = { ...projectPaths(), state, artifacts: path.join(state, 'artifacts') };
    const port = await freePort();
    const uiPort = await freePort();
    const address = `127.0.0.1:${port}`;
    const server = await startEmbeddedServer(paths, {
      port,
      uiPort,
      dbFile: path.join(state, 'temporal.db'),
      namespace: 'default',
      headless: !options.ui,
      logFile: path.join(state, 'logs', 'temporal.log'),
    });
    let tracer: ManagedChild | undefined;
    try {
      tracer = await OwnStack.startTracer(paths, address);
      const client = new Client({ connection: await Connection.connect({ address }) });
      return new OwnStack(paths, address, uiPort, server, tracer, client);
    } catch (err) {
      await tracer?.stop(3000);
      await server.stop(3000);
      fs.rmSync(state, { recursive: true, force: true });
      throw err;
    }
  }

  private static startTracer(paths: ProjectPaths, address: string): Promise<ManagedChild> {
    return startPythonWorker(paths, {
      temporal: parseTemporalOptions({ address }),
      processors: ['cpu'],
      logFile: path.join(paths.state, 'logs', 'python-tracer.log'),
    });
  }

  get uiUrl(): string {
    return `http://127.0.0.1:${this.uiPort}`;
  }

  /** A new `stowage worker` process on this stack's server and artifact root. */
  startTsWorker(): ChildProcess {
    const log = fs.openSync(path.join(this.paths.state, 'logs', 'ts-worker.log'), 'a');
    const proc = spawn(process.execPath, [STOWAGE_BIN, 'worker', '--temporal-address', this.address], {
      env: { ...process.env, STOWAGE_STATE_DIR: this.paths.state, STOWAGE_ARTIFACTS: this.paths.artifacts },
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    this.tsWorkers.push(proc);
    return proc;
  }

  /** SIGKILL, as a crash would: no shutdown hook of the worker runs. */
  async killTsWorker(proc: ChildProcess): Promise<void> {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    }
  }

  /** Every TypeScript worker this stack started (their model servers exit with them). */
  async killTsWorkers(): Promise<void> {
    for (const w of this.tsWorkers.splice(0)) await this.killTsWorker(w);
  }

  /** SIGKILLs the Python tracer worker and starts a new one in its place. */
  async crashAndRestartTracer(): Promise<void> {
    this.tracer.kill();
    await this.tracer.exited;
    this.tracer = await OwnStack.startTracer(this.paths, this.address);
  }

  async stop(): Promise<void> {
    await this.killTsWorkers();
    await this.client.connection.close();
    await this.tracer.stop(3000);
    await this.server.stop(3000);
    if (!process.env.STOWAGE_KEEP_TEST_STATE) fs.rmSync(this.paths.state, { recursive: true, force: true });
  }
}
