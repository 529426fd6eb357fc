import fs from 'node:fs';
import path from 'node:path';
import { Buildah, type BuildahConfig, buildahConfigSchema } from '../../src/images/buildah';

/** buildah on vfs storage under `work`: nothing a test builds lands in the machine's own container storage. */
export function scratchBuildah(work: string): { config: BuildahConfig; buildah: Buildah } {
  const config = buildahConfigSchema.parse({
    root: path.join(work, 'storage'),
    runroot: path.join(work, 'run'),
    storageDriver: 'vfs',
    isolation: 'chroot',
  });
  return { config, buildah: new Buildah(config) };
}

/**
 * A base image made locally, without a download: a rootfs of a few files. The server image's steps
 * (COPY, ENV, USER, ENTRYPOINT) run nothing inside it, so it needs no shell and no Python.
 */
export async function commitLocalBase(
  buildah: Buildah,
  work: string,
  tag: string,
  files: Record<string, { content: string; mode?: number }> = {
    'etc/passwd': { content: 'root:x:0:0::/root:/bin/sh\n' },
  },
  env: string[] = [],
): Promise<void> {
  const rootfs = path.join(work, 'rootfs');
  for (const [file, { content, mode }] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(rootfs, file)), { recursive: true });
    fs.writeFileSync(path.join(rootfs, file), content, { mode });
  }
  const container = (await buildah.run(['from', 'scratch'])).trim();
  await buildah.run(['copy', container, `${rootfs}/`, '/']);
  for (const e of env) await buildah.run(['config', '--env', e, container]);
  await buildah.run(['commit', '--rm', container, tag]);
}
