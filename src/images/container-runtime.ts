import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ContainerRuntimeDescription } from '../domain/doctor';

/**
 * Whether this machine can start containers, and with what: Debian's podman with runc. Podman's default
 * runtime on Debian, crun, refuses hosts whose cgroups are in hybrid v1/v2 mode; runc runs on all three
 * modes. Asked by `stowage doctor`, by setup, and by the tests that start the images Stowage builds,
 * which are skipped with this reason where the answer is no.
 */

/** Storage, runtime and limits every podman call uses (vfs: overlay mounts are not allowed everywhere). */
export interface PodmanStorage {
  root: string;
  runroot: string;
}

export function podmanGlobalArgs(storage: PodmanStorage): string[] {
  return [
    '--runtime',
    'runc',
    '--storage-driver',
    'vfs',
    '--root',
    storage.root,
    '--runroot',
    storage.runroot,
  ];
}

/**
 * Explicit limits for `podman run`: its defaults raise RLIMIT_NOFILE/NPROC above the current hard limit,
 * which a process without CAP_SYS_RESOURCE (a container or CI job running these tests) may not do.
 */
export const RUN_LIMIT_ARGS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];

function cgroupMode(): string {
  if (fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) return 'v2';
  if (fs.existsSync('/sys/fs/cgroup/unified')) return 'hybrid v1/v2';
  return 'v1';
}

const run = promisify(execFile);

async function version(binary: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(binary, ['--version'], { timeout: 10_000 });
    return /(\d+\.\d+\.\d+)/.exec(stdout)?.[1] ?? stdout.trim().split('\n')[0];
  } catch {
    return undefined;
  }
}

export async function probeContainerRuntime(): Promise<ContainerRuntimeDescription> {
  const podman = await version('podman');
  const runc = await version('runc');
  const missing = [podman ? '' : 'podman', runc ? '' : 'runc'].filter(Boolean);
  if (missing.length > 0) {
    return {
      runtime: null,
      reason: `${missing.join(' and ')} not installed (scripts/setup.sh installs Debian's podman and runc)`,
    };
  }
  // `podman info` sets up storage and checks the runtime without needing an image.
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-podman-probe-'));
  try {
    await run(
      'podman',
      [...podmanGlobalArgs({ root: path.join(scratch, 'root'), runroot: path.join(scratch, 'run') }), 'info'],
      { timeout: 60_000 },
    );
  } catch (err) {
    const detail = ((err as { stderr?: string }).stderr || (err as Error).message).trim().split('\n').pop();
    return { runtime: null, reason: `podman ${podman} with runc ${runc} cannot start here: ${detail}` };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  return { runtime: `podman ${podman} + runc ${runc} (cgroups ${cgroupMode()}, vfs storage)`, reason: null };
}
