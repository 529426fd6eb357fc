import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { podmanGlobalArgs, RUN_LIMIT_ARGS } from '../../src/images/container-runtime';

/**
 * Runs the pods Stowage renders — a Deployment's or a Job's pod template, as the kubelet would — under
 * podman with runc, where no real kubelet runs: ConfigMap volumes become files, emptyDir a shared folder,
 * init containers run one after another to completion before the containers start, `command`/`args`
 * replace the image's entrypoint/cmd as in Kubernetes, and readiness is the template's own HTTP probe.
 * Images are pulled from the (loopback) registry into this runner's own vfs storage, as a node pulls them.
 *
 * Networking: the containers of a pod get their own network namespace on podman's bridge, so every
 * server listens on its own 8080 at its own address, as pods do; init containers use the host's network,
 * where the S3 stand-in (moto, loopback only) is.
 */

interface ContainerSpec {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value: string }[];
  ports?: { name?: string; containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
}

export interface PodSpec {
  initContainers?: ContainerSpec[];
  containers: ContainerSpec[];
  volumes?: {
    name: string;
    configMap?: { name: string; items?: { key: string; path: string }[] };
    emptyDir?: object;
  }[];
}

export interface PodExtras {
  /** Set in every container (what EKS's pod identity webhook injects: the stand-in's endpoint, keys). */
  env?: Record<string, string>;
  /** `podman -v` mounts for every container (the local base's packages). */
  mounts?: string[];
}

export class PodFailed extends Error {
  override name = 'PodFailed';
}

const run = promisify(execFile);

export class PodmanPods {
  private readonly global: string[];
  private readonly started: string[] = [];
  private readonly pulled = new Set<string>();

  constructor(private readonly work: string) {
    this.global = podmanGlobalArgs({ root: path.join(work, 'storage'), runroot: path.join(work, 'run') });
  }

  async podman(args: string[], timeoutMs = 300_000): Promise<string> {
    return (await this.exec(args, timeoutMs)).stdout;
  }

  /** A container's log: podman replays the container's stderr on its own stderr, so both are the log. */
  async logs(container: string): Promise<string> {
    const { stdout, stderr } = await this.exec(['logs', container]).catch(() => ({ stdout: '', stderr: '' }));
    return `${stdout}${stderr}`;
  }

  private async exec(args: string[], timeoutMs = 300_000): Promise<{ stdout: string; stderr: string }> {
    try {
      return await run('podman', [...this.global, ...args], {
        timeout: timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
      });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; code?: number };
      const tail = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-8).join('\n');
      throw new PodFailed(`podman ${args[0]} failed (exit ${e.code}): ${tail}`);
    }
  }

  private async pull(image: string): Promise<void> {
    if (this.pulled.has(image)) return;
    await this.podman(['pull', '--quiet', '--tls-verify=false', image]);
    this.pulled.add(image);
  }

  /** The pod's volumes as host folders: ConfigMap data written out, emptyDir writable by any user. */
  private volumes(pod: string, spec: PodSpec, configMaps: Record<string, Record<string, string>>) {
    const dirs = new Map<string, string>();
    for (const volume of spec.volumes ?? []) {
      const dir = path.join(this.work, 'pods', pod, volume.name);
      fs.mkdirSync(dir, { recursive: true });
      if (volume.configMap) {
        const data = configMaps[volume.configMap.name];
        if (!data) throw new PodFailed(`pod ${pod}: configmap ${volume.configMap.name} was not given`);
        const items = volume.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key }));
        for (const { key, path: file } of items) {
          fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
          fs.writeFileSync(path.join(dir, file), data[key]);
        }
      } else fs.chmodSync(dir, 0o777);
      dirs.set(volume.name, dir);
    }
    return dirs;
  }

  private async runArgs(
    container: ContainerSpec,
    dirs: Map<string, string>,
    extras: PodExtras,
  ): Promise<string[]> {
    await this.pull(container.image);
    const args = ['--pull', 'never', ...RUN_LIMIT_ARGS];
    for (const m of container.volumeMounts ?? []) {
      const dir = dirs.get(m.name);
      if (!dir) throw new PodFailed(`container ${container.name} mounts unknown volume ${m.name}`);
      const source = m.subPath ? path.join(dir, m.subPath) : dir;
      args.push('-v', `${source}:${m.mountPath}${m.readOnly ? ':ro' : ''}`);
    }
    for (const mount of extras.mounts ?? []) args.push('-v', mount);
    const env = { ...extras.env, ...Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value])) };
    for (const [name, value] of Object.entries(env)) args.push('--env', `${name}=${value}`);
    if (container.command) args.push('--entrypoint', JSON.stringify(container.command));
    return [...args, container.image, ...(container.args ?? [])];
  }

  /**
   * Starts a pod: init containers to completion (a failure throws with its exit code and log), then the
   * containers, detached. Resolves with the running pod; `ready()` waits on its readiness probe.
   */
  async start(
    pod: string,
    spec: PodSpec,
    configMaps: Record<string, Record<string, string>>,
    extras: PodExtras = {},
  ): Promise<RunningPod> {
    const dirs = this.volumes(pod, spec, configMaps);
    for (const init of spec.initContainers ?? []) {
      const name = `${pod}-${init.name}`;
      this.started.push(name);
      const args = await this.runArgs(init, dirs, extras);
      await this.podman(['run', '--name', name, '--network', 'host', ...args]).catch((err: Error) => {
        throw new PodFailed(`pod ${pod}: init container ${init.name} failed: ${err.message}`);
      });
    }
    const names: string[] = [];
    for (const c of spec.containers) {
      const name = `${pod}-${c.name}`;
      this.started.push(name);
      names.push(name);
      await this.podman([
        'run',
        '--detach',
        '--name',
        name,
        '--network',
        'bridge',
        ...(await this.runArgs(c, dirs, extras)),
      ]);
    }
    const ip = (
      await this.podman(['inspect', '--format', '{{.NetworkSettings.IPAddress}}', names[0]])
    ).trim();
    return new RunningPod(this, pod, spec, names, ip);
  }

  /** Runs a Job's pod to completion: its exit code and its first container's log. */
  async complete(
    pod: string,
    spec: PodSpec,
    configMaps: Record<string, Record<string, string>>,
    extras: PodExtras = {},
    timeoutMs = 300_000,
  ): Promise<{ exitCode: number; log: string }> {
    const running = await this.start(pod, spec, configMaps, extras);
    const exitCode = Number((await this.podman(['wait', running.containers[0]], timeoutMs)).trim());
    return { exitCode, log: await running.logs() };
  }

  /** Removes every container this runner started. */
  async stopAll(): Promise<void> {
    const names = this.started.splice(0);
    if (names.length > 0) await this.podman(['rm', '--force', '--ignore', '--time', '2', ...names]);
  }
}

export class RunningPod {
  constructor(
    private readonly pods: PodmanPods,
    readonly name: string,
    private readonly spec: PodSpec,
    readonly containers: string[],
    readonly ip: string,
  ) {}

  url(port: number): string {
    return `http://${this.ip}:${port}`;
  }

  logs(): Promise<string> {
    return this.pods.logs(this.containers[0]);
  }

  /** State and host pid of the pod's first container (`running`, `exited`, …). */
  async state(): Promise<{ status: string; exitCode: number; pid: number }> {
    const out = await this.pods.podman([
      'inspect',
      '--format',
      '{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}}',
      this.containers[0],
    ]);
    const [status, exitCode, pid] = out.trim().split(' ');
    return { status, exitCode: Number(exitCode), pid: Number(pid) };
  }

  /**
   * Waits until the first container's readiness probe answers 200, as the kubelet decides Ready. A
   * container that exits first, or a probe still failing at the deadline, fails with the log's tail.
   */
  async ready(timeoutMs = 240_000): Promise<number> {
    const container = this.spec.containers[0];
    const probe = container.readinessProbe?.httpGet;
    if (!probe) throw new PodFailed(`pod ${this.name} has no HTTP readiness probe`);
    const port =
      typeof probe.port === 'number'
        ? probe.port
        : container.ports?.find((p) => p.name === probe.port)?.containerPort;
    if (port === undefined) throw new PodFailed(`pod ${this.name}: probe port ${probe.port} is not declared`);
    const started = Date.now();
    let last = 'no answer yet';
    for (;;) {
      const state = await this.state();
      if (state.status !== 'running') {
        throw new PodFailed(
          `pod ${this.name}: container ${container.name} ${state.status} (exit code ${state.exitCode}) before it was ready: ` +
            (await this.logs()).trim().split('\n').slice(-6).join(' | '),
        );
      }
      try {
        const res = await fetch(`${this.url(port)}${probe.path}`, { signal: AbortSignal.timeout(2000) });
        if (res.ok) return (Date.now() - started) / 1000;
        last = `${probe.path} answered ${res.status}`;
      } catch (err) {
        last = `${probe.path} on port ${port}: ${(err as Error).cause ?? (err as Error).message}`;
      }
      if (Date.now() - started > timeoutMs) {
        throw new PodFailed(
          `pod ${this.name} not ready after ${timeoutMs / 1000} s (${last}): ` +
            (await this.logs()).trim().split('\n').slice(-6).join(' | '),
        );
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
