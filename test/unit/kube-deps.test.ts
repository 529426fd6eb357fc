import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { kubernetesDepsFromEnv } from '../../activities/kubernetes';

describe('kubernetes deps from the worker environment', () => {
  it('reads the kubeconfig STOWAGE_KUBECONFIG names', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-kubeconfig-'));
    const file = path.join(dir, 'config.yaml');
    fs.writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443' } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    try {
      const deps = kubernetesDepsFromEnv({ STOWAGE_KUBECONFIG: file });
      assert.ok(deps?.kubeConfig instanceof KubeConfig);
      assert.equal(deps.kubeConfig.getCurrentCluster()?.server, 'https://127.0.0.1:6443');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('builds an EKS source for STOWAGE_EKS_CLUSTER, and nothing without either', () => {
    assert.equal(typeof kubernetesDepsFromEnv({ STOWAGE_EKS_CLUSTER: 'prod' })?.kubeConfig, 'function');
    assert.equal(kubernetesDepsFromEnv({}), undefined);
  });
});
