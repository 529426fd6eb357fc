import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure } from '@temporalio/activity';
import type { ArtifactStore } from '../../src/artifacts/store';
import type { ProjectPaths } from '../../src/config/paths';
import { ManagedChild, waitUntil } from '../../src/dev/child';
import { freePort, isPortFree } from '../../src/dev/ports';
import { pythonPath } from '../../src/dev/tools';
import type { DeviceLayout, RoutingTable } from '../../src/domain/load-sweep';
import { heartbeating } from '../heartbeat';
import { FailureType } from '../../src/domain/failures';
import {
  chooseServerSettings,
  serverSettingsArgs,
  type ServerSettings,
} from '../../src/domain/server-settings';

/**
 * The local runtime: one model-server process per packed device, on a free loopback port.
 *
 * Every server is recorded in `<state>/model-servers.json` with the run that owns it and the worker
 * that started it. A retried start (the worker died mid-activity, or the attempt timed out) reuses the
 * run's servers when they are all still ready, and otherwise reaps them; any start also reaps servers
 * whose starting worker is gone, so a killed worker leaves nothing running past the next run. The
 * servers also watch their parent and exit with it (`--exit-with-parent`), so a crash or a power loss
 * takes them down with their worker; `reconcileModelServers` brings such a fleet back from its placement.
 */
export interface ServerRecord {
  runId: string;
  device: number;
  pid: number;
  url: string;
  models: string[];
  ownerPid: number;
  logFile: string;
  /** Workers and threads it was started with (absent in records written before servers had them). */
  settings?: ServerSettings;
}

export interface StartModelServersInput {
  runId: string;
  placement: DeviceLayout;
  processor: string;
  maxBatch: number;
  batchWindowMs: number;
  /**
   * Workers and threads of every server. Absent: chosen here for the devices sharing this machine's
   * cores (localServerSettings), as a run recorded before servers had them was served.
   */
  server?: ServerSettings;
}

export interface StartedServers {
  servers: {
    device: number;
    instance: number;
    url: string;
    pid: number;
    models: string[];
    settings?: ServerSettings;
  }[];
  routingTable: RoutingTable;
  reused: boolean;
}

export interface ReconciledServers extends StartedServers {
  /** The devices whose server was lost and has been started again. */
  restarted: number[];
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
      FailureType.ModelNotTraced,
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

  /** Starts one device's server on `port`, recorded before it is ready (a failed start is reaped). */
  function spawnServer(
    input: StartModelServersInput,
    device: number,
    models: string[],
    port: number,
  ): { child: ManagedChild; record: ServerRecord } {
    const runDir = path.join(paths.state, 'model-servers', input.runId);
    fs.mkdirSync(runDir, { recursive: true });
    const specFile = path.join(runDir, `device-${device}.json`);
    const specs = models.map((modelId) => ({
      modelId,
      path: modelFolder(artifacts, modelId, input.processor),
    }));
    fs.writeFileSync(specFile, JSON.stringify({ models: specs }, null, 2));
    const logFile = path.join(paths.state, 'logs', `model-server-${input.runId}-${device}.log`);
    const settings = input.server ?? localServerSettings(input.processor, devicesOf(input.placement).length);
    const child = ManagedChild.spawn(
      `model server ${device}`,
      pythonPath(paths),
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
        ...serverSettingsArgs(settings),
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
      settings,
    };
    registry.update((records) => [...records, record]);
    return { child, record };
  }

  /**
   * Spawns the servers and waits until every one is ready; on any failure, reaps them and fails for good
   * (a model that cannot load will not load on a retry either).
   */
  async function launch(
    input: StartModelServersInput,
    devices: { device: number; models: string[]; port?: number }[],
    report: (details: unknown) => void,
  ): Promise<ServerRecord[]> {
    const started: { child: ManagedChild; record: ServerRecord }[] = [];
    try {
      for (const { device, models, port } of devices) {
        // A lost server comes back on its old port when it is free: the routing table stays as it was.
        const use = port !== undefined && (await isPortFree(port)) ? port : await freePort();
        started.push(spawnServer(input, device, models, use));
      }
      const ready: number[] = [];
      await Promise.all(
        started.map(({ child, record }) =>
          waitUntil(`model server ${record.device} (${record.url}) to be ready`, () => isReady(record.url), {
            timeoutMs: readyTimeoutMs(record.models.length),
            child,
            intervalMs: 250,
          }).then(() => {
            ready.push(record.device);
            report({ phase: 'starting', ready: [...ready] });
          }),
        ),
      );
    } catch (err) {
      await reap((r) => started.some((s) => s.record.pid === r.pid));
      throw ApplicationFailure.nonRetryable(
        `starting the model servers failed: ${(err as Error).message}`,
        FailureType.ModelServerStartFailed,
      );
    }
    // The servers outlive this activity (they serve the sweep): detach so Node does not wait on them.
    for (const { child } of started) child.proc.unref();
    return started.map((s) => s.record);
  }

  /** Servers whose starting worker has died: their own runs can no longer stop them. */
  const reapOrphans = () => reap((r) => !isProcessAlive(r.ownerPid) || !isServerAlive(r.pid));

  return {
    async startModelServers(input: StartModelServersInput): Promise<StartedServers> {
      // Loading and warming models can take minutes on a busy host: heartbeat all along, so a worker that
      // dies mid-start is noticed within the heartbeat timeout rather than the start-to-close one.
      return heartbeating(
        async (report) => {
          await reapOrphans();
          const devices = devicesOf(input.placement);
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
          const started = await launch(
            input,
            devices.map((d, device) => ({ device, models: d.models })),
            report,
          );
          return result(started, devices, false);
        },
        { phase: 'starting' },
      );
    },

    /**
     * Brings a deployed fleet back to its placement: every device's server that is still alive, owned by
     * a live worker and ready is kept as it is; every other one (killed, lost with its worker in a crash
     * or a power loss, never started) is started again from the placement, on its recorded port when
     * that port is free. Idempotent: on a healthy fleet it changes nothing. The routing table it returns
     * is the one to use from now on (a port that was taken meanwhile gives a device a new URL).
     */
    async reconcileModelServers(input: StartModelServersInput): Promise<ReconciledServers> {
      return heartbeating(
        async (report) => {
          await reapOrphans();
          const devices = devicesOf(input.placement);
          const mine = registry.read().filter((r) => r.runId === input.runId);
          const keep: ServerRecord[] = [];
          const lost: { device: number; models: string[]; port?: number }[] = [];
          for (const [device, { models }] of devices.entries()) {
            const record = mine.find((r) => r.device === device);
            const healthy =
              record !== undefined &&
              record.models.join('\n') === models.join('\n') &&
              isProcessAlive(record.ownerPid) &&
              isServerAlive(record.pid) &&
              (await isReady(record.url));
            if (healthy) keep.push(record);
            else lost.push({ device, models, port: record ? Number(new URL(record.url).port) : undefined });
          }
          // Whatever else this run has recorded is stale: the lost servers' records, devices it no longer has.
          await reap((r) => r.runId === input.runId && !keep.some((k) => k.pid === r.pid));
          report({ phase: 'starting', lost: lost.map((l) => l.device) });
          const started = lost.length > 0 ? await launch(input, lost, report) : [];
          return {
            ...result([...keep, ...started], devices, started.length === 0),
            restarted: lost.map((l) => l.device),
          };
        },
        { phase: 'checking' },
      );
    },

    async stopModelServers(input: { runId: string }): Promise<{ stopped: number }> {
      // Each server gets 10 s to stop gracefully: heartbeat through that.
      return heartbeating(async () => ({ stopped: await reap((r) => r.runId === input.runId) }));
    },

    /**
     * Stops single servers of possibly several runs (a partial rollout retires only the devices it
     * replaced). Servers already gone count as stopped: a retried retire is harmless.
     */
    async stopModelServerDevices(input: {
      servers: { runId: string; device: number }[];
    }): Promise<{ stopped: number }> {
      const wanted = new Set(input.servers.map((s) => `${s.runId}/${s.device}`));
      return heartbeating(async () => ({ stopped: await reap((r) => wanted.has(`${r.runId}/${r.device}`)) }));
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

/**
 * The local runtime's devices share this machine's cores: each device's server gets an equal share, one
 * worker per core and one torch thread per worker (the model sizes are not known here).
 */
export function localServerSettings(processor: string, devices: number): ServerSettings {
  return chooseServerSettings({
    processor,
    cores: Math.floor(os.availableParallelism() / Math.max(1, devices)),
    heaviestForwardMs: null,
    sloP90Ms: 0,
  });
}

function devicesOf(placement: DeviceLayout): { instance: number; models: string[] }[] {
  return placement.instances.flatMap((inst, instance) =>
    inst.devices.map((models) => ({ instance, models })),
  );
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
      ...(r.settings ? { settings: r.settings } : {}),
    })),
    routingTable: { routes: sorted.flatMap((r) => r.models.map((modelId) => ({ modelId, url: r.url }))) },
    reused,
  };
}

/**
 * How long a server may take to load and warm its models: a base, plus a share per model (a device of a
 * 3,040-model fleet holds a thousand), within the start activity's 10-minute start-to-close.
 */
export function readyTimeoutMs(models: number): number {
  return Math.min(180_000 + 250 * models, 540_000);
}
