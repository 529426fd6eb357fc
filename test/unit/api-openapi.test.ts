import assert from 'node:assert/strict';
import { buildOpenApi } from '../../src/api/openapi';
import { apiRoutes } from '../../src/api/server';

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components: { securitySchemes: Record<string, unknown> };
};

describe('OpenAPI document', () => {
  const routes = apiRoutes();
  const doc = buildOpenApi(routes, { version: 'test' }) as Doc;

  it('documents every route the server registers, with its security', () => {
    assert.equal(doc.openapi, '3.0.3');
    for (const route of routes) {
      const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}');
      const op = doc.paths[path]?.[route.method.toLowerCase()] as {
        security: unknown[];
        operationId: string;
      };
      assert.ok(op, `${route.method} ${path} is documented`);
      assert.equal(op.operationId, route.operationId);
      assert.deepEqual(op.security, route.scope === 'none' ? [] : [{ bearer: [route.scope] }]);
    }
    assert.ok(doc.components.securitySchemes.bearer);
    const ids = routes.map((r) => r.operationId);
    assert.equal(new Set(ids).size, ids.length, 'operation ids are unique');
  });

  it('the start body is the PipelineInput schema itself (strict, with the id pattern and defaults)', () => {
    const body = (
      doc.paths['/v1/pipelines'].post.requestBody as {
        content: Record<string, { schema: Record<string, unknown> }>;
      }
    ).content['application/json'].schema as {
      additionalProperties: boolean;
      required?: string[];
      properties: Record<string, { pattern?: string; default?: unknown }>;
    };
    assert.equal(body.additionalProperties, false);
    assert.ok(!(body.required ?? []).includes('name'), 'a field with a default is not required of clients');
    assert.equal(body.properties.name.default, 'pipeline');
    assert.equal(body.properties.name.pattern, '^[a-z0-9][a-z0-9-]{0,62}$');
    assert.ok(body.properties.resumeFrom.pattern);
    for (const field of ['models', 'processors', 'trace', 'catalog', 'loadTest', 'approval']) {
      assert.ok(body.properties[field], `PipelineInput.${field} is documented`);
    }
  });

  it('documents path, query and header parameters with their patterns', () => {
    const get = doc.paths['/v1/pipelines/{id}'].get as {
      parameters: { name: string; in: string; schema: { pattern?: string } }[];
    };
    const id = get.parameters.find((p) => p.name === 'id');
    assert.equal(id?.in, 'path');
    assert.equal(id?.schema.pattern, '^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$');
    const list = doc.paths['/v1/pipelines'].get as { parameters: { name: string; in: string }[] };
    assert.deepEqual(list.parameters.map((p) => p.name).sort(), ['limit', 'runtime', 'stage', 'status']);
    const start = doc.paths['/v1/pipelines'].post as { parameters: { name: string; in: string }[] };
    assert.deepEqual(
      start.parameters.map((p) => [p.name, p.in]),
      [['Idempotency-Key', 'header']],
    );
  });

  it('every non-2xx response is a problem document', () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const [status, response] of Object.entries(
          op.responses as Record<string, { content?: Record<string, unknown> }>,
        )) {
          if (Number(status) < 400 || path === '/healthz') continue;
          assert.ok(response.content?.['application/problem+json'], `${method} ${path} ${status}`);
        }
      }
    }
  });
});
