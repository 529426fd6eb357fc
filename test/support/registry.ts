import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectPaths } from '../../src/config/paths';
import { ManagedChild, waitUntil } from '../../src/dev/child';
import { freePort } from '../../src/dev/ports';
import { testStateDir } from './stack';

/**
 * Debian's docker-registry (the CNCF distribution registry, 2.8) on a free loopback port, plain HTTP,
 * with its own config file and storage folder under the test state dir. Two flavours, each started by
 * the first test that asks for it, once per mocha run, and stopped by the global teardown
 * (test/support/hooks.ts): an open one, and one with htpasswd auth for "the registry refuses the push".
 */
export interface TestRegistry {
  /** `127.0.0.1:<port>`, as in image references. */
  host: string;
  url: string;
  storage: string;
  /** Set on the htpasswd flavour: the only credentials it accepts. */
  credentials?: { username: string; password: string };
}

const flavours = new Map<'open' | 'auth', Promise<{ registry: TestRegistry; child: ManagedChild }>>();

/**
 * The registry's htpasswd takes bcrypt hashes only. Node has no bcrypt and no npm package is added for
 * one test, so glibc's crypt(3) (libxcrypt, which implements $2b$) hashes it through Python's crypt
 * module in the tracer's venv (Python 3.11; the module leaves Python in 3.13).
 */
async function bcrypt(password: string): Promise<string> {
  const { stdout } = await promisify(execFile)(projectPaths().python, [
    '-W',
    'ignore',
    '-c',
    'import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))',
    password, // a throwaway test password: an argument is fine here
  ]);
  const hash = stdout.trim();
  if (!hash.startsWith('$2'))
    throw new Error(`could not make a bcrypt hash with Python's crypt (got ${hash})`);
  return hash;
}

function config(options: { port: number; storage: string; htpasswd?: string }): string {
  // JSON is YAML: one serialiser, no indentation mistakes.
  return JSON.stringify(
    {
      version: 0.1,
      log: { level: 'info', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: options.storage }, delete: { enabled: true } },
      http: { addr: `127.0.0.1:${options.port}`, secret: 'stowage-test-registry' },
      ...(options.htpasswd ? { auth: { htpasswd: { realm: 'stowage-test', path: options.htpasswd } } } : {}),
    },
    null,
    2,
  );
}

export function testRegistry(flavour: 'open' | 'auth' = 'open'): Promise<TestRegistry> {
  let started = flavours.get(flavour);
  if (!started) {
    started = (async () => {
      const dir = fs.mkdtempSync(path.join(testStateDir(), `registry-${flavour}-`));
      const storage = path.join(dir, 'storage');
      fs.mkdirSync(storage);
      let credentials: TestRegistry['credentials'];
      let htpasswd: string | undefined;
      if (flavour === 'auth') {
        credentials = { username: 'stowage', password: `pw-${process.pid}-${Date.now()}` };
        htpasswd = path.join(dir, 'htpasswd');
        fs.writeFileSync(htpasswd, `${credentials.username}:${await bcrypt(credentials.password)}\n`);
      }
      const port = await freePort();
      const configFile = path.join(dir, 'config.yml');
      fs.writeFileSync(configFile, config({ port, storage, htpasswd }));
      const child = ManagedChild.spawn('docker-registry', 'docker-registry', ['serve', configFile], {
        logFile: path.join(testStateDir(), 'logs', `registry-${flavour}.log`),
      });
      const url = `http://127.0.0.1:${port}`;
      try {
        // /v2/ answers 200 (open) or 401 (auth) once the registry listens.
        await waitUntil(
          'docker-registry to answer /v2/',
          async () => [200, 401].includes((await fetch(`${url}/v2/`)).status),
          {
            timeoutMs: 30_000,
            child,
          },
        );
      } catch (err) {
        await child.stop();
        throw err;
      }
      return { child, registry: { host: `127.0.0.1:${port}`, url, storage, credentials } };
    })();
    flavours.set(flavour, started);
  }
  return started.then((s) => s.registry);
}

export async function stopTestRegistries(): Promise<void> {
  const running = [...flavours.values()];
  flavours.clear();
  await Promise.all(running.map(async (p) => (await p.catch(() => undefined))?.child.stop()));
}
