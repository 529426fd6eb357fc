import path from 'node:path';
import { projectPaths } from '../../src/config/paths';
import { ManagedChild, waitUntil } from '../../src/dev/child';
import { freePort } from '../../src/dev/ports';
import { testStateDir } from './stack';

/**
 * moto's server (PyPI, in the tracer's venv): THE ONLY stand-in in the test suite. The EKS API has no
 * local twin, and one moto process serves S3, EKS and ECR together, so the AWS code is tested against
 * one stand-in rather than three. Started by the first test that asks for it, once per mocha run,
 * stopped by the global teardown (test/support/hooks.ts).
 */
export interface Moto {
  endpoint: string;
  region: string;
  /** moto accepts any credentials; fixed ones keep the SDK's default chain (and ~/.aws) out of tests. */
  credentials: { accessKeyId: string; secretAccessKey: string };
}

let started: Promise<{ moto: Moto; child: ManagedChild }> | undefined;

export async function moto(): Promise<Moto> {
  started ??= (async () => {
    const port = await freePort();
    const child = ManagedChild.spawn(
      'moto server',
      projectPaths().python,
      ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)],
      { logFile: path.join(testStateDir(), 'logs', 'moto.log') },
    );
    const endpoint = `http://127.0.0.1:${port}`;
    try {
      // moto's own status route answers once the server (and its Python imports) is up.
      await waitUntil('moto to answer', async () => (await fetch(`${endpoint}/moto-api/data.json`)).ok, {
        timeoutMs: 90_000,
        child,
        intervalMs: 300,
      });
    } catch (err) {
      await child.stop();
      throw err;
    }
    return {
      child,
      moto: {
        endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      },
    };
  })();
  return (await started).moto;
}

export async function stopMoto(): Promise<void> {
  if (!started) return;
  const running = await started.catch(() => undefined);
  started = undefined;
  await running?.child.stop();
}
