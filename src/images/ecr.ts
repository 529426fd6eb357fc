import { type AuthorizationData, type ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import type { RegistryCredentials } from './registry';

/**
 * Push credentials for Amazon ECR: GetAuthorizationToken returns base64("AWS:<password>"), valid for
 * 12 hours, for the registry of the caller's account in the client's region. The same pair answers
 * buildah's pushes (through an auth file) and the registry client's Basic challenge.
 */
export const ECR_REGISTRY = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

export function isEcrRegistry(registry: string): boolean {
  return ECR_REGISTRY.test(registry);
}

export function ecrRegion(registry: string): string {
  const match = ECR_REGISTRY.exec(registry);
  if (!match)
    throw new Error(`${registry} is not an Amazon ECR registry (<account>.dkr.ecr.<region>.amazonaws.com)`);
  return match[2];
}

export interface EcrAuthorization {
  /** `host` of the proxy endpoint, as it appears in image references. */
  registry: string;
  credentials: RegistryCredentials;
  expiresAt?: Date;
}

export function decodeEcrAuthorization(data: AuthorizationData): EcrAuthorization {
  if (!data.authorizationToken || !data.proxyEndpoint) {
    throw new Error('ECR returned authorization data without a token or a proxy endpoint');
  }
  const decoded = Buffer.from(data.authorizationToken, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0 || colon === decoded.length - 1) {
    throw new Error('the ECR authorization token does not decode to "user:password"');
  }
  return {
    registry: new URL(data.proxyEndpoint).host,
    credentials: { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) },
    expiresAt: data.expiresAt,
  };
}

/** Asking for a new token this long before the old one expires keeps a long push from outliving it. */
const RENEW_BEFORE_MS = 30 * 60_000;

export class EcrCredentials {
  private readonly cache = new Map<string, EcrAuthorization>();

  /** `clientFor(region)`: an ECR client for the registry's region (tokens are per region). */
  constructor(
    private readonly clientFor: (region: string) => ECRClient,
    private readonly now: () => number = Date.now,
  ) {}

  async forRegistry(registry: string): Promise<RegistryCredentials> {
    const cached = this.cache.get(registry);
    if (cached?.expiresAt && cached.expiresAt.getTime() - RENEW_BEFORE_MS > this.now())
      return cached.credentials;
    const response = await this.clientFor(ecrRegion(registry)).send(new GetAuthorizationTokenCommand({}));
    const data = response.authorizationData?.[0];
    if (!data) throw new Error(`ECR returned no authorization data for ${registry}`);
    const authorization = decodeEcrAuthorization(data);
    this.cache.set(registry, authorization);
    return authorization.credentials;
  }
}
