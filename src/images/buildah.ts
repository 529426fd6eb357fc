import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { type RegistryCredentials, RegistryRefused } from './registry';
import { FailureType } from '../domain/failures';

/**
 * Daemonless image builds with buildah (Debian's package). Every call spawns buildah with an argv array
 * (no shell, so nothing in a path or build arg is ever interpreted), and registry credentials travel in a
 * 0600 auth file that exists only for the length of one push: never on a command line, where `ps`, the
 * process table of a shared node or a log line would show them.
 */
export const buildahConfigSchema = z.object({
  binary: z.string().min(1).default('buildah'),
  /** Storage folders (`--root`, `--runroot`); unset: buildah's defaults (/var/lib/containers for root). */
  root: z.string().min(1).optional(),
  runroot: z.string().min(1).optional(),
  /**
   * `vfs` works everywhere (no overlay mounts, no fuse), at the price of full copies per layer; that
   * is what a container without privileges, like a CI runner or a Kubernetes build pod, can use.
   */
  storageDriver: z.string().min(1).optional(),
  /** `chroot` needs no user namespaces or OCI runtime and suffices for images whose RUN steps are trusted. */
  isolation: z.enum(['chroot', 'oci', 'rootless']).optional(),
  /** When to pull the base: `missing` uses a locally present base (tests create theirs locally). */
  pull: z.enum(['missing', 'always', 'never', 'newer']).default('missing'),
  /**
   * Seconds since the epoch for the image's created time and every file in its layers: the same context
   * then gives the same image digest on any machine. null keeps buildah's default (the build time).
   */
  timestamp: z.number().int().nonnegative().nullable().default(0),
});
export type BuildahConfig = z.infer<typeof buildahConfigSchema>;

/** Settings from STOWAGE_BUILDAH* variables, so an operator can adapt buildah to the build host. */
export function buildahConfigFromEnv(env: NodeJS.ProcessEnv = process.env): BuildahConfig {
  return buildahConfigSchema.parse({
    binary: env.STOWAGE_BUILDAH || undefined,
    root: env.STOWAGE_BUILDAH_ROOT || undefined,
    runroot: env.STOWAGE_BUILDAH_RUNROOT || undefined,
    storageDriver: env.STOWAGE_BUILDAH_STORAGE_DRIVER || undefined,
    isolation: env.STOWAGE_BUILDAH_ISOLATION || undefined,
    pull: env.STOWAGE_BUILDAH_PULL || undefined,
    timestamp:
      env.STOWAGE_BUILDAH_TIMESTAMP === 'now'
        ? null
        : env.STOWAGE_BUILDAH_TIMESTAMP
          ? Number(env.STOWAGE_BUILDAH_TIMESTAMP)
          : undefined,
  });
}

export class ImageToolMissing extends Error {
  override name = FailureType.ImageToolMissing;
}

export class BuildahFailed extends Error {
  override name = FailureType.BuildahFailed;
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly output: string,
  ) {
    super(message);
  }
}

export interface RunOptions {
  signal?: AbortSignal;
  /** Each line buildah prints (stdout and stderr), for progress and heartbeats. */
  onLine?: (line: string) => void;
}

/** Output kept for error messages: the tail is what explains a failure. */
const KEEP_OUTPUT = 64 * 1024;

// The distribution spec's error codes for "not allowed", as buildah (containers/image) quotes them.
const REFUSED =
  /\b(unauthorized|denied|forbidden|authentication required|requested access to the resource is denied)\b.*$/im;

export class Buildah {
  constructor(
    readonly config: BuildahConfig,
    /** Told about every buildah invocation (argv without the binary): logs and tests. */
    private readonly onRun?: (args: string[]) => void,
  ) {}

  private globalArgs(): string[] {
    const args: string[] = [];
    if (this.config.root) args.push('--root', this.config.root);
    if (this.config.runroot) args.push('--runroot', this.config.runroot);
    if (this.config.storageDriver) args.push('--storage-driver', this.config.storageDriver);
    return args;
  }

  /** Runs `buildah <global args> <args>`; resolves with stdout, rejects with BuildahFailed or ImageToolMissing. */
  run(args: string[], options: RunOptions = {}): Promise<string> {
    const argv = [...this.globalArgs(), ...args];
    this.onRun?.(argv);
    return new Promise((resolve, reject) => {
      const child = spawn(this.config.binary, argv, {
        stdio: ['ignore', 'pipe', 'pipe'],
        signal: options.signal,
        killSignal: 'SIGTERM',
      });
      let stdout = '';
      let output = '';
      const partial = { out: '', err: '' };
      const take = (stream: 'out' | 'err', chunk: Buffer) => {
        const text = chunk.toString('utf8');
        if (stream === 'out') stdout += text;
        output = (output + text).slice(-KEEP_OUTPUT);
        const lines = (partial[stream] + text).split('\n');
        partial[stream] = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) options.onLine?.(line);
      };
      child.stdout.on('data', (chunk: Buffer) => take('out', chunk));
      child.stderr.on('data', (chunk: Buffer) => take('err', chunk));
      child.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') {
          reject(
            new ImageToolMissing(
              `buildah is not installed (or not at ${this.config.binary}): install Debian's buildah ` +
                '(scripts/setup.sh does) or set STOWAGE_BUILDAH to its path',
            ),
          );
        } else reject(err);
      });
      child.once('close', (code, signal) => {
        for (const rest of [partial.out, partial.err]) if (rest.trim()) options.onLine?.(rest);
        if (code === 0) return resolve(stdout);
        const tail = output.trimEnd().split('\n').slice(-6).join('\n');
        reject(
          new BuildahFailed(
            `buildah ${args[0]} failed (${signal ? `killed by ${signal}` : `exit ${code}`}): ${tail}`,
            code,
            output,
          ),
        );
      });
    });
  }

  /** `buildah bud` (build-using-dockerfile) with cached layers; resolves with the image id. */
  async build(
    options: {
      contextDir: string;
      containerfile: string;
      tags: string[];
      buildArgs: Record<string, string>;
    } & RunOptions,
  ): Promise<string> {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-bud-'));
    try {
      const iidfile = path.join(work, 'iid');
      const args = [
        'bud',
        '--layers',
        `--pull=${this.config.pull}`,
        '--iidfile',
        iidfile,
        '-f',
        options.containerfile,
      ];
      if (this.config.isolation) args.push('--isolation', this.config.isolation);
      if (this.config.timestamp !== null) args.push('--timestamp', String(this.config.timestamp));
      for (const [name, value] of Object.entries(options.buildArgs))
        args.push('--build-arg', `${name}=${value}`);
      for (const tag of options.tags) args.push('--tag', tag);
      args.push(options.contextDir);
      await this.run(args, options);
      return fs.readFileSync(iidfile, 'utf8').trim();
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }

  /**
   * `buildah push` to `docker://<destination>`; resolves with the manifest digest the registry stored.
   * A refusal by the registry becomes RegistryRefused with the registry's own words.
   */
  async push(
    options: {
      image: string;
      destination: string;
      credentials?: RegistryCredentials;
      tlsVerify: boolean;
    } & RunOptions,
  ): Promise<string> {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-push-'));
    try {
      const digestfile = path.join(work, 'digest');
      const args = ['push', `--tls-verify=${options.tlsVerify}`, '--digestfile', digestfile];
      if (options.credentials) {
        const registry = options.destination.split('/')[0];
        const authfile = path.join(work, 'auth.json');
        const auth = Buffer.from(`${options.credentials.username}:${options.credentials.password}`).toString(
          'base64',
        );
        fs.writeFileSync(authfile, JSON.stringify({ auths: { [registry]: { auth } } }), { mode: 0o600 });
        args.push('--authfile', authfile);
      }
      args.push(options.image, `docker://${options.destination}`);
      try {
        await this.run(args, options);
      } catch (err) {
        const refused = err instanceof BuildahFailed ? REFUSED.exec(err.output) : null;
        if (refused) {
          throw new RegistryRefused(
            `${options.destination.split('/')[0]} refused the push of ${options.destination}: ${refused[0].trim()}`,
            refused[0].trim(),
          );
        }
        throw err;
      }
      return fs.readFileSync(digestfile, 'utf8').trim();
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }

  /** Removes local images by name or id; missing ones are not an error. */
  async removeImages(refs: string[]): Promise<void> {
    if (refs.length === 0) return;
    await this.run(['rmi', '--force', ...refs]).catch((err: unknown) => {
      if (!(err instanceof BuildahFailed && /image not known|no such image/i.test(err.output))) throw err;
    });
  }
}
