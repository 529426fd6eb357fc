import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Who talks to the API server. The control-plane users are the ones RBAC's bootstrap policy knows. */
export const IDENTITIES = {
  admin: { user: 'stowage-admin', groups: ['system:masters'] },
  controllerManager: { user: 'system:kube-controller-manager', groups: [] },
  scheduler: { user: 'system:kube-scheduler', groups: [] },
  // kwok writes the status of every node and pod, as all kubelets together would: cluster-admin.
  kwok: { user: 'kwok', groups: ['system:masters'] },
} as const;

export type Identity = keyof typeof IDENTITIES;

export interface ClusterCredentials {
  tokens: Record<Identity, string>;
  tokenFile: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

/**
 * Static bearer tokens (one per identity, --token-auth-file) and the key pair that signs service-account
 * tokens. Fresh for every cluster: nothing here outlives its state folder.
 */
export function writeCredentials(dir: string): ClusterCredentials {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tokens = Object.fromEntries(
    Object.keys(IDENTITIES).map((id) => [id, crypto.randomBytes(24).toString('hex')]),
  ) as Record<Identity, string>;
  const rows = (Object.keys(IDENTITIES) as Identity[]).map((id) => {
    const { user, groups } = IDENTITIES[id];
    return `${tokens[id]},${user},${user}${groups.length ? `,"${groups.join(',')}"` : ''}`;
  });
  const tokenFile = path.join(dir, 'tokens.csv');
  fs.writeFileSync(tokenFile, rows.join('\n') + '\n', { mode: 0o600 });

  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const serviceAccountKey = path.join(dir, 'service-account.key');
  const serviceAccountPub = path.join(dir, 'service-account.pub');
  fs.writeFileSync(serviceAccountKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  fs.writeFileSync(serviceAccountPub, publicKey.export({ type: 'spki', format: 'pem' }));
  return { tokens, tokenFile, serviceAccountKey, serviceAccountPub };
}

/** A kubeconfig (JSON is YAML) for one identity, trusting the API server's own serving certificate. */
export function writeKubeconfig(
  file: string,
  options: { server: string; caFile: string; user: string; token: string },
): void {
  const ca = fs.readFileSync(options.caFile).toString('base64');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'stowage-test', cluster: { server: options.server, 'certificate-authority-data': ca } },
    ],
    users: [{ name: options.user, user: { token: options.token } }],
    contexts: [{ name: 'stowage-test', context: { cluster: 'stowage-test', user: options.user } }],
    'current-context': 'stowage-test',
  };
  fs.writeFileSync(file, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
}
