import { createHash } from 'node:crypto';
import { z } from 'zod';
import { FailureType } from '../domain/failures';

/**
 * A client for the parts of the OCI distribution API (Docker Registry HTTP API v2) that Stowage needs:
 * does `<repository>:<tag>` exist (so an unchanged image is never rebuilt), and read a manifest and its
 * config blob back (to check what was pushed). Basic auth (ECR, htpasswd registries) and the bearer-token
 * handshake (Docker Hub, GHCR, distribution's token auth) are both answered from one set of credentials.
 */
export interface RegistryCredentials {
  username: string;
  password: string;
}

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

const ACCEPT = [
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerManifest,
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerManifestList,
].join(', ');

const DIGEST = /^sha256:[a-f0-9]{64}$/;

const descriptor = z.object({
  mediaType: z.string(),
  digest: z.string().regex(DIGEST),
  size: z.number().int().nonnegative(),
  platform: z.object({ architecture: z.string(), os: z.string() }).partial().optional(),
  annotations: z.record(z.string()).optional(),
});
export type Descriptor = z.infer<typeof descriptor>;

const imageManifest = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: descriptor,
  layers: z.array(descriptor),
  annotations: z.record(z.string()).optional(),
});
const imageIndex = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(descriptor),
});

export type ImageManifest = z.infer<typeof imageManifest> & { kind: 'manifest' };
export type ImageIndex = z.infer<typeof imageIndex> & { kind: 'index' };

/** The subset of the OCI image config that Stowage checks (Docker's config has the same shape). */
const imageConfig = z.object({
  architecture: z.string().optional(),
  os: z.string().optional(),
  created: z.string().optional(),
  config: z
    .object({
      Entrypoint: z.array(z.string()).nullish(),
      Cmd: z.array(z.string()).nullish(),
      Env: z.array(z.string()).nullish(),
      User: z.string().nullish(),
      WorkingDir: z.string().nullish(),
      ExposedPorts: z.record(z.object({})).nullish(),
      Labels: z.record(z.string()).nullish(),
    })
    .passthrough()
    .default({}),
  rootfs: z.object({ type: z.string(), diff_ids: z.array(z.string()) }),
});
export type ImageConfig = z.infer<typeof imageConfig>;

export interface FetchedManifest {
  /** The digest of the manifest bytes as served (what `repo@digest` pulls). */
  digest: string;
  mediaType: string;
  manifest: ImageManifest | ImageIndex;
}

export class RegistryError extends Error {
  override name = 'RegistryError';
  constructor(
    message: string,
    readonly status: number,
    /** The registry's own error text (distribution's `{errors: [{code, message}]}`), when it sent one. */
    readonly registryMessage?: string,
  ) {
    super(message);
  }
}

/** The registry refused us (bad or missing credentials, no permission on the repository). */
export class RegistryRefused extends Error {
  override name = FailureType.RegistryRefused;
  constructor(
    message: string,
    /** What the registry said, e.g. `unauthorized: authentication required`. */
    readonly registryMessage: string,
  ) {
    super(message);
  }
}

export interface RegistryClientOptions {
  /** `host[:port]` as in an image reference. */
  registry: string;
  /** Plain HTTP (a loopback test registry). */
  insecure?: boolean;
  credentials?: () => Promise<RegistryCredentials | undefined>;
  timeoutMs?: number;
}

const tokenResponse = z.object({ token: z.string().optional(), access_token: z.string().optional() });

function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const [scheme, ...rest] = header.trim().split(/\s+/);
  const params: Record<string, string> = {};
  for (const match of rest.join(' ').matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) params[match[1]] = match[2];
  return { scheme: scheme.toLowerCase(), params };
}

async function registryMessage(response: Response): Promise<string | undefined> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const errors = body.errors?.map((e) => [e.code?.toLowerCase(), e.message].filter(Boolean).join(': '));
    if (errors?.length) return errors.join('; ');
  } catch {
    // not distribution's JSON error body
  }
  return text.trim().slice(0, 300) || undefined;
}

export class RegistryClient {
  private readonly base: string;
  /** Authorization header per scope, so a bearer handshake happens once per repository and action. */
  private readonly authorization = new Map<string, string>();

  constructor(private readonly options: RegistryClientOptions) {
    this.base = `${options.insecure ? 'http' : 'https'}://${options.registry}`;
  }

  /** The manifest digest of `repository:reference`, or undefined when the registry does not have it. */
  async manifestDigest(repository: string, reference: string): Promise<string | undefined> {
    const response = await this.request('HEAD', repository, `/v2/${repository}/manifests/${reference}`, {
      accept: ACCEPT,
    });
    if (response.status === 404) return undefined;
    await this.expectOk(response, `checking ${repository}:${reference}`);
    const digest = response.headers.get('docker-content-digest');
    if (digest && DIGEST.test(digest)) return digest;
    // A registry that leaves the header out: the digest is the hash of the bytes GET returns.
    return (await this.manifest(repository, reference)).digest;
  }

  async manifest(repository: string, reference: string): Promise<FetchedManifest> {
    const response = await this.request('GET', repository, `/v2/${repository}/manifests/${reference}`, {
      accept: ACCEPT,
    });
    await this.expectOk(response, `reading the manifest of ${repository}:${reference}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (reference.startsWith('sha256:') && reference !== digest) {
      throw new RegistryError(`manifest ${reference} of ${repository} arrived with digest ${digest}`, 200);
    }
    const json = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; manifests?: unknown };
    const mediaType = (json.mediaType ?? response.headers.get('content-type') ?? '').split(';')[0].trim();
    const isIndex = mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerManifestList;
    if (!isIndex && mediaType !== MEDIA_TYPES.ociManifest && mediaType !== MEDIA_TYPES.dockerManifest) {
      throw new RegistryError(
        `${repository}:${reference} has an unsupported manifest type ${mediaType}`,
        200,
      );
    }
    const manifest: ImageManifest | ImageIndex = isIndex
      ? { ...imageIndex.parse(json), kind: 'index' }
      : { ...imageManifest.parse(json), kind: 'manifest' };
    return { digest, mediaType, manifest };
  }

  /** A blob, checked against its digest. */
  async blob(repository: string, digest: string): Promise<Buffer> {
    if (!DIGEST.test(digest)) throw new RegistryError(`not a sha256 digest: ${digest}`, 0);
    const response = await this.request('GET', repository, `/v2/${repository}/blobs/${digest}`, {});
    await this.expectOk(response, `reading blob ${digest} of ${repository}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (actual !== digest)
      throw new RegistryError(`blob ${digest} of ${repository} arrived as ${actual}`, 200);
    return bytes;
  }

  /** The image manifest (an index is resolved to its linux/amd64 entry) and its parsed config blob. */
  async image(
    repository: string,
    reference: string,
  ): Promise<{ digest: string; mediaType: string; manifest: ImageManifest; config: ImageConfig }> {
    let fetched = await this.manifest(repository, reference);
    if (fetched.manifest.kind === 'index') {
      const entry =
        fetched.manifest.manifests.find(
          (m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64',
        ) ?? fetched.manifest.manifests[0];
      if (!entry) throw new RegistryError(`${repository}:${reference} is an empty index`, 200);
      fetched = await this.manifest(repository, entry.digest);
      if (fetched.manifest.kind === 'index') throw new RegistryError(`nested index in ${repository}`, 200);
    }
    const manifest = fetched.manifest as ImageManifest;
    const config = imageConfig.parse(
      JSON.parse((await this.blob(repository, manifest.config.digest)).toString()),
    );
    return { digest: fetched.digest, mediaType: fetched.mediaType, manifest, config };
  }

  private async expectOk(response: Response, what: string): Promise<void> {
    if (response.ok) return;
    const message = await registryMessage(response);
    if (response.status === 401 || response.status === 403) {
      throw new RegistryRefused(
        `${this.options.registry} refused ${what} (${response.status})` + (message ? `: ${message}` : ''),
        message ?? `${response.status} ${response.statusText}`,
      );
    }
    throw new RegistryError(
      `${this.options.registry} answered ${response.status} ${response.statusText} ${what}` +
        (message ? `: ${message}` : ''),
      response.status,
      message,
    );
  }

  private async request(
    method: 'GET' | 'HEAD',
    repository: string,
    pathname: string,
    headers: Record<string, string>,
  ): Promise<Response> {
    const scope = `repository:${repository}:pull`;
    const send = (authorization?: string) =>
      fetch(`${this.base}${pathname}`, {
        method,
        headers: { ...headers, ...(authorization ? { authorization } : {}) },
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 60_000),
      });
    let response = await send(this.authorization.get(scope));
    if (response.status === 401) {
      const challenge = response.headers.get('www-authenticate');
      await response.body?.cancel();
      const authorization = challenge ? await this.answer(challenge, scope) : undefined;
      if (authorization) {
        this.authorization.set(scope, authorization);
        response = await send(authorization);
      } else {
        response = await send();
      }
    }
    return response;
  }

  /** The Authorization header that answers a 401 challenge, or undefined when there is nothing to answer with. */
  private async answer(header: string, scope: string): Promise<string | undefined> {
    const credentials = await this.options.credentials?.();
    const basic = credentials
      ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`
      : undefined;
    const challenge = parseChallenge(header);
    if (challenge.scheme === 'basic') return basic;
    if (challenge.scheme !== 'bearer' || !challenge.params.realm) return undefined;
    const url = new URL(challenge.params.realm);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    url.searchParams.set('scope', challenge.params.scope ?? scope);
    const response = await fetch(url, {
      headers: basic ? { authorization: basic } : {},
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 60_000),
    });
    if (!response.ok) {
      const message = await registryMessage(response);
      throw new RegistryError(
        `the token service of ${this.options.registry} answered ${response.status}` +
          (message ? `: ${message}` : ''),
        response.status,
        message,
      );
    }
    const body = tokenResponse.parse(await response.json());
    const token = body.token ?? body.access_token;
    return token ? `Bearer ${token}` : undefined;
  }
}

/** `registry/repository:tag` (the registry part always present: Stowage never relies on short names). */
export function imageReference(registry: string, repository: string, tag: string): string {
  return `${registry}/${repository}:${tag}`;
}
