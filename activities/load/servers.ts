import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ArtifactStore } from '../../src/artifacts/store';
import type { ProjectPaths } from '../../src/config/paths';
import { ManagedChild, waitUntil } from '../../src/dev/child';
import { freePort } from '../../src/dev/ports';
import { pythonPath } from '../../src/dev/tools';
import type { DeviceLayout, RoutingTable } from '../../src/domain/load-sweep';

/**
 * The local runtime: one model-server process per packed device, on a free loopback port.
 *
 * Every server is recorded in `<state>/model-servers.json` with the run that owns it and the worker
 * that started it. A retried start (the worker died mid-activity, or the attempt timed out) reuses the
 * run's servers when they are all still ready, and otherwise reaps them; any start also reaps servers
 * whose starting worker is gone, so a killed worker leaves nothing running past the next run. The
 * servers also watch their parent and exit with it (`--exit-with-parent`).
 */
export interface ServerRecord {
  runId: string;
  device: number;
  pid: number;
  url: string;
  models: string[];
  ownerPid: number;
  logFile: string;
}

export interface StartModelServersInput {
  runId: string;
  placement: DeviceLayout;
  processor: string;
  maxBatch: number;
  batchWindowMs: number;
}

export interface StartedServers {
  servers: { device: number; instance: number; url: string; pid: number; models: string[] }[];
  routingTable: RoutingTable;
  reused: boolean;
}

const MARKER = 'stowage_tracer serve';

export class ServerRegistry {
  constructor(private readonly file: string) {}

  read(): ServerRecord[] {
    try {
      return JSON.parse(fs.readFileSync(this.file, 'utf8')) as ServerRecord[];
    } catch {
      return [];
    }
  }

  write(records: ServerRecord[]): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const temp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(temp, JSON.stringify(records, null, 2));
    fs.renameSync(temp, this.file);
  }

  update(change: (records: ServerRecord[]) => ServerRecord[]): void {
    this.write(change(this.read()));
  }
}

/** Still the model server we started (its command line names it): guards against pid reuse. */
export function isServerAlive(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(MARKER);
  } catch {
    return false;
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopPid(pid: number, graceMs = 10_000): Promise<void> {
  if (!isServerAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (isServerAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (isServerAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
}

async function isReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

/** The folder of the newest trace of a model for a processor: models/<id>/<processor>/<traceKey>/. */
function modelFolder(artifacts: ArtifactStore, modelId: string, processor: string): string {
  const base = fileURLToPath(artifacts.uri(`models/${modelId}/${processor}/manifest.json`)).replace(
    /manifest\.json$/,
    '',
  );
  const traces = fs.existsSync(base)
    ? fs
        .readdirSync(base, { withFileTypes: true })
        .filter((d) => d.isDirectory() && fs.existsSync(path.join(base, d.name, 'manifest.json')))
        .map((d) => path.join(base, d.name))
    : [];
  if (traces.length === 0) {
    throw ApplicationFailure.nonRetryable(
      `model ${modelId} has no ${processor} trace in the artifact store (${base}): trace it first`,
      'ModelNotTraced',
    );
  }
  return traces.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
}

export function createServerActivities(paths: ProjectPaths, artifacts: ArtifactStore) {
  const registry = new ServerRegistry(path.join(paths.state, 'model-servers.json'));

  /** Kills recorded servers matching `which`; forgets them. */
  async function reap(which: (r: ServerRecord) => boolean): Promise<number> {
    const doomed = registry.read().filter(which);
    await Promise.all(doomed.map((r) => stopPid(r.pid)));
    registry.update((records) =>
      records.filter((r) => !doomed.includes(r) && !doomed.some((d) => d.pid === r.pid)),
    );
    return doomed.filter((r) => r.pid > 0).length;
  }

  return {
    async startModelServers(input: StartModelServersInput): Promise<StartedServers> {
      const ctx = Context.current();
      // Loading and warming models can take minutes on a busy host: heartbeat all along, so a worker that
      // dies mid-start is noticed within the heartbeat timeout rather than the start-to-close one.
      const beat = setInterval(() => ctx.heartbeat({ phase: 'starting' }), 5_000);
      try {
        // Orphans: servers whose starting worker has died (their own runs can no longer stop them).
        await reap((r) => !isProcessAlive(r.ownerPid) || !isServerAlive(r.pid));

        const devices = input.placement.instances.flatMap((inst, instance) =>
          inst.devices.map((models) => ({ instance, models })),
        );
        const mine = registry.read().filter((r) => r.runId === input.runId);
        const sameLayout =
          mine.length === devices.length &&
          devices.every(
            (d, i) => mine.find((r) => r.device === i)?.models.join('\n') === d.models.join('\n'),
          );
        if (sameLayout && (await Promise.all(mine.map((r) => isReady(r.url)))).every(Boolean)) {
          // A retried attempt of this run's start: its servers are up and ready, use them.
          return result(mine, devices, true);
        }
        await reap((r) => r.runId === input.runId);

        const python = pythonPath(paths);
        const runDir = path.join(paths.state, 'model-servers', input.runId);
        fs.mkdirSync(runDir, { recursive: true });
        const started: { child: ManagedChild; record: ServerRecord }[] = [];
        try {
          for (const [device, { models }] of devices.entries()) {
            const specFile = path.join(runDir, `device-${device}.json`);
            const specs = models.map((modelId) => ({
              modelId,
              path: modelFolder(artifacts, modelId, input.processor),
            }));
            fs.writeFileSync(specFile, JSON.stringify({ models: specs }, null, 2));
            const port = await freePort();
            const logFile = path.join(paths.state, 'logs', `model-server-${input.runId}-${device}.log`);
            const child = ManagedChild.spawn(
              `model server ${device}`,
              python,
              [
                '-m',
                'stowage_tracer',
                'serve',
                '--models',
                specFile,
                '--host',
                '127.0.0.1',
                '--port',
                String(port),
                '--max-batch',
                String(input.maxBatch),
                '--batch-window-ms',
                String(input.batchWindowMs),
                // Devices share this machine's cores: one intra-op thread each keeps them from fighting.
                '--threads',
                '1',
                '--exit-with-parent',
              ],
              { logFile, cwd: paths.pythonTracer },
            );
            const record: ServerRecord = {
              runId: input.runId,
              device,
              pid: child.pid,
              url: `http://127.0.0.1:${port}`,
              models,
              ownerPid: process.pid,
              logFile,
            };
            registry.update((records) => [...records, record]);
            started.push({ child, record });
          }
          await Promise.all(
            started.map(({ child, record }) =>
              waitUntil(
                `model server ${record.device} (${record.url}) to be ready`,
                () => isReady(record.url),
                {
                  timeoutMs: 180_000,
                  child,
                  intervalMs: 250,
                },
              ).then(() => ctx.heartbeat({ ready: record.device })),
            ),
          );
        } catch (err) {
          await reap((r) => r.runId === input.runId);
          throw ApplicationFailure.nonRetryable(
            `starting the model servers failed: ${(err as Error).message}`,
            'ModelServerStartFailed',
          );
        }
        // The servers outlive this activity (they serve the sweep): detach so Node does not wait on them.
        for (const { child } of started) child.proc.unref();
        return result(
          started.map((s) => s.record),
          devices,
          false,
        );
      } finally {
        clearInterval(beat);
      }
    },

    async stopModelServers(input: { runId: string }): Promise<{ stopped: number }> {
      return { stopped: await reap((r) => r.runId === input.runId) };
    },

    /**
     * Stops single servers of possibly several runs (a partial rollout retires only the devices it
     * replaced). Servers already gone count as stopped: a retried retire is harmless.
     */
    async stopModelServerDevices(input: {
      servers: { runId: string; device: number }[];
    }): Promise<{ stopped: number }> {
      const wanted = new Set(input.servers.map((s) => `${s.runId}/${s.device}`));
      return { stopped: await reap((r) => wanted.has(`${r.runId}/${r.device}`)) };
    },

    /** For tests and `stowage dev`: the servers a run still has (pid, url). */
    async listModelServers(input: {
      runId: string;
    }): Promise<{ pid: number; url: string; alive: boolean }[]> {
      return registry
        .read()
        .filter((r) => r.runId === input.runId)
        .map((r) => ({ pid: r.pid, url: r.url, alive: isServerAlive(r.pid) }));
    },
  };
}

function result(
  records: ServerRecord[],
  devices: { instance: number; models: string[] }[],
  reused: boolean,
): StartedServers {
  const sorted = [...records].sort((a, b) => a.device - b.device);
  return {
    servers: sorted.map((r) => ({
      device: r.device,
      instance: devices[r.device].instance,
      url: r.url,
      pid: r.pid,
      models: r.models,
    })),
    routingTable: { routes: sorted.flatMap((r) => r.models.map((modelId) => ({ modelId, url: r.url }))) },
    reused,
  };
}
