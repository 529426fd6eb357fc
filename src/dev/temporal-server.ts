import path from 'node:path';
import { Connection } from '@temporalio/client';
import { STOWAGE_SEARCH_ATTRIBUTES } from '../domain/search-attributes';
import type { ProjectPaths } from '../config/paths';
import { assertPortFree } from './ports';
import { ManagedChild, waitUntil } from './child';
import { toolPath } from './tools';

export interface EmbeddedServerOptions {
  port: number;
  uiPort: number;
  /** SQLite file; state survives restarts of the server. */
  dbFile: string;
  namespace: string;
  headless?: boolean;
  logFile: string;
}

const searchAttributeFlag: Record<string, string> = { KEYWORD: 'Keyword', INT: 'Int', DOUBLE: 'Double' };

/** The Temporal CLI's dev server (with its Web UI) as a child process, ready when this resolves. */
export async function startEmbeddedServer(
  paths: ProjectPaths,
  options: EmbeddedServerOptions,
): Promise<ManagedChild> {
  const binary = toolPath(paths, 'temporal');
  await assertPortFree(options.port, 'Temporal gRPC');
  if (!options.headless) await assertPortFree(options.uiPort, 'Temporal Web UI');

  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--db-filename',
    path.resolve(options.dbFile),
    '--namespace',
    options.namespace,
    '--log-level',
    'warn',
    ...STOWAGE_SEARCH_ATTRIBUTES.flatMap((key) => [
      '--search-attribute',
      `${key.name}=${searchAttributeFlag[key.type]}`,
    ]),
    ...(options.headless ? ['--headless'] : ['--ui-port', String(options.uiPort)]),
  ];
  const server = ManagedChild.spawn('temporal dev server', binary, args, { logFile: options.logFile });
  try {
    await waitUntil(
      `the Temporal dev server on port ${options.port}`,
      async () => {
        const connection = await Connection.connect({
          address: `127.0.0.1:${options.port}`,
          connectTimeout: 1000,
        });
        try {
          await connection.workflowService.describeNamespace({ namespace: options.namespace });
          return true;
        } finally {
          await connection.close();
        }
      },
      { timeoutMs: 60_000, child: server, intervalMs: 300 },
    );
  } catch (err) {
    await server.stop(2000);
    throw err;
  }
  return server;
}
