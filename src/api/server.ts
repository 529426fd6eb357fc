import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ServiceError } from '@temporalio/client';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseJsonBody } from './json';
import { buildOpenApi } from './openapi';
import { PackPool } from './packer/pool';
import { ApiProblem, PROBLEM_CONTENT_TYPE, sendProblem } from './problems';
import {
  DEFAULT_LIMITS,
  defineRoute,
  installAuth,
  registerRoutes,
  type ApiDeps,
  type ApiLimits,
  type ApiRoute,
} from './route';
import { healthRoutes } from './routes/health';
import { modelRoutes } from './routes/models';
import { packRoutes } from './routes/pack';
import { pipelineRoutes } from './routes/pipelines';
import { scheduleRoutes } from './routes/schedules';

export type { ApiDeps, ApiLimits } from './route';

/** Headers worth a log line; Authorization (and anything like it) never is. */
const LOGGED_HEADERS = ['host', 'user-agent', 'content-type', 'content-length', 'accept', 'idempotency-key'];

/**
 * The URL as logged: query parameters no route takes are dropped, name and value (a token pasted into
 * the URL is as often the name as the value), and a path no route matches is not logged at all.
 */
export function loggedUrl(
  url: string | undefined,
  known: ReadonlySet<string>,
  routed: boolean,
): string | undefined {
  if (!url) return url;
  const cut = url.indexOf('?');
  const pathPart = cut < 0 ? url : url.slice(0, cut);
  const shownPath = routed ? pathPart : '(no route)';
  if (cut < 0) return shownPath;
  const kept = url
    .slice(cut + 1)
    .split('&')
    .filter((pair) => known.has(pair.split('=', 1)[0]));
  return kept.length > 0 ? `${shownPath}?${kept.join('&')}` : shownPath;
}

function requestSerializer(known: ReadonlySet<string>) {
  return (req: {
    method?: string;
    url?: string;
    headers?: Record<string, unknown>;
    routeOptions?: { url?: string };
  }) => {
    const headers = req.headers ?? {};
    return {
      method: req.method,
      url: loggedUrl(req.url, known, req.routeOptions?.url !== undefined),
      headers: Object.fromEntries(
        LOGGED_HEADERS.filter((h) => headers[h] !== undefined).map((h) => [h, headers[h]]),
      ),
    };
  };
}

/** The query parameters some route takes: the allow-list of the log. */
function queryParameters(routes: readonly ApiRoute[]): Set<string> {
  const names = new Set<string>();
  for (const route of routes)
    if (route.query instanceof z.ZodObject)
      for (const name of Object.keys(route.query.shape as object)) names.add(name);
  return names;
}

export { parseJsonBody };

/** Fastify's own errors (body parsing, limits) as problem details. */
function frameworkProblem(error: FastifyError): ApiProblem | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiProblem('tooLarge', error.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiProblem('unsupportedMediaType', 'send the request body as application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiProblem('badRequest', error.message);
    case 'FST_ERR_BAD_URL':
      return new ApiProblem('badRequest', 'the path is not valid percent-encoded UTF-8');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      // Fastify's own message repeats the whole path; the limit is all a client needs to hear.
      return new ApiProblem('uriTooLong', 'a path parameter is longer than 1024 characters');
  }
  if (error instanceof SyntaxError || error.statusCode === 400) {
    // Malformed JSON and the parser's refusal of "__proto__" / "constructor.prototype" keys.
    return new ApiProblem('badRequest', `the request body is not acceptable JSON: ${error.message}`);
  }
  if (error.statusCode === 413) return new ApiProblem('tooLarge', error.message);
  if (error.statusCode === 415) return new ApiProblem('unsupportedMediaType', error.message);
  return undefined;
}

/** Temporal out of reach is the caller's cue to retry, not a bug of the API. */
function temporalProblem(error: Error): ApiProblem | undefined {
  const grpcCode = (error.cause as { code?: number } | undefined)?.code ?? (error as { code?: unknown }).code;
  const unreachable =
    (error instanceof ServiceError && (grpcCode === 14 || grpcCode === 4)) ||
    /UNAVAILABLE|Failed to connect|DEADLINE_EXCEEDED/.test(error.message);
  if (!unreachable) return undefined;
  return new ApiProblem('unavailable', 'Temporal is unreachable; retry later', undefined, {
    'Retry-After': '5',
  });
}

/**
 * What the Node HTTP parser refuses never reaches Fastify: answered here, as problem+json like the rest.
 * The error's raw packet holds the request's headers, a token among them, so only its code is logged.
 */
function clientErrorHandler(limits: ApiLimits) {
  return function (this: FastifyInstance, error: NodeJS.ErrnoException, socket: Duplex): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const problem =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new ApiProblem(
            'requestTimeout',
            `the request did not arrive in time: headers within ${limits.headersTimeoutMs} ms, the whole request within ${limits.requestTimeoutMs} ms`,
          )
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? new ApiProblem('headersTooLarge', 'the request line and headers are larger than 16 KiB')
          : new ApiProblem(
              'badRequest',
              `the request is not valid HTTP/1.1 (${error.code ?? 'parse error'}: ${error.message.replace(/^Parse Error: /, '')})`,
            );
    const status = problem.problem.status;
    this.log.info({ code: error.code, status }, 'client error');
    // A response already on its way cannot be replaced; the connection just ends.
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !inFlight?.headersSent) {
      const body = JSON.stringify(problem.problem);
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\n` +
          `X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}

/**
 * Timeouts of the HTTP server: Node checks the header and request deadlines on an interval (30 s by
 * default), too coarse for deadlines of seconds. Host is checked by a hook instead of Node, whose own
 * refusal is an empty 400.
 */
function serverOptions(limits: ApiLimits) {
  const check = Math.max(
    100,
    Math.min(1000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4)),
  );
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: check,
    requireHostHeader: false,
  };
}

/**
 * The Stowage HTTP API. Every dependency comes in through `deps`, so tests run it against the real dev
 * server with their own tokens and artifact root; nothing here reads the environment.
 */
export function buildApiServer(deps: ApiDeps): FastifyInstance {
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  const pool = new PackPool({
    threads: limits.packConcurrency,
    queue: limits.packQueue,
    graceMs: limits.packGraceMs,
    maxHeapMiB: limits.packMaxHeapMiB,
  });
  const routes = routeTable(limits, pool);
  const logger = deps.logger.child(
    { component: 'api' },
    {
      serializers: { req: requestSerializer(queryParameters(routes)) },
      // Belt and braces: the serializer already leaves the header out.
      redact: {
        paths: ['req.headers.authorization', 'headers.authorization', 'authorization'],
        censor: '[redacted]',
      },
    },
  );
  const http = serverOptions(limits);
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: limits.bodyLimitBytes,
    // Long enough for the longest valid workflow id, so an over-long one gets a 400 that says so.
    routerOptions: { maxParamLength: 1024 },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.connectionTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    http,
    clientErrorHandler: clientErrorHandler(limits),
    // Errors the router raises before any route runs (bad percent-encoding, over-long parameters).
    frameworkErrors: (error, _request, reply) => {
      const problem = frameworkProblem(error) ?? new ApiProblem('badRequest', 'the request cannot be routed');
      return sendProblem(reply, problem.problem, problem.headers);
    },
    ...(deps.https ? { https: { ...http, ...deps.https } } : {}),
  }) as unknown as FastifyInstance;
  app.addHook('onClose', () => pool.close());

  // JSON only: text/plain (Fastify's other default) would hand handlers strings they never expect.
  app.removeContentTypeParser(['text/plain', 'application/json']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    try {
      const text = body as string;
      if (!request.routeOptions.config?.jsonText) return done(null, parseJsonBody(text));
      if (text.trim() === '') throw new ApiProblem('badRequest', 'the JSON body is empty');
      done(null, text);
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addHook('onRequest', async (request) => {
    if (request.raw.httpVersion === '1.1' && !request.headers.host)
      throw new ApiProblem('badRequest', 'an HTTP/1.1 request needs a Host header');
  });
  installAuth(app, deps.tokens);

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const known = error instanceof ApiProblem ? error : (frameworkProblem(error) ?? temporalProblem(error));
    if (known) {
      if (known.problem.status >= 500) request.log.error({ err: error }, 'request failed');
      else request.log.info({ problem: known.problem.type, detail: known.problem.detail }, 'request refused');
      return sendProblem(reply, known.problem, known.headers);
    }
    request.log.error({ err: error }, 'unexpected error');
    const internal = new ApiProblem('internal', 'the server failed to handle this request; see its log');
    return sendProblem(reply, internal.problem);
  });
  // The path is not repeated: whatever a client put in it, a token too, stays out of the reply.
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, new ApiProblem('notFound', `no route ${request.method} for this path`).problem),
  );
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Cache-Control', 'no-store');
    // Answered before its body arrived (401, 413, 429): the rest of the body is not waited for.
    if (!request.raw.complete) reply.header('Connection', 'close');
    return payload;
  });

  let document: Record<string, unknown> | undefined;
  const openApiRoute: ApiRoute = defineRoute({
    method: 'GET',
    url: '/openapi.json',
    operationId: 'openapi',
    summary: 'This document',
    tags: ['meta'],
    scope: 'read',
    responses: { 200: { description: 'OpenAPI 3 document', schema: z.object({}).passthrough() } },
    handler: async (): Promise<unknown> =>
      (document ??= buildOpenApi([...routes, openApiRoute], { version: API_VERSION })),
  });
  registerRoutes(app, [...routes, openApiRoute], { ...deps, limits });
  return app;
}

export const API_VERSION = '1.0.0';

function routeTable(limits: ApiLimits, pool: PackPool): ApiRoute[] {
  return [...healthRoutes, ...pipelineRoutes, ...packRoutes(limits, pool), ...scheduleRoutes, ...modelRoutes];
}

/** All routes, for documents and tests that enumerate them (the pack route with default limits). */
export function apiRoutes(): ApiRoute[] {
  const limits = DEFAULT_LIMITS;
  // A pool starts no thread until a pack runs, and these routes never serve one.
  return routeTable(
    limits,
    new PackPool({ threads: 1, queue: 0, graceMs: limits.packGraceMs, maxHeapMiB: limits.packMaxHeapMiB }),
  );
}
