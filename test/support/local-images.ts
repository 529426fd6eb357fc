import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectPaths } from '../../src/config/paths';
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

/**
 * The Python distributions the CPU base installs, read from images/base/cpu/Containerfile itself (torch,
 * then the names its second pip install takes), so the local base cannot drift from the real one.
 */
export function cpuBasePackages(containerfile: string): string[] {
  const text = fs.readFileSync(containerfile, 'utf8').replace(/\\\n/g, ' ');
  const names = /-c \/tmp\/requirements\.txt\s+([^&]+)&&/.exec(text)?.[1].trim().split(/\s+/);
  if (!names?.length || !text.includes('"torch==')) {
    throw new Error(`${containerfile}: cannot find the packages its pip install names`);
  }
  return ['torch', ...names];
}

/** Top-level site-packages entries of the named distributions and everything they require (markers evaluated). */
const CLOSURE_SCRIPT = `
import importlib.metadata as md, json, re, sys
from packaging.requirements import Requirement
seen, todo, tops = {}, list(sys.argv[1:]), set()
while todo:
    name = todo.pop()
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        continue
    seen[key] = dist = md.distribution(name)
    for text in dist.requires or []:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            todo.append(req.name)
for dist in seen.values():
    tops.update(f.parts[0] for f in dist.files or [] if f.parts[0] not in ("..", "bin", "__pycache__"))
print(json.dumps(sorted(tops)))
`;

/** A shared library and the loader's view of it: Debian's merged /usr, so /lib/x → /usr/lib/x. */
function usrPath(file: string): string {
  return file.startsWith('/usr/') ? file : `/usr${file}`;
}

/** What `ldd` says the given binaries load, as absolute paths. */
function sharedLibraries(binaries: string[]): string[] {
  const out = execFileSync('ldd', binaries, { encoding: 'utf8' });
  return [...new Set([...out.matchAll(/(\/[^\s:]+\.so[.\d]*)/g)].map((m) => m[1]))];
}

export interface LocalPythonBase {
  /** Mount every container of the image needs: the host venv's site-packages, read-only, at its own path. */
  mounts: string[];
}

/**
 * A CPU base made on this machine, without a download: Debian's Python 3.11 with its standard library and
 * shared libraries, /bin/sh, user 10001, and a venv at /opt/venv (PATH first, as in the real base) whose
 * site-packages holds exactly the given distributions and their requirements — as links into the tracer's
 * venv, which the container mounts read-only. The real base pip-installs them; copying torch's 4 GB of
 * CUDA wheels into vfs layers three times is what the links spare. A package the server imports that
 * the base does not install fails here as it would on the real base.
 */
export async function commitLocalPythonBase(
  buildah: Buildah,
  work: string,
  tag: string,
  packages: string[],
  consoleScripts: string[] = [],
): Promise<LocalPythonBase> {
  const rootfs = fs.mkdtempSync(path.join(work, 'python-base-'));
  const venv = fs.realpathSync(path.dirname(path.dirname(projectPaths().python)));
  const sitePackages = path.join(venv, 'lib', 'python3.11', 'site-packages');
  const put = (from: string, to = from) => {
    fs.mkdirSync(path.dirname(path.join(rootfs, to)), { recursive: true });
    fs.cpSync(fs.realpathSync(from), path.join(rootfs, to), {
      recursive: true,
      filter: (src) => !src.startsWith('/usr/lib/python3.11/test') && !src.includes('__pycache__'),
    });
  };
  const python = fs.realpathSync('/usr/bin/python3.11');
  put(python, '/usr/bin/python3.11');
  put('/usr/lib/python3.11');
  put('/bin/dash', '/usr/bin/dash');
  fs.symlinkSync('dash', path.join(rootfs, 'usr/bin/sh'));
  const dynload = fs
    .readdirSync('/usr/lib/python3.11/lib-dynload')
    .map((f) => path.join('/usr/lib/python3.11/lib-dynload', f));
  // glibc's, libstdc++'s and libgcc's own libraries: torch's wheels load libpthread and friends by name.
  const runtimeLibs = execFileSync('dpkg', ['-L', 'libc6', 'libstdc++6', 'libgcc-s1'], { encoding: 'utf8' })
    .split('\n')
    .filter((f) => /^\/(usr\/)?lib\/x86_64-linux-gnu\/[^/]+\.so[.\d]*$/.test(f));
  for (const lib of new Set([...sharedLibraries([python, '/bin/dash', ...dynload]), ...runtimeLibs])) {
    put(lib, usrPath(lib));
  }
  for (const [link, target] of [
    ['bin', 'usr/bin'],
    ['lib', 'usr/lib'],
    ['lib64', 'usr/lib64'],
  ]) {
    fs.symlinkSync(target, path.join(rootfs, link));
  }
  fs.mkdirSync(path.join(rootfs, 'etc'));
  fs.writeFileSync(
    path.join(rootfs, 'etc/passwd'),
    'root:x:0:0::/root:/bin/sh\nstowage:x:10001:10001::/nonexistent:/usr/sbin/nologin\n',
  );
  const venvBin = path.join(rootfs, 'opt/venv/bin');
  const venvSite = path.join(rootfs, 'opt/venv/lib/python3.11/site-packages');
  fs.mkdirSync(venvBin, { recursive: true });
  fs.mkdirSync(venvSite, { recursive: true });
  fs.writeFileSync(
    path.join(rootfs, 'opt/venv/pyvenv.cfg'),
    'home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11\n',
  );
  fs.symlinkSync('/usr/bin/python3.11', path.join(venvBin, 'python'));
  for (const script of consoleScripts) {
    // The host venv's entry point, its shebang pointed at the image's interpreter.
    const text = fs
      .readFileSync(path.join(venv, 'bin', script), 'utf8')
      .replace(/^#!.*/, '#!/opt/venv/bin/python');
    fs.writeFileSync(path.join(venvBin, script), text, { mode: 0o755 });
  }
  const tops = JSON.parse(
    execFileSync(projectPaths().python, ['-c', CLOSURE_SCRIPT, ...packages], { encoding: 'utf8' }),
  ) as string[];
  for (const top of tops) fs.symlinkSync(path.join(sitePackages, top), path.join(venvSite, top));

  const container = (await buildah.run(['from', 'scratch'])).trim();
  await buildah.run(['copy', container, `${rootfs}/`, '/']);
  for (const env of ['PATH=/opt/venv/bin:/usr/bin:/bin', 'OMP_NUM_THREADS=1'])
    await buildah.run(['config', '--env', env, container]);
  await buildah.run(['commit', '--rm', container, tag]);
  fs.rmSync(rootfs, { recursive: true, force: true });
  return { mounts: [`${sitePackages}:${sitePackages}:ro`] };
}

/**
 * The k6 image, made from the k6 setup built (grafana/k6 needs Docker Hub): the binary and the shared
 * libraries it loads, run as a non-root user with k6 as its entrypoint, as grafana/k6 is.
 */
export async function commitLocalK6Image(buildah: Buildah, work: string, tag: string): Promise<void> {
  const rootfs = fs.mkdtempSync(path.join(work, 'k6-'));
  const k6 = path.join(projectPaths().toolsBin, 'k6');
  const libs = (() => {
    try {
      return sharedLibraries([k6]);
    } catch {
      return []; // a static binary: ldd says "not a dynamic executable" and exits 1
    }
  })();
  for (const file of [k6, ...libs]) {
    const to = path.join(rootfs, file === k6 ? '/usr/bin/k6' : usrPath(file));
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(fs.realpathSync(file), to);
    fs.chmodSync(to, 0o755);
  }
  fs.symlinkSync('usr/lib', path.join(rootfs, 'lib'));
  fs.symlinkSync('usr/lib64', path.join(rootfs, 'lib64'));
  fs.mkdirSync(path.join(rootfs, 'etc'));
  fs.mkdirSync(path.join(rootfs, 'tmp'));
  fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
  fs.writeFileSync(
    path.join(rootfs, 'etc/passwd'),
    'root:x:0:0::/root:/bin/sh\nk6:x:12345:12345::/home/k6:/bin/sh\n',
  );
  const container = (await buildah.run(['from', 'scratch'])).trim();
  await buildah.run(['copy', container, `${rootfs}/`, '/']);
  await buildah.run(['config', '--entrypoint', '["k6"]', '--user', '12345:12345', container]);
  await buildah.run(['commit', '--rm', container, tag]);
  fs.rmSync(rootfs, { recursive: true, force: true });
}
