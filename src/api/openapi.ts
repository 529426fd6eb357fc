import type { ZodTypeAny } from 'zod';
import { zodToJsonSchema } from 'zod-to-json-schema';
import type { ApiRoute } from './route';

const ProblemSchema = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail'],
  properties: {
    type: { type: 'string', description: 'urn:stowage:problem:<kind>' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        required: ['detail'],
        properties: {
          pointer: { type: 'string', description: 'RFC 6901 JSON pointer into the request body' },
          parameter: { type: 'string', description: 'the path, query or header parameter' },
          detail: { type: 'string' },
        },
      },
    },
  },
};

/** The JSON Schema a client must SEND: defaults are documented, not required. */
function jsonSchema(schema: ZodTypeAny): Record<string, unknown> {
  // The cast stops TypeScript from instantiating the converter's deep generic types for each schema.
  const convert = zodToJsonSchema as (schema: unknown, options: unknown) => unknown;
  const out = convert(schema, {
    target: 'openApi3',
    $refStrategy: 'none',
    effectStrategy: 'input',
    pipeStrategy: 'input',
  }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

function parameters(route: ApiRoute): unknown[] {
  const out: unknown[] = [];
  for (const [where, schema] of [
    ['path', route.params],
    ['query', route.query],
  ] as const) {
    if (!schema) continue;
    const object = jsonSchema(schema as ZodTypeAny) as {
      properties?: Record<string, unknown>;
      required?: string[];
    };
    for (const [name, property] of Object.entries(object.properties ?? {})) {
      out.push({
        name,
        in: where,
        required: where === 'path' || (object.required ?? []).includes(name),
        schema: property,
      });
    }
  }
  for (const [name, header] of Object.entries(route.headers ?? {})) {
    out.push({
      name,
      in: 'header',
      required: false,
      description: header.description,
      schema: jsonSchema(header.schema),
    });
  }
  return out;
}

/**
 * OpenAPI 3 from the route table: every schema in it is the zod schema the server validates with,
 * converted by zod-to-json-schema, so what the document promises is what the server checks.
 */
export function buildOpenApi(
  routes: readonly ApiRoute[],
  info: { version: string },
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const responses: Record<string, unknown> = {};
    for (const [status, spec] of Object.entries(route.responses)) {
      const contentType = spec.contentType ?? 'application/json';
      responses[status] = {
        description: spec.description,
        ...(spec.schema
          ? { content: { [contentType]: { schema: jsonSchema(spec.schema) } } }
          : contentType === 'application/problem+json'
            ? { content: { [contentType]: { schema: { $ref: '#/components/schemas/Problem' } } } }
            : {}),
      };
    }
    const params = parameters(route);
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      tags: route.tags,
      security: route.scope === 'none' ? [] : [{ bearer: [route.scope] }],
      ...(params.length > 0 ? { parameters: params } : {}),
      ...(route.body
        ? {
            requestBody: {
              required: route.body.required,
              content: { 'application/json': { schema: jsonSchema(route.body.schema) } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'Stowage API',
      version: info.version,
      description:
        'Start and steer Stowage pipeline runs, pack what-ifs and repack schedules. Every route but ' +
        '/healthz needs "Authorization: Bearer <token>"; write routes need a token with scope write.',
    },
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'scopes: read, write (implies read)' },
      },
      schemas: { Problem: ProblemSchema },
    },
  };
}
