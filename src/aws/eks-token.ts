import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/**
 * A bearer token for an EKS cluster, made exactly the way `aws eks get-token` makes it: a presigned STS
 * GetCallerIdentity URL whose signature covers the header `x-k8s-aws-id: <cluster>`, base64url-encoded
 * without padding behind `k8s-aws-v1.`. The cluster's authenticator replays the URL against STS to learn
 * who is calling; signing the cluster name stops a token for one cluster from opening another.
 */
export const EKS_TOKEN_PREFIX = 'k8s-aws-v1.';
const CLUSTER_HEADER = 'x-k8s-aws-id';
/** What `aws eks get-token` asks for; the authenticator itself accepts a token for 15 minutes after signing. */
const URL_EXPIRY_S = 60;
/** When to make a new token: the CLI tells kubectl the same (signing time + 14 minutes). */
const TOKEN_LIFETIME_MS = 14 * 60_000;

export interface EksTokenInput {
  clusterName: string;
  region: string;
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Signing time (default now); fixed in tests so the token is deterministic. */
  now?: Date;
}

export interface EksToken {
  token: string;
  /** Refresh before this. */
  expiresAt: Date;
}

export async function eksToken(input: EksTokenInput): Promise<EksToken> {
  const now = input.now ?? new Date();
  const hostname = `sts.${input.region}.amazonaws.com`;
  const signer = new SignatureV4({
    credentials: input.credentials,
    region: input.region,
    service: 'sts',
    sha256: Sha256,
  });
  const signed = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host: hostname, [CLUSTER_HEADER]: input.clusterName },
    },
    { expiresIn: URL_EXPIRY_S, signingDate: now },
  );
  // The presigner only adds single-valued parameters; sorted like the canonical query, for a stable token.
  const query = Object.entries(signed.query ?? {})
    .filter((pair): pair is [string, string] => typeof pair[1] === 'string')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${rfc3986(name)}=${rfc3986(value)}`)
    .join('&');
  const url = `https://${hostname}/?${query}`;
  return {
    token: EKS_TOKEN_PREFIX + Buffer.from(url, 'utf8').toString('base64url'),
    expiresAt: new Date(now.getTime() + TOKEN_LIFETIME_MS),
  };
}

/** The presigned URL inside a token (for tests and for diagnosing a refused token). */
export function eksTokenUrl(token: string): URL {
  if (!token.startsWith(EKS_TOKEN_PREFIX)) throw new Error(`not an EKS token: it lacks ${EKS_TOKEN_PREFIX}`);
  return new URL(Buffer.from(token.slice(EKS_TOKEN_PREFIX.length), 'base64url').toString('utf8'));
}

function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
