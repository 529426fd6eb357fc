import type { Client } from '@temporalio/client';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z, type ZodTypeAny } from 'zod';
import type { ArtifactStore } from '../artifacts/store';
import type { Logger } from '../logging';
import { issueText } from '../domain/issue-text';
import { authorize, type Caller, type Scope, type TokenSet } from './auth';
import { ApiProblem, type FieldError, zodFieldErrors } from './problems';

export interface ApiLimits {
  /** Largest request body; larger ones get 413 before they are parsed. */
  bodyLimitBytes: number;
  /** `POST /v1/pack` is synchronous: beyond this many models use the CLI or a pipeline. */
  packMaxModels: number;
  packMaxInstanceTypes: number;
  /** A request's timeLimitMs is capped at this; so is the default. */
  packMaxTimeLimitMs: number;
  /** Packs running at once, each in its own thread. */
  packConcurrency: number;
  /** Packs waiting for a thread; more get 429 with Retry-After. */
  packQueue: number;
  /** A pack still running this long past its time limit is stopped (422). */
  packGraceMs: number;
  /** V8 heap of one pack thread; a pack that needs more is stopped (422), never the API. */
  packMaxHeapMiB: number;
  /** Request line and headers must arrive within this (408). */
  headersTimeoutMs: number;
  /** The whole request, body included, must arrive within this (408): no slow-loris body holds a socket. */
  requestTimeoutMs: number;
  /** A socket with no traffic either way for this long is closed (longer than any pack waits and runs). */
  connectionTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
}

export const DEFAULT_LIMITS: ApiLimits = {
  bodyLimitBytes: 1024 * 1024,
  packMaxModels: 5000,
  packMaxInstanceTypes: 200,
  packMaxTimeLimitMs: 10_000,
  packConcurrency: 2,
  packQueue: 2,
  packGraceMs: 2000,
  packMaxHeapMiB: 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  connectionTimeoutMs: 120_000,
  keepAliveTimeoutMs: 5_000,
};

/** Everything the API touches comes in here, so tests hand over their own (real) client, store and tokens. */
export interface ApiDeps {
  client: Client;
  artifacts: ArtifactStore;
  tokens: TokenSet;
  logger: Logger;
  limits?: Partial<ApiLimits>;
  https?: { cert: Buffer; key: Buffer };
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

export interface RouteContext<P, Q, B> {
  request: FastifyRequest;
  reply: FastifyReply;
  caller: Caller | undefined;
  params: P;
  query: Q;
  body: B;
  deps: ApiDeps & { limits: ApiLimits };
}

export interface ResponseSpec {
  description: string;
  /** Omitted: the body is described in words only (e.g. HTML). */
  schema?: ZodTypeAny;
  contentType?: string;
}

/**
 * One route: its documentation and its validation come from the same zod schemas, so the OpenAPI
 * document cannot drift from what the server accepts.
 */
export interface ApiRoute<P = unknown, Q = unknown, B = unknown> {
  method: 'GET' | 'POST' | 'DELETE';
  /** Fastify syntax: /v1/pipelines/:id */
  url: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  scope: Scope | 'none';
  params?: z.ZodType<P, z.ZodTypeDef, unknown>;
  query?: z.ZodType<Q, z.ZodTypeDef, unknown>;
  /**
   * `schema` documents the body; `parse` (default: the schema) validates it. `text`: the handler gets the
   * JSON text unparsed, to parse and validate off the event loop itself.
   */
  body?: { schema: ZodTypeAny; required: boolean; parse?: (raw: unknown) => ParseResult<B>; text?: boolean };
  headers?: Record<string, { schema: ZodTypeAny; description: string }>;
  responses: Record<number, ResponseSpec>;
  handler: (ctx: RouteContext<P, Q, B>) => Promise<unknown>;
}

/** Keeps each route's parameter types while the list of routes stays one array. */
export function defineRoute<P, Q, B>(route: ApiRoute<P, Q, B>): ApiRoute {
  return route as unknown as ApiRoute;
}

/**
 * Path and query parameters by their schema. An unknown parameter is never named, in the reply or in the
 * log line of the refusal: a client that puts its token in the URL puts it there as a name as often as
 * a value. Known parameters are named; their values are not repeated either.
 */
function parseWith<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, raw: unknown, where: string): T {
  const parsed = schema.safeParse(raw ?? {});
  if (parsed.success) return parsed.data;
  const known = schema instanceof z.ZodObject ? Object.keys(schema.shape as object) : [];
  const errors: FieldError[] = parsed.error.issues.map((issue) =>
    issue.code === 'unrecognized_keys'
      ? { detail: `unknown ${where}(s); this route takes ${known.length > 0 ? known.join(', ') : 'none'}` }
      : { parameter: issue.path.length > 0 ? String(issue.path[0]) : where, detail: issueText(issue) },
  );
  const first = errors[0];
  throw new ApiProblem(
    'badRequest',
    first.parameter ? `invalid ${where} ${first.parameter}: ${first.detail}` : first.detail,
    errors,
  );
}

function parseBody(route: ApiRoute, request: FastifyRequest): unknown {
  const spec = route.body;
  const raw = request.body;
  const present = raw !== undefined && request.headers['content-length'] !== '0';
  if (!spec) {
    // Steering routes take no body; an empty object is tolerated for clients that always send one.
    if (!present || (typeof raw === 'object' && raw !== null && Object.keys(raw).length === 0)) return {};
    throw new ApiProblem('validation', 'this route takes no request body', [
      { pointer: '', detail: 'must be empty or {}' },
    ]);
  }
  if (!present) {
    if (spec.required) throw new ApiProblem('badRequest', 'a JSON request body is required');
    return undefined;
  }
  if (spec.text) return raw;
  if (spec.parse) {
    const parsed = spec.parse(raw);
    if (!parsed.ok) throw new ApiProblem('validation', 'the request body does not validate', parsed.errors);
    return parsed.value;
  }
  const parsed = spec.schema.safeParse(raw);
  if (!parsed.success)
    throw new ApiProblem('validation', 'the request body does not validate', zodFieldErrors(parsed.error));
  return parsed.data;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
  interface FastifyContextConfig {
    scope?: Scope | 'none';
    /** The route parses its JSON body itself (off the event loop). */
    jsonText?: boolean;
  }
}

/**
 * Authentication runs on request, before the body is read or parsed: a caller without a token learns
 * nothing, not even whether its JSON was well-formed or its path exists (unknown paths need read).
 */
export function installAuth(app: FastifyInstance, tokens: TokenSet): void {
  app.decorateRequest('caller', undefined);
  app.addHook('onRequest', async (request) => {
    const scope = request.routeOptions.config?.scope ?? 'read';
    if (scope === 'none') return;
    request.caller = authorize(tokens, request.headers.authorization, scope);
    request.log.info({ caller: request.caller.name }, 'authorized');
  });
}

export function registerRoutes(
  app: FastifyInstance,
  routes: readonly ApiRoute[],
  deps: ApiDeps & { limits: ApiLimits },
): void {
  for (const route of routes) {
    app.route({
      method: route.method,
      url: route.url,
      config: { scope: route.scope, jsonText: route.body?.text === true },
      handler: async (request, reply) => {
        const params = route.params ? parseWith(route.params, request.params, 'path parameter') : {};
        const query = route.query ? parseWith(route.query, request.query, 'query parameter') : {};
        const body = parseBody(route, request);
        const caller = request.caller;
        const payload = await route.handler({ request, reply, caller, params, query, body, deps });
        return reply.sent ? reply : payload;
      },
    });
  }
}
