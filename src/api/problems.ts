import type { FastifyReply } from 'fastify';
import type { ZodError } from 'zod';
import { issueText } from '../domain/issue-text';
import { firstProblems } from '../domain/limits';

/**
 * RFC 9457 problem details, the one error shape of the API. `errors` points into the request body with
 * RFC 6901 JSON pointers, so a client can mark the exact field — the same pointers the CLI and the
 * Temporal UI show for a bad PipelineInput.
 */
export interface FieldError {
  /** Into the request body; absent for a path, query or header parameter, which `parameter` names. */
  pointer?: string;
  parameter?: string;
  detail: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** Stable problem type URIs: clients branch on `type`, people read `title` and `detail`. */
export const PROBLEM_TYPES = {
  badRequest: ['bad-request', 'Bad request'],
  validation: ['validation', 'The request does not validate'],
  unauthorized: ['unauthorized', 'Authentication required'],
  forbidden: ['forbidden', 'Insufficient scope'],
  notFound: ['not-found', 'Not found'],
  notAcceptable: ['not-acceptable', 'Not acceptable'],
  conflict: ['conflict', 'Conflict'],
  tooLarge: ['too-large', 'Request too large'],
  uriTooLong: ['uri-too-long', 'URI too long'],
  unsupportedMediaType: ['unsupported-media-type', 'Unsupported media type'],
  tooManyRequests: ['too-many-requests', 'Too many requests'],
  requestTimeout: ['request-timeout', 'Request timeout'],
  headersTooLarge: ['headers-too-large', 'Request headers too large'],
  packingLimit: ['packing-limit', 'The packer ran out of time or memory'],
  unavailable: ['unavailable', 'Service unavailable'],
  internal: ['internal', 'Internal error'],
} as const satisfies Record<string, readonly [string, string]>;

export type ProblemKind = keyof typeof PROBLEM_TYPES;

const STATUS: Record<ProblemKind, number> = {
  badRequest: 400,
  validation: 422,
  unauthorized: 401,
  forbidden: 403,
  notFound: 404,
  notAcceptable: 406,
  conflict: 409,
  tooLarge: 413,
  uriTooLong: 414,
  unsupportedMediaType: 415,
  tooManyRequests: 429,
  requestTimeout: 408,
  headersTooLarge: 431,
  packingLimit: 422,
  unavailable: 503,
  internal: 500,
};

/** Longest text a reply quotes from one problem: zod messages can quote what the client sent. */
const MAX_TEXT = 300;

function clip(text: string): string {
  return text.length <= MAX_TEXT
    ? text
    : `${text.slice(0, MAX_TEXT)}… (${text.length - MAX_TEXT} more characters)`;
}

/**
 * Thrown by handlers; the server's error handler turns it into a problem+json response. The list of
 * field errors is capped and each is clipped, so no reply is more than a small multiple of its request.
 */
export class ApiProblem extends Error {
  readonly problem: Problem;

  constructor(
    kind: ProblemKind,
    detail: string,
    errors?: FieldError[],
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'ApiProblem';
    const [slug, title] = PROBLEM_TYPES[kind];
    this.problem = { type: `urn:stowage:problem:${slug}`, title, status: STATUS[kind], detail: clip(detail) };
    if (errors && errors.length > 0)
      this.problem.errors = firstProblems(errors, (count) => ({
        pointer: '',
        detail: `and ${count} more problem(s)`,
      })).map((e) => ({
        ...(e.pointer !== undefined ? { pointer: clip(e.pointer) } : {}),
        ...(e.parameter !== undefined ? { parameter: clip(e.parameter) } : {}),
        detail: clip(e.detail),
      }));
  }
}

export function sendProblem(reply: FastifyReply, problem: Problem, headers: Record<string, string> = {}) {
  return reply.code(problem.status).headers(headers).type(PROBLEM_CONTENT_TYPE).send(problem);
}

/** RFC 6901: "~" and "/" inside a reference token are escaped as "~0" and "~1". */
export function jsonPointer(path: readonly (string | number)[]): string {
  return path.map((part) => `/${String(part).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

export function zodFieldErrors(error: ZodError, prefix: readonly (string | number)[] = []): FieldError[] {
  return error.issues.map((issue) => ({
    pointer: jsonPointer([...prefix, ...issue.path]),
    detail: issueText(issue),
  }));
}

/**
 * `parsePipelineInput` describes each problem as "/a/b/0: message" (its keys come from a strict schema,
 * so they never hold "/" or "~"). "/" alone means the whole document, which RFC 6901 spells "".
 */
export function fieldErrorsFromProblemLines(lines: readonly string[]): FieldError[] {
  return lines.map((line) => {
    const match = /^(\/[^:]*): (.*)$/s.exec(line);
    if (!match) return { pointer: '', detail: line };
    return { pointer: match[1] === '/' ? '' : match[1], detail: match[2] };
  });
}

/**
 * The packing validator names fields like `models[3].demands.cpu` and the document `(root)`; as pointers
 * those are `/models/3/demands/cpu` and "".
 */
export function fieldErrorsFromDottedLines(lines: readonly string[]): FieldError[] {
  return lines.map((line) => {
    const cut = line.indexOf(': ');
    if (cut < 0) return { pointer: '', detail: line };
    const where = line.slice(0, cut);
    const detail = line.slice(cut + 2);
    if (where === '(root)') return { pointer: '', detail };
    const parts = where.split(/\.|\[(\d+)\]/).filter((p) => p !== undefined && p !== '');
    return { pointer: jsonPointer(parts), detail };
  });
}
