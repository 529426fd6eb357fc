import fs from 'node:fs';
import path from 'node:path';
import { ManagedChild, waitUntil } from '../child';
import { freePort } from '../ports';
import { probe } from './probe';

export interface Etcd {
  child: ManagedChild;
  clientUrl: string;
}

/** A single-member etcd on loopback ports (never the default 2379/2380 a real one may hold). */
export async function startEtcd(options: {
  binary: string;
  dataDir: string;
  logFile: string;
  /** Called as soon as the process exists, so that it is on record before it is ready. */
  onSpawn?: (child: ManagedChild) => void;
}): Promise<Etcd> {
  fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const clientUrl = `http://127.0.0.1:${await freePort()}`;
  const peerUrl = `http://127.0.0.1:${await freePort()}`;
  const child = ManagedChild.spawn(
    'etcd',
    options.binary,
    [
      '--name=stowage-test',
      `--data-dir=${path.resolve(options.dataDir)}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=stowage-test=${peerUrl}`,
      '--initial-cluster-state=new',
      // A test cluster's data dies with it: no need to wait for the shared disk on every write.
      '--unsafe-no-fsync',
      '--logger=zap',
      '--log-level=warn',
    ],
    { logFile: options.logFile },
  );
  options.onSpawn?.(child);
  try {
    await waitUntil('etcd to answer /health', () => probe(`${clientUrl}/health`), {
      timeoutMs: 60_000,
      child,
      intervalMs: 200,
    });
  } catch (err) {
    await child.stop(2000);
    throw err;
  }
  return { child, clientUrl };
}
