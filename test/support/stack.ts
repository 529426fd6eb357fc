import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectPaths, type ProjectPaths } from '../../src/config/paths';
import { parseTemporalOptions } from '../../src/config/temporal';
import { freePort } from '../../src/dev/ports';
import { DevStack } from '../../src/dev/stack';
import { createLogger, installTemporalRuntimeLogger } from '../../src/logging';

/**
 * ONE real stack for the whole mocha run: the embedded Temporal dev server (headless, its own SQLite
 * file and free ports), the TypeScript worker and the real Python tracer worker. Started by the first
 * integration test that asks for it, so unit-only runs never start a server.
 */
let started: Promise<DevStack> | undefined;
let stateDir: string | undefined;

export function testStateDir(): string {
  stateDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-test-'));
  return stateDir;
}

export function testPaths(): ProjectPaths {
  return { ...projectPaths(), state: testStateDir(), artifacts: path.join(testStateDir(), 'artifacts') };
}

export function testStack(): Promise<DevStack> {
  started ??= (async () => {
    const paths = testPaths();
    const logger = createLogger({ name: 'stowage-test', file: path.join(paths.state, 'logs', 'test.log') });
    installTemporalRuntimeLogger(logger);
    const port = await freePort();
    return DevStack.start({
      paths,
      logger,
      temporal: parseTemporalOptions({ address: `127.0.0.1:${port}` }),
      embedded: {
        port,
        uiPort: await freePort(),
        dbFile: path.join(paths.state, 'temporal.db'),
        headless: true,
      },
      processors: ['cpu'],
    });
  })();
  return started;
}

export async function stopTestStack(): Promise<void> {
  if (started) {
    const stack = await started.catch(() => undefined);
    started = undefined;
    await stack?.stop();
  }
  if (stateDir && !process.env.STOWAGE_KEEP_TEST_STATE) fs.rmSync(stateDir, { recursive: true, force: true });
}
