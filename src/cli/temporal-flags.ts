import type { Command } from 'commander';
import { parseTemporalOptions, temporalOptionsFromEnv, type TemporalOptions } from '../config/temporal';

/** The flags that point a command at a Temporal cluster; environment variables fill what flags omit. */
export function addTemporalFlags(command: Command): Command {
  return command
    .option('--temporal-address <host:port>', 'Temporal frontend (env TEMPORAL_ADDRESS)')
    .option('--namespace <name>', 'Temporal namespace (env TEMPORAL_NAMESPACE)')
    .option('--tls', 'connect with TLS (env TEMPORAL_TLS=true)')
    .option('--tls-cert <file>', 'client certificate for mTLS (env TEMPORAL_TLS_CERT)')
    .option('--tls-key <file>', 'client key for mTLS (env TEMPORAL_TLS_KEY)')
    .option('--tls-ca <file>', 'CA bundle of the server (env TEMPORAL_TLS_CA)')
    .option('--tls-server-name <name>', 'server name to verify (env TEMPORAL_TLS_SERVER_NAME)')
    .option('--connect-timeout-ms <ms>', 'give up connecting after this long', (v) => Number(v))
    .addHelpText(
      'after',
      '\nTemporal Cloud API keys are read from TEMPORAL_API_KEY only, so they never appear in shell history or `ps`.',
    );
}

export interface TemporalFlags {
  temporalAddress?: string;
  namespace?: string;
  tls?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsServerName?: string;
  connectTimeoutMs?: number;
}

export function temporalOptionsFromFlags(flags: TemporalFlags): TemporalOptions {
  return parseTemporalOptions(temporalOptionsFromEnv(), {
    address: flags.temporalAddress,
    namespace: flags.namespace,
    tls: flags.tls,
    tlsCertPath: flags.tlsCert,
    tlsKeyPath: flags.tlsKey,
    tlsCaPath: flags.tlsCa,
    tlsServerName: flags.tlsServerName,
    connectTimeoutMs: flags.connectTimeoutMs,
  });
}

/** True when the user pointed at an existing cluster rather than the embedded server. */
export function wantsExternalCluster(flags: TemporalFlags): boolean {
  return Boolean(flags.temporalAddress ?? process.env.TEMPORAL_ADDRESS);
}
