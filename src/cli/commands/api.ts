import fs from 'node:fs';
import { Command, Option } from 'commander';
import { buildApiServer } from '../../api/server';
import { loadTokens } from '../../api/auth';
import { DEFAULT_LIMITS } from '../../api/route';
import { openArtifactStore } from '../../artifacts/store';
import { projectPaths } from '../../config/paths';
import { ConfigError } from '../../config/temporal';
import { LIMITS } from '../../domain/limits';
import { createLogger } from '../../logging';
import { connectClient } from '../../temporal/connect';
import { addTemporalFlags, temporalOptionsFromFlags, type TemporalFlags } from '../temporal-flags';

interface ApiFlags extends TemporalFlags {
  port: number;
  host: string;
  tokensFile?: string;
  apiTlsCert?: string;
  apiTlsKey?: string;
  allowPlaintext?: boolean;
  bodyLimit: number;
  packMaxModels: number;
  packTimeLimitMs: number;
  packConcurrency: number;
  packQueue: number;
  artifacts?: string;
  json?: boolean;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

function boundedInt(what: string, min: number, max: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`${what} must be an integer from ${min} to ${max}, got "${v}"`);
    return n;
  };
}

function readFile(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch {
    throw new ConfigError(`cannot read the API TLS ${what} ${file}`);
  }
}

export function apiCommand(): Command {
  return addTemporalFlags(new Command('api'))
    .description('serve the HTTP API (pipelines, pack, schedules) until Ctrl-C')
    .addOption(
      new Option('--port <port>', 'port to listen on (0: any free port, printed)')
        .default(8080)
        .argParser((v) => {
          const n = Number(v);
          if (!Number.isInteger(n) || n < 0 || n > 65535)
            throw new Error(`--port must be 0..65535, got "${v}"`);
          return n;
        }),
    )
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option(
      '--tokens-file <file>',
      'bearer tokens, one "<name> <read|write> <token>" per line (else env STOWAGE_API_TOKENS)',
    )
    .option('--api-tls-cert <file>', "the API's own TLS certificate (PEM); serves HTTPS with --api-tls-key")
    .option('--api-tls-key <file>', "the API's own TLS private key (PEM)")
    .option(
      '--allow-plaintext',
      'serve plain HTTP on a non-loopback address (behind a TLS-terminating proxy)',
    )
    .addOption(
      new Option('--body-limit <bytes>', 'largest request body')
        .default(DEFAULT_LIMITS.bodyLimitBytes)
        .argParser(boundedInt('--body-limit', 1, 64 * 1024 * 1024)),
    )
    .addOption(
      new Option('--pack-max-models <n>', 'most models POST /v1/pack accepts')
        .default(DEFAULT_LIMITS.packMaxModels)
        .argParser(boundedInt('--pack-max-models', 1, LIMITS.models)),
    )
    .addOption(
      new Option('--pack-time-limit-ms <ms>', 'cap on the packing time of POST /v1/pack')
        .default(DEFAULT_LIMITS.packMaxTimeLimitMs)
        .argParser(boundedInt('--pack-time-limit-ms', 1, LIMITS.timeLimitMs)),
    )
    .addOption(
      new Option('--pack-concurrency <n>', 'packs POST /v1/pack runs at once, one thread each')
        .default(DEFAULT_LIMITS.packConcurrency)
        .argParser(boundedInt('--pack-concurrency', 1, 64)),
    )
    .addOption(
      new Option('--pack-queue <n>', 'packs that wait for a thread; more get 429')
        .default(DEFAULT_LIMITS.packQueue)
        .argParser(boundedInt('--pack-queue', 0, 1000)),
    )
    .option(
      '--artifacts <root>',
      'artifact root the reports are read from (default: STOWAGE_ARTIFACTS or .stowage/artifacts)',
    )
    .option('--json', 'print one JSON line when listening ({url, tokens}) instead of a sentence')
    .addHelpText(
      'after',
      "\nThe --tls-* flags above are for the connection to Temporal; the API's own TLS is --api-tls-cert/--api-tls-key.\n" +
        'Tokens are compared as SHA-256 digests in constant time and never logged; the API records only their names.\n' +
        'Example tokens file:\n  # name  scope  token\n  ci      write  3q2+7w...(24+ characters)\n  grafana read   Zm9v...\n',
    )
    .action(async (flags: ApiFlags) => {
      if (Boolean(flags.apiTlsCert) !== Boolean(flags.apiTlsKey))
        throw new ConfigError('--api-tls-cert and --api-tls-key go together');
      const https = flags.apiTlsCert
        ? { cert: readFile(flags.apiTlsCert, 'certificate'), key: readFile(flags.apiTlsKey!, 'key') }
        : undefined;
      if (!https && !LOOPBACK.has(flags.host) && !flags.allowPlaintext) {
        throw new ConfigError(
          `refusing to send bearer tokens in plain HTTP on ${flags.host}: pass --api-tls-cert/--api-tls-key, or --allow-plaintext behind a TLS proxy`,
        );
      }
      const tokens = loadTokens({ file: flags.tokensFile });
      const logger = createLogger({ name: 'stowage-api' });
      const client = await connectClient(temporalOptionsFromFlags(flags));
      const app = buildApiServer({
        client,
        artifacts: openArtifactStore(flags.artifacts ?? projectPaths().artifacts),
        tokens,
        logger,
        https,
        limits: {
          bodyLimitBytes: flags.bodyLimit,
          packMaxModels: flags.packMaxModels,
          packMaxTimeLimitMs: flags.packTimeLimitMs,
          packConcurrency: flags.packConcurrency,
          packQueue: flags.packQueue,
        },
      });
      try {
        await app.listen({ port: flags.port, host: flags.host });
      } catch (err) {
        await client.connection.close();
        throw new ConfigError(`cannot listen on ${flags.host}:${flags.port}: ${(err as Error).message}`);
      }
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : flags.port;
      const host = flags.host.includes(':') ? `[${flags.host}]` : flags.host;
      const url = `${https ? 'https' : 'http'}://${host}:${port}`;
      process.stdout.write(
        flags.json
          ? `${JSON.stringify({ url, tokens: tokens.names })}\n`
          : `stowage api: listening on ${url} (${tokens.size} token(s): ${tokens.names.join(', ')}); OpenAPI at ${url}/openapi.json; Ctrl-C stops\n`,
      );
      const reason = await new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      logger.info({ reason }, 'stopping the API');
      await app.close();
      await client.connection.close();
      if (!flags.json) process.stdout.write(`stowage api: stopped (${reason})\n`);
    });
}
