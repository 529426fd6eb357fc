import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { TokenSet } from '../../src/api/auth';
import { buildApiServer } from '../../src/api/server';
import { openArtifactStore } from '../../src/artifacts/store';
import { makeTinyModels } from '../../src/dev/tiny-models';
import { createLogger } from '../../src/logging';
import type { PipelineInputJson } from '../../src/pipeline/input';
import { allHistoriesText, type HttpResult, newToken, request } from '../support/api-http';
import { runCli, STOWAGE_BIN } from '../support/cli';
import { testPaths, testStack } from '../support/stack';

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 300_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The API over real HTTP against the real dev server and both real workers. */
describe('HTTP API (real server, real Temporal, real workers)', function () {
  this.timeout(900_000);
  const writeToken = newToken();
  const readToken = newToken();
  let app: FastifyInstance;
  let base: string;
  let sources: string[];
  const logFile = path.join(testPaths().state, 'logs', 'api-test.log');

  before(async () => {
    const stack = await testStack();
    sources = await makeTinyModels(testPaths(), {
      out: path.join(testPaths().artifacts, 'api-sources'),
      count: 2,
      prefix: 'api',
    });
    app = buildApiServer({
      client: stack.client,
      artifacts: openArtifactStore(testPaths().artifacts),
      tokens: TokenSet.fromEntries([
        { name: 'ci', scope: 'write', token: writeToken },
        { name: 'dashboard', scope: 'read', token: readToken },
      ]),
      logger: createLogger({ name: 'stowage-api-test', file: logFile, level: 'trace' }),
      limits: { bodyLimitBytes: 256 * 1024, packMaxModels: 50, packMaxTimeLimitMs: 2000 },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await app?.close();
  });

  function input(extra: Partial<PipelineInputJson> = {}): PipelineInputJson {
    return {
      name: 'api',
      models: sources.map((source, i) => ({ id: `api-${i}`, source })),
      trace: { sequenceLength: 32 },
      loadTest: { stepSeconds: 2, maxSteps: 2 },
      ...extra,
    };
  }

  const get = (p: string, token = readToken, headers?: Record<string, string>) =>
    request(base, 'GET', p, { token, headers });
  const post = (
    p: string,
    body?: unknown,
    options: { token?: string; headers?: Record<string, string> } = {},
  ) => request(base, 'POST', p, { token: options.token ?? writeToken, body, headers: options.headers });

  async function follow(id: string, done: (s: HttpResult) => boolean): Promise<HttpResult> {
    return until(`run ${id}`, async () => {
      const res = await get(`/v1/pipelines/${id}`);
      assert.equal(res.status, 200, res.text);
      return done(res) ? res : undefined;
    });
  }

  function assertProblem(res: HttpResult, status: number, detail?: RegExp) {
    assert.equal(res.status, status, res.text);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    assert.equal(res.json.status, status);
    assert.ok(typeof res.json.detail === 'string' && res.json.detail.length > 0);
    if (detail) assert.match(res.json.detail, detail);
  }

  let finished: string;

  it('starts a run, follows it to the end, and serves its report as JSON and HTML', async () => {
    const started = await post('/v1/pipelines', input());
    assert.equal(started.status, 201, started.text);
    assert.equal(started.json.started, true);
    const id: string = started.json.workflowId;
    assert.match(id, /^pipeline-api-[0-9a-f]{12}$/);
    assert.equal(started.headers.location, `/v1/pipelines/${id}`);

    const early = await get(`/v1/pipelines/${id}/report`);
    assertProblem(early, 404, /no report yet/);

    const seen = new Set<string>();
    const done = await follow(id, (s) => {
      if (s.json.progress) seen.add(s.json.progress.stage);
      return s.json.status !== 'RUNNING';
    });
    assert.equal(done.json.status, 'COMPLETED', done.text);
    assert.equal(done.json.startedBy, 'ci');
    assert.equal(done.json.progress.stage, 'done');
    assert.equal(done.json.result.modelsServed, 2);
    assert.equal(done.json.stage, 'done', 'the StowageStage search attribute');
    assert.ok(seen.size >= 2, `progress was visible while running: ${[...seen]}`);

    const json = await get(`/v1/pipelines/${id}/report`, readToken, { accept: 'application/json' });
    assert.equal(json.status, 200, json.text);
    assert.match(String(json.headers['content-type']), /^application\/json/);
    assert.equal(json.json.results.models, 2);
    const html = await get(`/v1/pipelines/${id}/report`, readToken, { accept: 'text/html' });
    assert.equal(html.status, 200);
    assert.match(String(html.headers['content-type']), /^text\/html/);
    assert.match(html.text, /<svg/);
    assert.match(String(html.headers['content-security-policy']), /default-src 'none'/);
    const stored = fs.readFileSync(path.join(testPaths().artifacts, 'runs', id, 'report.html'), 'utf8');
    assert.equal(html.text, stored, 'the stored report, byte for byte');
    assertProblem(await get(`/v1/pipelines/${id}/report`, readToken, { accept: 'image/png' }), 406);
    finished = id;
  });

  it('an Idempotency-Key retry never starts twice; another body under the key is 409', async () => {
    const key = `retry-${randomBytes(6).toString('hex')}`;
    const body = input({ approval: { required: true } });
    const first = await post('/v1/pipelines', body, { headers: { 'idempotency-key': key } });
    assert.equal(first.status, 201, first.text);
    const retry = await post('/v1/pipelines', body, { headers: { 'idempotency-key': key } });
    assert.equal(retry.status, 200, retry.text);
    assert.equal(retry.json.started, false);
    assert.equal(retry.json.workflowId, first.json.workflowId);
    assert.equal(retry.json.runId, first.json.runId, 'the very same run');
    // Key order and defaults do not make a body different.
    const reordered = { loadTest: body.loadTest, ...body, approval: { required: true } };
    assert.equal(
      (await post('/v1/pipelines', reordered, { headers: { 'idempotency-key': key } })).status,
      200,
    );
    const other = await post('/v1/pipelines', input({ name: 'other' }), {
      headers: { 'idempotency-key': key },
    });
    assertProblem(other, 409, /idempotency key/);

    const id: string = first.json.workflowId;
    const { client } = await testStack();
    const runs: string[] = [];
    for await (const info of client.workflow.list({ query: `WorkflowId = '${id}'` })) runs.push(info.runId);
    assert.deepEqual(runs, [first.json.runId], 'one execution under the key');

    // Approval: nothing deploys until the write token approves; the approver is the token's name.
    await follow(id, (s) => s.json.progress?.awaitingApproval === true);
    const listed = await until('the waiting run in the list', async () => {
      const res = await get('/v1/pipelines?stage=awaiting-approval&status=running&runtime=local');
      assert.equal(res.status, 200, res.text);
      return res.json.runs.some((r: { workflowId: string }) => r.workflowId === id) ? res : undefined;
    });
    assert.ok(listed.json.runs.every((r: { stage: string }) => r.stage === 'awaiting-approval'));
    assertProblem(await post(`/v1/pipelines/${id}/approve`, undefined, { token: readToken }), 403);
    assertProblem(await post(`/v1/pipelines/${id}/approve`, { by: 'someone-else' }), 422);
    const approved = await post(`/v1/pipelines/${id}/approve`);
    assert.equal(approved.status, 200, approved.text);
    assert.equal(approved.json.approvedBy, 'ci');
    assertProblem(await post(`/v1/pipelines/${id}/approve`), 409, /nothing is waiting for approval/);

    // Cancel once it deploys: the run stops its servers and ends CANCELLED; steering it then is 409.
    await follow(id, (s) => ['deploy', 'test', 'report'].includes(s.json.progress?.stage));
    const cancelled = await post(`/v1/pipelines/${id}/cancel`);
    assert.equal(cancelled.status, 202, cancelled.text);
    const end = await follow(id, (s) => s.json.status !== 'RUNNING');
    assert.equal(end.json.status, 'CANCELLED', end.text);
    assert.equal(end.json.progress.approvedBy, 'ci');
    assertProblem(await post(`/v1/pipelines/${id}/cancel`), 409, /has ended \(CANCELLED\)/);
    assertProblem(await post(`/v1/pipelines/${id}/approve`), 409, /has ended/);
    assertProblem(await get(`/v1/pipelines/${id}/report`), 404, /no report yet/);
    // A finished run under the key is still the answer to a retry: never a second start.
    const late = await post('/v1/pipelines', body, { headers: { 'idempotency-key': key } });
    assert.equal(late.status, 200, late.text);
    assert.equal(late.json.runId, first.json.runId);
  });

  it('lists runs filtered by status, stage and runtime; bad filters are 400', async () => {
    const completed = await until('the finished run in the list', async () => {
      const res = await get('/v1/pipelines?status=completed&stage=done');
      return res.json.runs.some((r: { workflowId: string }) => r.workflowId === finished) ? res : undefined;
    });
    assert.ok(completed.json.runs.every((r: { status: string }) => r.status === 'COMPLETED'));
    const running = await get('/v1/pipelines?status=running');
    assert.ok(!running.json.runs.some((r: { workflowId: string }) => r.workflowId === finished));
    const none = await get('/v1/pipelines?runtime=kubernetes');
    assert.deepEqual(none.json.runs, []);
    const limited = await get('/v1/pipelines?limit=1');
    assert.equal(limited.json.runs.length, 1);
    assertProblem(await get("/v1/pipelines?stage=done'%20OR%20WorkflowType%3D'x"), 400);
    assertProblem(await get('/v1/pipelines?status=Running'), 400);
    assertProblem(await get('/v1/pipelines?limit=0'), 400);
    assertProblem(await get('/v1/pipelines?query=x'), 400);
  });

  it('answers each error status with problem details', async () => {
    const unknown = 'pipeline-nope-000000000000';
    assertProblem(await get(`/v1/pipelines/${unknown}`), 404, /no pipeline run/);
    assertProblem(await post(`/v1/pipelines/${unknown}/approve`), 404);
    assertProblem(await post(`/v1/pipelines/${unknown}/cancel`), 404);
    assertProblem(await get(`/v1/pipelines/${unknown}/report`), 404);
    // A child of a run is a workflow, but not a pipeline run.
    assertProblem(await get(`/v1/pipelines/${finished}-test`), 404, /no pipeline run/);
    assertProblem(await get('/v1/pipelines/bad%20id'), 400);

    const invalid = await post('/v1/pipelines', {
      models: [
        { id: 'a', source: 'x' },
        { id: 'a', source: 'y' },
      ],
      loadTest: { sloP90Ms: -1 },
    });
    assertProblem(invalid, 422);
    assert.ok(
      invalid.json.errors.some((e: { pointer: string }) => e.pointer === '/models/1/id'),
      invalid.text,
    );
    assert.ok(invalid.json.errors.some((e: { pointer: string }) => e.pointer === '/loadTest/sloP90Ms'));
    assertProblem(
      await request(base, 'POST', '/v1/pipelines', {
        token: writeToken,
        raw: '{"models": [',
        headers: { 'content-type': 'application/json' },
      }),
      400,
    );
    assertProblem(
      await request(base, 'POST', '/v1/pipelines', {
        token: writeToken,
        raw: 'models=x',
        headers: { 'content-type': 'text/plain' },
      }),
      415,
    );
    const huge = await request(base, 'POST', '/v1/pipelines', {
      token: writeToken,
      raw: JSON.stringify({ name: 'x'.repeat(300 * 1024) }),
      headers: { 'content-type': 'application/json' },
    });
    assertProblem(huge, 413);
    assertProblem(await post('/v1/pipelines', undefined), 400, /body is required/);
    assertProblem(await get('/v1/pipelines', 'not-a-token-at-all'), 401);
    assertProblem(await post('/v1/pipelines', input(), { token: readToken }), 403);
    assertProblem(await get('/no/such/route'), 404);
  });

  it('packs a what-if synchronously, bounded in size and time', async () => {
    const problem = {
      instanceTypes: [
        {
          name: 'small',
          processor: 'cpu',
          pricePerHour: 1,
          devices: 1,
          device: { memoryGiB: 4, compute: 1 },
        },
        {
          name: 'big',
          processor: 'cpu',
          pricePerHour: 1.5,
          devices: 1,
          device: { memoryGiB: 8, compute: 2 },
        },
      ],
      models: Array.from({ length: 6 }, (_, i) => ({
        id: `m${i}`,
        demands: { cpu: { memoryGiB: 2, compute: 0.3 } },
      })),
      timeLimitMs: 60_000,
    };
    const res = await post('/v1/pack', problem, { token: readToken });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['stowage-time-limit-ms'], '2000', 'the asked 60 s are capped');
    const placed = res.json.instances.flatMap((i: { devices: string[][] }) => i.devices.flat());
    assert.deepEqual(placed.sort(), problem.models.map((m) => m.id).sort());
    assert.ok(res.json.costPerHour >= res.json.lowerBoundPerHour);

    const tooMany = await post('/v1/pack', {
      ...problem,
      models: Array.from({ length: 51 }, (_, i) => ({
        id: `m${i}`,
        demands: { cpu: { memoryGiB: 1, compute: 0.1 } },
      })),
    });
    assertProblem(tooMany, 422);
    assert.equal(tooMany.json.errors[0].pointer, '/models');
    const bad = await post('/v1/pack', {
      ...problem,
      models: [{ id: 'm', demands: { tpu: { memoryGiB: 1, compute: 1 } } }],
    });
    assertProblem(bad, 422);
    assert.equal(bad.json.errors[0].pointer, '/models/0/demands/tpu');
  });

  it('creates, lists, pauses, unpauses and deletes a repack schedule', async () => {
    const id = `api-sched-${randomBytes(3).toString('hex')}`;
    const created = await post('/v1/schedules', { id, every: '6h', paused: true });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.id, id);
    assert.equal(created.json.paused, true);
    assertProblem(await post('/v1/schedules', { id, every: '6h', paused: true }), 409, /already exists/);
    assertProblem(await post('/v1/schedules', { id: 'x', every: '1ms' }), 422);
    const listed = await get('/v1/schedules');
    assert.ok(
      listed.json.schedules.some((s: { id: string }) => s.id === id),
      listed.text,
    );
    const unpaused = await post(`/v1/schedules/${id}/unpause`, { note: 'go' });
    assert.equal(unpaused.status, 200, unpaused.text);
    assert.equal(unpaused.json.paused, false);
    assert.ok(unpaused.json.nextRunAt);
    const paused = await post(`/v1/schedules/${id}/pause`);
    assert.equal(paused.json.paused, true);
    assertProblem(await post(`/v1/schedules/${id}/pause`, undefined, { token: readToken }), 403);
    assert.equal((await request(base, 'DELETE', `/v1/schedules/${id}`, { token: writeToken })).status, 204);
    assertProblem(await get(`/v1/schedules/${id}`), 404);
    assertProblem(await post(`/v1/schedules/${id}/trigger`), 404);
    assertProblem(await request(base, 'DELETE', `/v1/schedules/${id}`, { token: writeToken }), 404);
  });

  it('edits the model inventory: add, list, duplicate 409, remove, unknown 404, last model stays', async () => {
    const q = `?inventory=inventory/api-${randomBytes(3).toString('hex')}.json`;
    assertProblem(await get(`/v1/models${q}`), 404, /no inventory/);
    const first = await post(`/v1/models${q}`, { id: 'inv-a', source: sources[0] });
    assert.equal(first.status, 201, first.text);
    const second = await post(`/v1/models${q}`, { id: 'inv-b', source: sources[1] });
    assert.deepEqual(
      second.json.models.map((m: { id: string }) => m.id),
      ['inv-a', 'inv-b'],
    );
    assert.notEqual(second.json.sha256, first.json.sha256);
    assertProblem(
      await post(`/v1/models${q}`, { id: 'inv-a', source: 'x' }),
      409,
      /already in the inventory/,
    );
    const bad = await post(`/v1/models${q}`, { id: 'Inv_A', source: '' });
    assertProblem(bad, 422);
    assert.ok(
      bad.json.errors.some((e: { pointer: string }) => e.pointer === '/id'),
      bad.text,
    );
    const listed = await get(`/v1/models${q}`);
    assert.equal(listed.json.models.length, 2);
    const key = listed.json.key as string;
    const stored = JSON.parse(fs.readFileSync(path.join(testPaths().artifacts, key), 'utf8'));
    assert.deepEqual(stored.models, listed.json.models, 'the artifact is what the API shows');
    const removed = await request(base, 'DELETE', `/v1/models/inv-a${q}`, { token: writeToken });
    assert.equal(removed.status, 200, removed.text);
    assert.deepEqual(
      removed.json.models.map((m: { id: string }) => m.id),
      ['inv-b'],
    );
    assertProblem(await request(base, 'DELETE', `/v1/models/inv-a${q}`, { token: writeToken }), 404);
    assertProblem(
      await request(base, 'DELETE', `/v1/models/inv-b${q}`, { token: writeToken }),
      409,
      /last model/,
    );
    assertProblem(await post('/v1/models?inventory=runs/x/report.json', { id: 'x', source: 'y' }), 400);
  });

  it('serves /healthz without a token and /openapi.json with one', async () => {
    const health = await request(base, 'GET', '/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(health.json, { status: 'ok', temporal: 'reachable' });
    assertProblem(await request(base, 'GET', '/openapi.json'), 401);
    const doc = await get('/openapi.json');
    assert.equal(doc.status, 200);
    assert.ok(doc.json.paths['/v1/pipelines'].post.requestBody);
  });

  it('the CLI steers the same runs: status, report, approve and cancel', async () => {
    const stack = await testStack();
    const env = { STOWAGE_ARTIFACTS: testPaths().artifacts, STOWAGE_STATE_DIR: testPaths().state };
    const flags = ['--temporal-address', stack.temporal.address];
    const status = await runCli(['status', finished, '--json', ...flags], env);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(JSON.parse(status.stdout).status, 'COMPLETED');
    const table = await runCli(['status', finished, ...flags], env);
    assert.match(table.stdout, /^\s+deploy\s+done/m);
    const report = await runCli(['report', finished, '--json', ...flags], env);
    assert.equal(report.code, 0, report.stderr);
    assert.equal(JSON.parse(report.stdout).results.models, 2);
    const summary = await runCli(['report', finished, ...flags], env);
    const steps = JSON.parse(report.stdout).steps.length;
    assert.match(
      summary.stdout,
      new RegExp(
        `^load steps\\s+${steps} measured, (all stable|\\d+ unstable \\(steps? \\d+(, \\d+)*\\))$`,
        'm',
      ),
    );
    const where = await runCli(['report', finished, '--open-path', ...flags], env);
    assert.ok(fs.existsSync(where.stdout.trim()), where.stdout);
    const cancel = await runCli(['cancel', finished, ...flags], env);
    assert.equal(cancel.code, 1);
    assert.match(cancel.stderr, /has ended \(COMPLETED\): nothing to cancel/);
    const approve = await runCli(['approve', 'pipeline-nope-1', '--json', ...flags], env);
    assert.equal(approve.code, 1);
    assert.match(approve.stderr, /no pipeline run with id pipeline-nope-1/);
  });

  it('`stowage api` serves HTTPS with its own certificate, takes tokens from the environment, stops on SIGTERM', async () => {
    const stack = await testStack();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-api-tls-'));
    const [cert, key] = [path.join(dir, 'cert.pem'), path.join(dir, 'key.pem')];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const token = newToken();
    const env = {
      ...process.env,
      STOWAGE_API_TOKENS: `ops write ${token}`,
      STOWAGE_ARTIFACTS: testPaths().artifacts,
    };
    const flags = ['--temporal-address', stack.temporal.address];
    const child = spawn(
      process.execPath,
      [STOWAGE_BIN, 'api', '--port', '0', '--json', '--api-tls-cert', cert, '--api-tls-key', key, ...flags],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const first = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          if (out.includes('\n')) resolve(out.split('\n')[0]);
        });
        child.once('exit', () => reject(new Error(`stowage api exited: ${stderr}`)));
      });
      const { url, tokens } = JSON.parse(first) as { url: string; tokens: string[] };
      assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.deepEqual(tokens, ['ops'], 'names only');
      const ca = fs.readFileSync(cert);
      const get = (p: string, auth?: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          https
            .get(`${url}${p}`, { ca, headers: auth ? { authorization: `Bearer ${auth}` } : {} }, (res) => {
              let body = '';
              res.on('data', (d) => (body += d));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
            })
            .on('error', reject);
        });
      assert.equal((await get('/healthz')).status, 200, 'TLS verified against the certificate');
      assert.equal((await get(`/v1/pipelines/${finished}`)).status, 401);
      const run = await get(`/v1/pipelines/${finished}`, token);
      assert.equal(run.status, 200, run.body);
      assert.equal(JSON.parse(run.body).status, 'COMPLETED');
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      assert.match(stderr, /"caller":"ops"/, 'it logs to stderr with the caller name');
      assert.ok(!stderr.includes(token), 'never the token');
    } finally {
      child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const open = await runCli(['api', '--host', '0.0.0.0', '--port', '0', ...flags], {
      STOWAGE_API_TOKENS: `ops write ${token}`,
    });
    assert.equal(open.code, 1);
    assert.match(open.stderr, /refusing to send bearer tokens in plain HTTP on 0\.0\.0\.0/);
    const none = await runCli(['api', '--port', '0', ...flags], { STOWAGE_API_TOKENS: '' });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no API tokens/);
  });

  it('no API token appears in any workflow history or in the API log', async () => {
    const { count, text } = await allHistoriesText();
    assert.ok(count > 0 && text.includes('approveDeploy'), 'the scan sees the histories of this test');
    assert.ok(text.includes('{"by":"ci"}'), 'the approver, the token NAME, is recorded');
    for (const token of [writeToken, readToken]) assert.ok(!text.includes(token), 'a token is in a history');
    const log = fs.readFileSync(logFile, 'utf8');
    assert.match(log, /"caller":"ci"/);
    for (const token of [writeToken, readToken]) assert.ok(!log.includes(token), 'a token is in the log');
  });
});
