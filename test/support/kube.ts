import path from 'node:path';
import { projectPaths } from '../../src/config/paths';
import { KubeCluster } from '../../src/dev/kube/cluster';
import { createLogger } from '../../src/logging';
import { testStateDir } from './stack';

/**
 * ONE real Kubernetes test cluster for the whole mocha run (etcd, kube-apiserver, controller manager,
 * scheduler, kwok), started by the first test that asks for it and stopped by the global teardown
 * (test/support/hooks.ts). Node groups are the tests' own: use names no other test file uses.
 * Process records live under .stowage/test-kube, so the next run reaps what a killed run left.
 */
let started: Promise<KubeCluster> | undefined;

export function testKube(): Promise<KubeCluster> {
  started ??= (async () => {
    const stateDir = path.join(testStateDir(), 'kube');
    return KubeCluster.start({
      stateDir,
      toolsBin: projectPaths().toolsBin,
      registryDir: path.join(projectPaths().state, 'test-kube'),
      logger: createLogger({ name: 'stowage-test-kube', file: path.join(stateDir, 'logs', 'harness.log') }),
      // Several engineers' builds share the CI machine's two cores: be patient with node changes.
      nodeTimeoutMs: 180_000,
    });
  })();
  return started;
}

/** Stops the cluster if one was started; a later testKube() starts a fresh one. */
export async function stopTestKube(): Promise<void> {
  const cluster = await started?.catch(() => undefined);
  started = undefined;
  await cluster?.stop();
}
