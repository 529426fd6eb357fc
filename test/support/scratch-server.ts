import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectPaths } from '../../src/config/paths';
import type { ManagedChild } from '../../src/dev/child';
import { freePort } from '../../src/dev/ports';
import { startEmbeddedServer } from '../../src/dev/temporal-server';

/** A headless embedded Temporal server on free ports with a throwaway state folder, for benches and tests. */
export async function startScratchServer(
  name: string,
): Promise<{ state: string; address: string; server: ManagedChild }> {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), `stowage-${name}-`));
  const port = await freePort();
  const server = await startEmbeddedServer(projectPaths(), {
    port,
    uiPort: await freePort(),
    dbFile: path.join(state, 'temporal.db'),
    namespace: 'default',
    headless: true,
    logFile: path.join(state, 'temporal.log'),
  });
  return { state, address: `127.0.0.1:${port}`, server };
}
