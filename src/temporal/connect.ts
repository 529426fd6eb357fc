import fs from 'node:fs';
import { Client, Connection, type TLSConfig } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { ConfigError, type TemporalOptions } from '../config/temporal';

function tlsConfig(options: TemporalOptions): TLSConfig | boolean {
  const read = (file: string, what: string) => {
    try {
      return fs.readFileSync(file);
    } catch {
      throw new ConfigError(`cannot read TLS ${what} file ${file}`);
    }
  };
  if (options.tlsCertPath && options.tlsKeyPath) {
    return {
      serverNameOverride: options.tlsServerName,
      serverRootCACertificate: options.tlsCaPath ? read(options.tlsCaPath, 'CA') : undefined,
      clientCertPair: { crt: read(options.tlsCertPath, 'certificate'), key: read(options.tlsKeyPath, 'key') },
    };
  }
  if (options.tlsCaPath || options.tlsServerName) {
    return {
      serverNameOverride: options.tlsServerName,
      serverRootCACertificate: options.tlsCaPath ? read(options.tlsCaPath, 'CA') : undefined,
    };
  }
  // Temporal Cloud's API keys only travel over TLS.
  return options.tls || Boolean(options.apiKey);
}

/** Bounds a connection attempt: an unreachable address is an error within connectTimeoutMs, not a hang. */
async function withDeadline<T>(what: string, options: TemporalOptions, attempt: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new ConfigError(
            `Temporal at ${options.address} is unreachable (${what}: no answer within ${options.connectTimeoutMs} ms)`,
          ),
        ),
      options.connectTimeoutMs,
    );
  });
  try {
    return await Promise.race([attempt, deadline]);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`Temporal at ${options.address} is unreachable (${what}: ${firstLine(err)})`);
  } finally {
    clearTimeout(timer);
  }
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0];
}

export async function connectClient(options: TemporalOptions): Promise<Client> {
  const connection = await withDeadline(
    'client',
    options,
    Connection.connect({
      address: options.address,
      tls: tlsConfig(options),
      apiKey: options.apiKey,
      connectTimeout: options.connectTimeoutMs,
    }),
  );
  return new Client({ connection, namespace: options.namespace });
}

export async function connectWorker(options: TemporalOptions): Promise<NativeConnection> {
  return withDeadline(
    'worker',
    options,
    NativeConnection.connect({ address: options.address, tls: tlsConfig(options), apiKey: options.apiKey }),
  );
}
