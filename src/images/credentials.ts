import fs from 'node:fs';
import { z } from 'zod';
import { EcrCredentials, isEcrRegistry } from './ecr';
import type { RegistryCredentials } from './registry';

/** Credentials for a registry host, or undefined for an anonymous registry. */
export type CredentialsFor = (registry: string) => Promise<RegistryCredentials | undefined>;

/** The `auths` part of a Docker/Podman auth file (`~/.docker/config.json`, `auth.json`). */
const authFile = z.object({
  auths: z.record(
    z.object({
      auth: z.string().optional(),
      username: z.string().optional(),
      password: z.string().optional(),
    }),
  ),
});

function fromAuthFile(file: string, registry: string): RegistryCredentials | undefined {
  let parsed: z.infer<typeof authFile>;
  try {
    parsed = authFile.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
  } catch (err) {
    throw new Error(
      `registry auth file ${file} cannot be read as {"auths": {...}}: ${(err as Error).message}`,
    );
  }
  const entry = parsed.auths[registry] ?? parsed.auths[`https://${registry}`];
  if (!entry) return undefined;
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  if (!entry.auth) return undefined;
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw new Error(`the auth entry for ${registry} in ${file} is not base64("user:password")`);
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Where push credentials come from, first match wins: Amazon ECR registries ask ECR for a token;
 * otherwise STOWAGE_REGISTRY_AUTH_FILE (an auth file, per registry), otherwise
 * STOWAGE_REGISTRY_USERNAME with STOWAGE_REGISTRY_PASSWORD or STOWAGE_REGISTRY_PASSWORD_FILE (for
 * every registry). Passwords come from the environment or files only, never from workflow inputs, which
 * Temporal stores in its history.
 */
export function registryCredentials(options: {
  env?: NodeJS.ProcessEnv;
  ecr?: EcrCredentials;
}): CredentialsFor {
  const env = options.env ?? process.env;
  return async (registry) => {
    if (options.ecr && isEcrRegistry(registry)) return options.ecr.forRegistry(registry);
    if (env.STOWAGE_REGISTRY_AUTH_FILE) {
      const found = fromAuthFile(env.STOWAGE_REGISTRY_AUTH_FILE, registry);
      if (found) return found;
    }
    const username = env.STOWAGE_REGISTRY_USERNAME;
    if (!username) return undefined;
    const password = env.STOWAGE_REGISTRY_PASSWORD_FILE
      ? fs.readFileSync(env.STOWAGE_REGISTRY_PASSWORD_FILE, 'utf8').trimEnd()
      : env.STOWAGE_REGISTRY_PASSWORD;
    if (!password) {
      throw new Error('STOWAGE_REGISTRY_USERNAME is set without STOWAGE_REGISTRY_PASSWORD(_FILE)');
    }
    return { username, password };
  };
}
