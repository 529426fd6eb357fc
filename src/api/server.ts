import { ServiceError } from '@temporalio/client';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { buildOpenApi } from './openapi';
import { ApiProblem, sendProblem } from './problems';
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
/** Query parameters the API knows; any other value (a token a client put in the URL) is not logged. */
const LOGGED_QUERY = new Set(['stage', 'runtime', 'status', 'limit', 'inventory']);

function loggedUrl(url: string | undefined): string | undefined {
  if (!url || !url.includes('?')) return url;
  const [pathPart, query] = url.split('?', 2);
  const kept = query
    .split('&')
    .map((pair) => {
      const name = pair.split('=', 1)[0];
      return LOGGED_QUERY.has(name) ? pair : `${name}=[redacted]`;
    })
    .join('&');
  return `${pathPart}?${kept}`;
}

function serializeRequest(req: { method?: string; url?: string; headers?: Record<string, unknown> }) {
  const headers = req.headers ?? {};
  return {
    method: req.method,
    url: loggedUrl(req.url),
    headers: Object.fromEntries(
      LOGGED_HEADERS.filter((h) => headers[h] !== undefined).map((h) => [h, headers[h]]),
    ),
  };
}

/**
 * JSON.parse with the reason kept (Fastify's parser answers every failure with the same sentence) and
 * prototype-pollution keys refused outright: no handler ever sees "__proto__" or constructor.prototype.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new ApiProblem('badRequest', 'the JSON body is empty');
  try {
    return JSON.parse(text, function (key, value) {
      if (
        key === '__proto__' ||
        (key === 'constructor' && value !== null && typeof value === 'object' && 'prototype' in value)
      ) {
        throw new ApiProblem(
          'badRequest',
          `the JSON body uses the key "${key}", which is refused (prototype pollution)`,
        );
      }
      return value;
    });
  } catch (err) {
    if (err instanceof ApiProblem) throw err;
    throw new ApiProblem('badRequest', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

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
 * The Stowage HTTP API. Every dependency comes in through `deps`, so tests run it against the real dev
 * server with their own tokens and artifact root; nothing here reads the environment.
 */
export function buildApiServer(deps: ApiDeps): FastifyInstance {
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  const logger = deps.logger.child(
    { component: 'api' },
    {
      serializers: { req: serializeRequest },
      // Belt and braces: the serializer already leaves the header out.
      redact: {
        paths: ['req.headers.authorization', 'headers.authorization', 'authorization'],
        censor: '[redacted]',
      },
    },
  );
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: limits.bodyLimitBytes,
    // Long enough for the longest valid workflow id, so an over-long one gets a 400 that says so.
    routerOptions: { maxParamLength: 1024 },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    // Errors the router raises before any route runs (bad percent-encoding, over-long parameters).
    frameworkErrors: (error, _request, reply) => {
      const problem = frameworkProblem(error) ?? new ApiProblem('badRequest', 'the request cannot be routed');
      return sendProblem(reply, problem.problem, problem.headers);
    },
    ...(deps.https ? { https: deps.https } : {}),
  }) as unknown as FastifyInstance;

  // JSON only: text/plain (Fastify's other default) would hand handlers strings they never expect.
  app.removeContentTypeParser(['text/plain', 'application/json']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
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
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      new ApiProblem('notFound', `no route ${request.method} ${request.url.split('?')[0]}`).problem,
    ),
  );
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Cache-Control', 'no-store');
    return payload;
  });

  const routes = routeTable(limits);
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

function routeTable(limits: ApiLimits): ApiRoute[] {
  return [...healthRoutes, ...pipelineRoutes, ...packRoutes(limits), ...scheduleRoutes, ...modelRoutes];
}

/** All routes, for documents and tests that enumerate them (the pack route with default limits). */
export function apiRoutes(): ApiRoute[] {
  return routeTable(DEFAULT_LIMITS);
}
