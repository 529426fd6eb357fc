import { z } from 'zod';

/** How to reach Temporal: the embedded dev server by default, or any cluster / Temporal Cloud. */
export const TemporalOptionsSchema = z
  .object({
    address: z
      .string()
      .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'must be host:port, e.g. localhost:7233')
      .default('localhost:7233'),
    namespace: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/, 'must be a Temporal namespace name')
      .default('default'),
    tls: z.boolean().default(false),
    tlsCertPath: z.string().min(1).optional(),
    tlsKeyPath: z.string().min(1).optional(),
    tlsCaPath: z.string().min(1).optional(),
    tlsServerName: z.string().min(1).optional(),
    apiKey: z.string().min(1).optional(),
    connectTimeoutMs: z.number().int().min(100).max(120_000).default(5000),
  })
  .strict()
  .refine((o) => Boolean(o.tlsCertPath) === Boolean(o.tlsKeyPath), {
    message: 'tlsCertPath and tlsKeyPath must be given together (mTLS)',
  });

export type TemporalOptions = z.infer<typeof TemporalOptionsSchema>;

/** Environment variables use the names of the official Temporal CLI, so one shell setup serves both. */
export function temporalOptionsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): Partial<Record<string, unknown>> {
  const pick = (key: string) => (env[key] === undefined || env[key] === '' ? undefined : env[key]);
  return {
    address: pick('TEMPORAL_ADDRESS'),
    namespace: pick('TEMPORAL_NAMESPACE'),
    tls: pick('TEMPORAL_TLS') === 'true' ? true : undefined,
    tlsCertPath: pick('TEMPORAL_TLS_CERT'),
    tlsKeyPath: pick('TEMPORAL_TLS_KEY'),
    tlsCaPath: pick('TEMPORAL_TLS_CA'),
    tlsServerName: pick('TEMPORAL_TLS_SERVER_NAME'),
    apiKey: pick('TEMPORAL_API_KEY'),
  };
}

export function parseTemporalOptions(...layers: Partial<Record<string, unknown>>[]): TemporalOptions {
  const merged: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) if (v !== undefined) merged[k] = v;
  }
  const parsed = TemporalOptionsSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`invalid Temporal option ${issue.path.join('.') || '(options)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** A configuration problem: the CLI prints its message on one line and exits non-zero. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
