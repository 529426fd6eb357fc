import fs from 'node:fs';
import path from 'node:path';
import { ManagedChild, waitUntil } from '../child';
import { freePort } from '../ports';
import { probe } from './probe';
import { kwokStagesConfig } from './kwok-stages';

/** kwok manages only the nodes carrying this annotation (the node groups this harness creates). */
export const KWOK_ANNOTATION = { key: 'kwok.x-k8s.io/node', value: 'fake' } as const;

/** Simulated pod IPs come from here; kwok's default /24 holds only 254 pods. */
const POD_CIDR = '10.244.0.0/16';

/** kwok: the fake kubelets of every node group, with the stages in kwok-stages.ts and nothing else. */
export async function startKwok(options: {
  binary: string;
  kubeconfig: string;
  workDir: string;
  logFile: string;
  onSpawn?: (child: ManagedChild) => void;
}): Promise<ManagedChild> {
  fs.mkdirSync(options.workDir, { recursive: true });
  const configFile = path.join(options.workDir, 'stages.yaml');
  fs.writeFileSync(configFile, kwokStagesConfig() + '\n');
  const port = await freePort();
  const child = ManagedChild.spawn(
    'kwok',
    options.binary,
    [
      `--config=${configFile}`,
      `--kubeconfig=${options.kubeconfig}`,
      `--manage-nodes-with-annotation-selector=${KWOK_ANNOTATION.key}=${KWOK_ANNOTATION.value}`,
      `--server-address=127.0.0.1:${port}`,
      `--cidr=${POD_CIDR}`,
    ],
    // kwok also reads ~/.kwok/kwok.yaml when it exists: a HOME of its own keeps a developer's out.
    { logFile: options.logFile, env: { ...process.env, HOME: options.workDir } },
  );
  options.onSpawn?.(child);
  try {
    await waitUntil('kwok to be healthy', () => probe(`http://127.0.0.1:${port}/healthz`), {
      timeoutMs: 60_000,
      child,
      intervalMs: 300,
    });
  } catch (err) {
    await child.stop(2000);
    throw err;
  }
  return child;
}
