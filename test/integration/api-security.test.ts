import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { TokenSet } from '../../src/api/auth';
import { apiRoutes, buildApiServer } from '../../src/api/server';
import { openArtifactStore } from '../../src/artifacts/store';
import { STOWAGE_TASK_QUEUE } from '../../src/domain/task-queues';
import { createLogger } from '../../src/logging';
import { allHistoriesText, type HttpResult, newToken, request } from '../support/api-http';
import { testPaths, testStack } from '../support/stack';

interface Hostile {
  name: string;
  method?: string;
  path: string;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  /** Default: the write token, so that authorization is never what refuses the input. */
  token?: string | null;
  status?: number;
  /** What the message must say (it must also be non-empty and come as problem+json). */
  says?: RegExp;
}

/** Every file under the artifact root with its size and modification time. */
function snapshot(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return (fs.readdirSync(root, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .map((d) => path.join(d.parentPath, d.name))
    .map((file) => {
      const stat = fs.statSync(file);
      return `${path.relative(root, file)} ${stat.isDirectory() ? 'dir' : stat.size} ${stat.mtimeMs}`;
    })
    .sort();
}

const okModels = [{ id: 'sec-0', source: 'sources/sec-0' }];
const pipe = (extra: Record<string, unknown>) => ({ name: 'sec', models: okModels, ...extra });

describe('HTTP API security (real server, real Temporal)', function () {
  this.timeout(600_000);
  const writeToken = newToken();
  const readToken = newToken();
  const logFile = path.join(testPaths().state, 'logs', 'api-security-test.log');
  let app: FastifyInstance;
  let base: string;

  before(async () => {
    const stack = await testStack();
    app = buildApiServer({
      client: stack.client,
      artifacts: openArtifactStore(testPaths().artifacts),
      tokens: TokenSet.fromEntries([
        { name: 'sec-writer', scope: 'write', token: writeToken },
        { name: 'sec-reader', scope: 'read', token: readToken },
      ]),
      logger: createLogger({ name: 'stowage-api-security', file: logFile, level: 'trace' }),
      limits: { bodyLimitBytes: 64 * 1024, packMaxModels: 20 },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await app?.close();
  });

  /** Each route with a well-formed id, so only the token can be what refuses it. */
  const routes = [...apiRoutes(), { method: 'GET', url: '/openapi.json', scope: 'read' as const }].map(
    (r) => ({
      method: r.method,
      scope: r.scope,
      path: r.url.replace(
        ':id',
        r.url.startsWith('/v1/schedules') ? 'sec-sched' : 'pipeline-sec-000000000000',
      ),
    }),
  );

  function assertProblem(res: HttpResult, what: string) {
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/, `${what}: ${res.text}`);
    assert.equal(res.json?.status, res.status, what);
    assert.ok(typeof res.json.detail === 'string' && res.json.detail.length > 0, `${what}: a clear message`);
  }

  it('every route but /healthz answers 401 without a token, or with a wrong one', async () => {
    assert.ok(routes.length >= 14, `all routes enumerated: ${routes.length}`);
    for (const route of routes) {
      const what = `${route.method} ${route.path}`;
      const body = route.method === 'POST' ? {} : undefined;
      const anonymous = await request(base, route.method, route.path, { body });
      if (route.scope === 'none') {
        assert.equal(anonymous.status, 200, what);
        continue;
      }
      assert.equal(anonymous.status, 401, what);
      assertProblem(anonymous, what);
      assert.match(String(anonymous.headers['www-authenticate']), /^Bearer realm="stowage"/);
      const wrong = await request(base, route.method, route.path, { body, token: `${writeToken}x` });
      assert.equal(wrong.status, 401, `${what} with a wrong token`);
    }
  });

  it('a read token gets 403 on every write route, and is let through on read routes', async () => {
    const writes = routes.filter((r) => r.scope === 'write');
    assert.ok(writes.length >= 8, `write routes: ${writes.map((r) => r.path)}`);
    for (const route of writes) {
      const res = await request(base, route.method, route.path, {
        token: readToken,
        body: route.method === 'POST' ? {} : undefined,
      });
      assert.equal(res.status, 403, `${route.method} ${route.path}`);
      assertProblem(res, route.path);
      assert.match(res.json.detail, /needs write/);
    }
    for (const route of routes.filter((r) => r.scope === 'read' && r.method === 'GET')) {
      const res = await request(base, route.method, route.path, { token: readToken });
      assert.ok(res.status !== 401 && res.status !== 403, `${route.path}: ${res.status}`);
    }
  });

  const rtl = '\u202e';
  const cyrillicA = '\u0430';
  const hostile: Hostile[] = [
    // Ids in paths: traversal, shell, unicode tricks, overlong; never reach Temporal or the store.
    {
      name: 'encoded traversal id',
      path: '/v1/pipelines/..%2F..%2Fetc%2Fpasswd',
      status: 400,
      says: /invalid path parameter id: must be a workflow id/,
    },
    { name: 'traversal to the report', path: '/v1/pipelines/..%2F..%2F.stowage/report', status: 400 },
    { name: 'raw traversal', path: '/v1/pipelines/../../etc/passwd' },
    { name: 'dot-dot id', path: '/v1/pipelines/%2e%2e/report', status: 400 },
    { name: 'double-encoded traversal', path: '/v1/pipelines/%252e%252e%252fetc/report', status: 400 },
    { name: 'NUL in an id', path: '/v1/pipelines/pipeline-a%00b', status: 400 },
    {
      name: 'RTL override in an id',
      path: `/v1/pipelines/pipeline-${encodeURIComponent(rtl)}fdp`,
      status: 400,
    },
    { name: 'homoglyph id', path: `/v1/pipelines/pipeline-${encodeURIComponent(cyrillicA)}pi`, status: 400 },
    { name: 'fullwidth id', path: `/v1/pipelines/${encodeURIComponent('ｐｉｐｅｌｉｎｅ')}`, status: 400 },
    { name: 'shell in an id', path: '/v1/pipelines/x%3Brm%20-rf%20%2F/cancel', method: 'POST', status: 400 },
    {
      name: 'command substitution id',
      path: '/v1/pipelines/%24(reboot)/approve',
      method: 'POST',
      status: 400,
    },
    { name: 'backticks id', path: '/v1/pipelines/%60id%60', status: 400 },
    { name: 'newline in an id', path: '/v1/pipelines/a%0Ab', status: 400 },
    { name: 'overlong id (256)', path: `/v1/pipelines/${'a'.repeat(256)}`, status: 400 },
    {
      name: 'very long id',
      path: `/v1/pipelines/${'a'.repeat(5000)}`,
      status: 414,
      says: /longer than 1024/,
    },
    { name: 'bad percent-encoding', path: '/v1/pipelines/%E0%A4%A', status: 400 },
    { name: 'schedule id traversal', path: '/v1/schedules/..%2F..%2Fx', method: 'DELETE', status: 400 },
    { name: 'upper-case schedule id', path: '/v1/schedules/ABC/trigger', method: 'POST', status: 400 },
    // Pipeline bodies: everything that could become a path, a shell word or a Kubernetes name.
    {
      name: 'model id traversal',
      path: '/v1/pipelines',
      method: 'POST',
      body: pipe({ models: [{ id: '../../etc', source: 'x' }] }),
      status: 422,
      says: /validate/,
    },
    {
      name: 'manifest traversal',
      path: '/v1/pipelines',
      method: 'POST',
      body: pipe({ models: { manifest: '../../etc/passwd' } }),
      status: 422,
    },
    {
      name: 'absolute manifest',
      path: '/v1/pipelines',
      method: 'POST',
      body: pipe({ models: { manifest: '/etc/passwd' } }),
      status: 422,
    },
    {
      name: 'manifest URL',
      path: '/v1/pipelines',
      method: 'POST',
      body: pipe({ models: { manifest: 'file:///etc/passwd' } }),
      status: 422,
    },
    {
      name: 'shell in the name',
      path: '/v1/pipelines',
      method: 'POST',
      body: pipe({ name: 'x; rm -rf /' }),
      status: 422,
    },
    {
      name: 'RTL override in the name',
      path: '/v1/pipelines',
      method: 'POST',
      body: pipe({ name: `abc${rtl}gpj` }),
      status: 422,
    },
    {
      name: 'homoglyph name',
      path: '/v1/pipelines',
      method: 'POST',
      body: pipe({ name: `p${cyrillicA}ck` }),
      status: 422,
    },
    {
      name: 'NUL in the name',
      path: '/v1/pipelines',
      method: 'POST',
      body: pipe({ name: 'a\u0000b' }),
      status: 422,
    },
    {
      name: 'resumeFrom traversal',
      path: '/v1/pipelines',
      method: 'POST',
      body: pipe({ resumeFrom: '../other' }),
      status: 422,
    },
    {
      name: 'resumeFrom substitution',
      path: '/v1/pipelines',
      method: 'POST',
      body: pipe({ resumeFrom: '$(reboot)' }),
      status: 422,
    },
    {
      name: 'processor injection',
      path: '/v1/pipelines',
      method: 'POST',
      body: pipe({ processors: ['cpu; ls'] }),
      status: 422,
    },
    {
      name: 'unknown runtime',
      path: '/v1/pipelines',
      method: 'POST',
      body: pipe({ runtime: 'docker; id' }),
      status: 422,
    },
    {
      name: 'models as a string',
      path: '/v1/pipelines',
      method: 'POST',
      body: pipe({ models: 'all' }),
      status: 422,
    },
    {
      name: 'step seconds as a string',
      path: '/v1/pipelines',
      method: 'POST',
      body: pipe({ loadTest: { stepSeconds: '10' } }),
      status: 422,
    },
    {
      name: 'approval as a string',
      path: '/v1/pipelines',
      method: 'POST',
      body: pipe({ approval: { required: 'yes' } }),
      status: 422,
    },
    {
      name: 'huge batch size',
      path: '/v1/pipelines',
      method: 'POST',
      body: pipe({ trace: { batchSize: 1e9 } }),
      status: 422,
    },
    {
      name: 'unknown field',
      path: '/v1/pipelines',
      method: 'POST',
      body: pipe({ shell: 'rm -rf /' }),
      status: 422,
    },
    {
      name: 'body is null',
      path: '/v1/pipelines',
      method: 'POST',
      raw: 'null',
      headers: { 'content-type': 'application/json' },
    },
    { name: 'body is an array', path: '/v1/pipelines', method: 'POST', body: [pipe({})], status: 422 },
    { name: 'body is a string', path: '/v1/pipelines', method: 'POST', body: 'models', status: 422 },
    {
      name: 'too many inline models',
      path: '/v1/pipelines',
      method: 'POST',
      raw: JSON.stringify(pipe({ models: Array.from({ length: 10_001 }, () => ({ id: 'a', source: 'b' })) })),
      headers: { 'content-type': 'application/json' },
      status: 413,
    },
    {
      name: '__proto__ pollution',
      path: '/v1/pipelines',
      method: 'POST',
      raw: `{"__proto__":{"polluted":true},"name":"sec","models":${JSON.stringify(okModels)}}`,
      headers: { 'content-type': 'application/json' },
      status: 400,
      says: /__proto__.*prototype pollution/,
    },
    {
      name: 'constructor.prototype pollution',
      path: '/v1/pipelines',
      method: 'POST',
      raw: `{"constructor":{"prototype":{"polluted":true}},"models":${JSON.stringify(okModels)}}`,
      headers: { 'content-type': 'application/json' },
      status: 400,
    },
    {
      name: 'nested __proto__',
      path: '/v1/pack',
      method: 'POST',
      raw: '{"instanceTypes":[{"__proto__":{"polluted":true}}],"models":[]}',
      headers: { 'content-type': 'application/json' },
      status: 400,
    },
    {
      name: 'truncated JSON',
      path: '/v1/pipelines',
      method: 'POST',
      raw: '{"models": [',
      headers: { 'content-type': 'application/json' },
      status: 400,
    },
    {
      name: 'NaN in JSON',
      path: '/v1/pipelines',
      method: 'POST',
      raw: '{"expectedRatePerModel": NaN}',
      headers: { 'content-type': 'application/json' },
      status: 400,
    },
    {
      name: 'empty JSON body',
      path: '/v1/pipelines',
      method: 'POST',
      raw: '',
      headers: { 'content-type': 'application/json' },
      status: 400,
    },
    {
      name: 'huge body',
      path: '/v1/pipelines',
      method: 'POST',
      raw: JSON.stringify(pipe({ name: 'x'.repeat(200_000) })),
      headers: { 'content-type': 'application/json' },
      status: 413,
      says: /too large/i,
    },
    {
      name: 'text/plain',
      path: '/v1/pipelines',
      method: 'POST',
      raw: JSON.stringify(pipe({})),
      headers: { 'content-type': 'text/plain' },
      status: 415,
      says: /application\/json/,
    },
    {
      name: 'form encoded',
      path: '/v1/pipelines',
      method: 'POST',
      raw: 'name=sec',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      status: 415,
    },
    {
      name: 'multipart',
      path: '/v1/pipelines',
      method: 'POST',
      raw: '--b\r\n\r\nx\r\n--b--',
      headers: { 'content-type': 'multipart/form-data; boundary=b' },
      status: 415,
    },
    {
      name: 'XML',
      path: '/v1/schedules',
      method: 'POST',
      raw: '<schedule/>',
      headers: { 'content-type': 'application/xml' },
      status: 415,
    },
    // Headers and query strings.
    {
      name: 'traversal idempotency key',
      path: '/v1/pipelines',
      method: 'POST',
      body: pipe({}),
      headers: { 'idempotency-key': '../../x' },
      status: 400,
    },
    {
      name: 'shell idempotency key',
      path: '/v1/pipelines',
      method: 'POST',
      body: pipe({}),
      headers: { 'idempotency-key': 'k;rm -rf /' },
      status: 400,
    },
    {
      name: 'overlong idempotency key',
      path: '/v1/pipelines',
      method: 'POST',
      body: pipe({}),
      headers: { 'idempotency-key': 'k'.repeat(200) },
      status: 400,
    },
    {
      name: 'visibility query injection',
      path: "/v1/pipelines?stage=done'%20OR%20WorkflowType%20%3D%20'doctor",
      status: 400,
      says: /stage: must be a stage name/,
    },
    { name: 'status lookup prototype key', path: '/v1/pipelines?status=__proto__', status: 400 },
    { name: 'raw visibility query', path: "/v1/pipelines?query=WorkflowType%3D'doctor'", status: 400 },
    { name: 'limit too large', path: '/v1/pipelines?limit=1000000000', status: 400 },
    {
      name: 'token in the URL, not the header',
      path: `/v1/pipelines?access_token=${writeToken}`,
      token: null,
      status: 401,
    },
    { name: 'SQL in the bearer token', path: '/v1/pipelines', token: "' OR '1'='1", status: 401 },
    // The inventory: only inventory/<name>.json, only valid model entries.
    {
      name: 'inventory key traversal',
      path: '/v1/models?inventory=inventory/../runs/x/report.json',
      method: 'POST',
      body: { id: 'x', source: 'y' },
      status: 400,
    },
    {
      name: 'inventory key outside inventory/',
      path: '/v1/models?inventory=placements/p.json',
      method: 'POST',
      body: { id: 'x', source: 'y' },
      status: 400,
    },
    {
      name: 'inventory model id traversal',
      path: '/v1/models',
      method: 'POST',
      body: { id: '../../etc', source: 'y' },
      status: 422,
    },
    { name: 'inventory model id with shell', path: '/v1/models/x%3Bid', method: 'DELETE', status: 400 },
    {
      name: 'inventory extra field',
      path: '/v1/models',
      method: 'POST',
      body: { id: 'x', source: 'y', cmd: 'id' },
      status: 422,
    },
    // Steering, packing and schedules.
    {
      name: 'approver spoofed in the body',
      path: '/v1/pipelines/pipeline-sec-000000000000/approve',
      method: 'POST',
      body: { by: 'admin' },
      status: 422,
    },
    {
      name: 'too many models to pack',
      path: '/v1/pack',
      method: 'POST',
      body: {
        instanceTypes: [],
        models: Array.from({ length: 21 }, (_, i) => ({ id: `m${i}`, demands: {} })),
      },
      status: 422,
    },
    {
      name: 'pack time limit as a string',
      path: '/v1/pack',
      method: 'POST',
      body: {
        instanceTypes: [
          { name: 't', processor: 'cpu', pricePerHour: 1, devices: 1, device: { memoryGiB: 1, compute: 1 } },
        ],
        models: [{ id: 'm', demands: { cpu: { memoryGiB: 1, compute: 1 } } }],
        timeLimitMs: 'forever',
      },
      status: 422,
    },
    {
      name: 'schedule id traversal in the body',
      path: '/v1/schedules',
      method: 'POST',
      body: { id: '../x', every: '6h' },
      status: 422,
    },
    {
      name: 'schedule inventory traversal',
      path: '/v1/schedules',
      method: 'POST',
      body: { id: 'sec-s', every: '6h', inventory: '../../etc/passwd' },
      status: 422,
    },
    {
      name: 'schedule interval too short',
      path: '/v1/schedules',
      method: 'POST',
      body: { id: 'sec-s', every: '1ms' },
      status: 422,
    },
    {
      name: 'schedule note with control characters',
      path: '/v1/schedules/sec-sched/pause',
      method: 'POST',
      body: { note: 'a\u0007\u001b[2Jb' },
      status: 422,
    },
    {
      name: 'schedule note with RTL override',
      path: '/v1/schedules/sec-sched/pause',
      method: 'POST',
      body: { note: `ok${rtl}txt.exe` },
      status: 422,
    },
  ];

  it(`refuses a corpus of ${hostile.length} hostile inputs with 4xx and a clear message, starting and writing nothing`, async () => {
    assert.ok(hostile.length >= 40);
    const { client } = await testStack();
    const scheduleIds = async () => {
      const ids: string[] = [];
      for await (const s of client.schedule.list()) ids.push(s.scheduleId);
      return ids.sort();
    };
    const schedulesBefore = await scheduleIds();
    const artifactsBefore = snapshot(testPaths().artifacts);
    const since = new Date().toISOString();

    for (const h of hostile) {
      const res = await request(base, h.method ?? 'GET', h.path, {
        token: h.token === null ? undefined : (h.token ?? writeToken),
        body: h.body,
        raw: h.raw,
        headers: h.headers,
      });
      assert.ok(res.status >= 400 && res.status < 500, `${h.name}: ${res.status} ${res.text}`);
      if (h.status) assert.equal(res.status, h.status, `${h.name}: ${res.text}`);
      assertProblem(res, h.name);
      if (h.says) assert.match(res.json.detail, h.says, h.name);
      if (res.status === 422) assert.ok(res.json.errors?.length > 0, `${h.name}: field errors`);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted');

    // Visibility is eventually consistent: a sentinel started now shows once earlier starts would. Only
    // pipelines count: nothing else can be started through these routes (schedules are compared below),
    // and other suites' schedules may legitimately start repack runs meanwhile.
    const sentinel = await client.workflow.start('pipeline', {
      taskQueue: STOWAGE_TASK_QUEUE,
      workflowId: `api-security-sentinel-${Date.now()}`,
      args: [{}],
    });
    await sentinel.result().catch(() => undefined);
    const startedSince = async () => {
      const ids: string[] = [];
      for await (const info of client.workflow.list({
        query: `WorkflowType = 'pipeline' AND StartTime >= '${since}'`,
      }))
        ids.push(info.workflowId);
      return ids;
    };
    let started = await startedSince();
    while (!started.includes(sentinel.workflowId)) {
      await new Promise((r) => setTimeout(r, 300));
      started = await startedSince();
    }
    assert.deepEqual(started, [sentinel.workflowId], 'no workflow but the sentinel started');
    assert.deepEqual(await scheduleIds(), schedulesBefore, 'no schedule was created');
    assert.deepEqual(
      snapshot(testPaths().artifacts),
      artifactsBefore,
      'nothing was written to the artifact root',
    );
  });

  it('no token appears in any workflow history of the test run or in any test log', async () => {
    // The write token's name is recorded when it starts something: give the scan something to find.
    const res = await request(base, 'POST', '/v1/pipelines', {
      token: writeToken,
      body: { name: 'sec-named' },
    });
    assert.equal(res.status, 422, 'an invalid start (no models) records nothing either');
    const { count, text } = await allHistoriesText();
    assert.ok(count > 0 && text.includes('InvalidInput'), `the scan reads real histories (${count} of them)`);
    for (const token of [writeToken, readToken]) assert.ok(!text.includes(token), 'a token is in a history');

    const logDir = path.join(testPaths().state, 'logs');
    const logs = fs.readdirSync(logDir).filter((f) => f.endsWith('.log'));
    assert.ok(logs.includes(path.basename(logFile)) && logs.includes('test.log'), logs.join(' '));
    const securityLog = fs.readFileSync(logFile, 'utf8');
    assert.match(securityLog, /"caller":"sec-writer"/, 'requests were logged with the caller name');
    assert.match(securityLog, /"url":"\/v1\/pipelines"/, 'the request with a token in the URL was logged');
    assert.doesNotMatch(
      securityLog,
      /access_token/,
      'an unknown query parameter is not logged, not even its name',
    );
    for (const file of logs) {
      const text = fs.readFileSync(path.join(logDir, file), 'utf8');
      for (const token of [writeToken, readToken]) assert.ok(!text.includes(token), `a token is in ${file}`);
    }
  });
});
