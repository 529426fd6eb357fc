import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { TokenSet } from '../../src/api/auth';
import { buildApiServer, type ApiLimits } from '../../src/api/server';
import { openArtifactStore } from '../../src/artifacts/store';
import { LIMITS, MAX_REPORTED_PROBLEMS } from '../../src/domain/limits';
import { createLogger } from '../../src/logging';
import { type HttpResult, newToken, request } from '../support/api-http';
import { testPaths, testStack } from '../support/stack';

/**
 * Hostile input and load against the real API on the real Temporal dev server: bounds on every count,
 * packing off the event loop with a hard time limit, timeouts on slow clients, problem+json for what the
 * HTTP parser refuses, and no token in any reply or log line, wherever the client puts it.
 */

const writeToken = newToken();
const readToken = newToken();
const TOKENS = [writeToken, readToken];
const logDir = () => path.join(testPaths().state, 'logs');

async function startApi(
  name: string,
  limits: Partial<ApiLimits>,
): Promise<{ app: FastifyInstance; base: string }> {
  const stack = await testStack();
  const app = buildApiServer({
    client: stack.client,
    artifacts: openArtifactStore(testPaths().artifacts),
    tokens: TokenSet.fromEntries([
      { name: 'hard-writer', scope: 'write', token: writeToken },
      { name: 'hard-reader', scope: 'read', token: readToken },
    ]),
    logger: createLogger({ name, file: path.join(logDir(), `${name}.log`), level: 'trace' }),
    limits,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

function assertProblem(res: HttpResult, status: number, what: string) {
  assert.equal(res.status, status, `${what}: ${res.text.slice(0, 500)}`);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/, what);
  assert.equal(res.json?.status, status, what);
  assert.ok(typeof res.json.detail === 'string' && res.json.detail.length > 0, `${what}: a clear message`);
}

function assertNoToken(text: string, what: string) {
  for (const token of TOKENS) assert.ok(!text.includes(token), `a token is in ${what}`);
}

async function assertHealthy(base: string, what: string) {
  const res = await request(base, 'GET', '/healthz');
  assert.equal(res.status, 200, `${what}: /healthz ${res.text}`);
  assert.deepEqual(res.json, { status: 'ok', temporal: 'reachable' }, what);
}

interface RawAnswer {
  text: string;
  /** The server closed the connection (it was not the client giving up). */
  closedByServer: boolean;
}

/**
 * Bytes on a raw socket, exactly as written; `drip` then sends one byte at a time with a pause between,
 * for as long as the server keeps the connection open (up to `drip.bytes`).
 */
function raw(
  base: string,
  data: string | Buffer,
  drip?: { everyMs: number; bytes: number },
  /** Leave the socket open for writing: the server must answer and close it by itself. */
  keepWriting = false,
): Promise<RawAnswer> {
  const { port } = new URL(base);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    let dripTimer: NodeJS.Timeout | undefined;
    let sent = 0;
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(dripTimer);
      resolve({
        text: Buffer.concat(chunks).toString('utf8'),
        closedByServer: sent < (drip?.bytes ?? Infinity),
      });
    });
    socket.write(data);
    if (drip) {
      dripTimer = setInterval(() => {
        if (sent >= drip.bytes) {
          clearInterval(dripTimer);
          socket.destroy();
          return;
        }
        sent++;
        socket.write(' ');
      }, drip.everyMs);
    } else if (!keepWriting) socket.end();
  });
}

/** The status line and the problem of a raw HTTP answer. */
function parseRaw(answer: RawAnswer): {
  status: number;
  headers: string;
  json: { status: number; detail: string };
} {
  const [head, body] = answer.text.split('\r\n\r\n', 2);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  return {
    status,
    headers: head.toLowerCase(),
    json: JSON.parse(body) as { status: number; detail: string },
  };
}

const cpuType = (extra: Record<string, unknown> = {}) => ({
  name: 't',
  processor: 'cpu',
  pricePerHour: 1,
  devices: 4,
  device: { memoryGiB: 8, compute: 1 },
  ...extra,
});
const cpuModel = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  demands: { cpu: { memoryGiB: 0.5, compute: 0.5 } },
  ...extra,
});

/** A pack that keeps its thread busy for its whole budget: 2,000 models over 50 types, no quick optimum. */
function busyProblem(timeLimitMs: number) {
  return {
    instanceTypes: Array.from({ length: 50 }, (_, t) => ({
      ...cpuType(),
      name: `t${t}`,
      pricePerHour: 1 + (t % 7) * 0.13,
      devices: 1 + (t % 8),
      device: { memoryGiB: 6 + (t % 5), compute: 1 },
    })),
    models: Array.from({ length: 2000 }, (_, i) => ({
      id: `busy-${i}`,
      demands: {
        cpu: { memoryGiB: 0.3 + ((i * 7919) % 97) / 40, compute: 0.05 + ((i * 104729) % 89) / 200 },
      },
    })),
    timeLimitMs,
  };
}

/** The largest problem the pack route takes by default: 5,000 models on 200 instance types. */
function largestProblem() {
  return {
    instanceTypes: Array.from({ length: 200 }, (_, t) => ({
      ...cpuType(),
      name: `t${t}`,
      pricePerHour: 1 + t / 100,
    })),
    models: Array.from({ length: 5000 }, (_, i) => ({
      id: `large-${i}`,
      demands: { cpu: { memoryGiB: 0.5 + (i % 7) / 10, compute: 0.1 + (i % 5) / 10 } },
    })),
    timeLimitMs: 10_000,
  };
}

describe('HTTP API hardening: bounds, packing threads, timeouts, parser errors, redaction', function () {
  this.timeout(600_000);
  let app: FastifyInstance;
  let base: string;

  before(async () => {
    ({ app, base } = await startApi('api-hardening-test', {
      packConcurrency: 1,
      packQueue: 1,
      packMaxTimeLimitMs: 4000,
      // The hard deadline has its own test: on a loaded machine it must not decide the others.
      packGraceMs: 60_000,
      headersTimeoutMs: 1000,
      requestTimeoutMs: 1500,
    }));
  });

  after(async () => {
    await app?.close();
  });

  describe('bounds of the packing contract', () => {
    const refusals: { name: string; body: unknown; pointer: string }[] = [
      {
        name: 'the 215-byte request that killed the API (devices 1e8)',
        body: {
          instanceTypes: [cpuType({ devices: 100_000_000, device: { memoryGiB: 1, compute: 1 } })],
          models: [cpuModel('m')],
          timeLimitMs: 1000,
        },
        pointer: '/instanceTypes/0/devices',
      },
      {
        name: 'devices 1e7',
        body: { instanceTypes: [cpuType({ devices: 1e7 })], models: [cpuModel('m')], timeLimitMs: 1000 },
        pointer: '/instanceTypes/0/devices',
      },
      {
        name: `devices one over ${LIMITS.devicesPerType}`,
        body: { instanceTypes: [cpuType({ devices: LIMITS.devicesPerType + 1 })], models: [cpuModel('m')] },
        pointer: '/instanceTypes/0/devices',
      },
      {
        name: 'available 1e12',
        body: { instanceTypes: [cpuType({ available: 1e12 })], models: [cpuModel('m')] },
        pointer: '/instanceTypes/0/available',
      },
      {
        name: 'price 1e300',
        body: { instanceTypes: [cpuType({ pricePerHour: 1e300 })], models: [cpuModel('m')] },
        pointer: '/instanceTypes/0/pricePerHour',
      },
      {
        name: 'device memory 1e12 GiB',
        body: {
          instanceTypes: [cpuType({ device: { memoryGiB: 1e12, compute: 1 } })],
          models: [cpuModel('m')],
        },
        pointer: '/instanceTypes/0/device/memoryGiB',
      },
      {
        name: 'a 10,000-character model id',
        body: { instanceTypes: [cpuType()], models: [cpuModel('m'.repeat(10_000))] },
        pointer: '/models/0/id',
      },
      {
        name: `${LIMITS.processors + 1} demand entries in one model`,
        body: {
          instanceTypes: [cpuType()],
          models: [
            {
              id: 'm',
              demands: Object.fromEntries(
                Array.from({ length: LIMITS.processors + 1 }, (_, i) => [
                  `p${i}`,
                  { memoryGiB: 1, compute: 1 },
                ]),
              ),
            },
          ],
        },
        pointer: '/models/0/demands',
      },
      {
        name: `${LIMITS.processors + 1} distinct processors`,
        body: {
          instanceTypes: Array.from({ length: LIMITS.processors + 1 }, (_, i) =>
            cpuType({ name: `t${i}`, processor: `p${i}` }),
          ),
          models: [cpuModel('m')],
        },
        pointer: '/instanceTypes',
      },
      {
        name: 'timeLimitMs over an hour',
        body: { instanceTypes: [cpuType()], models: [cpuModel('m')], timeLimitMs: LIMITS.timeLimitMs + 1 },
        pointer: '/timeLimitMs',
      },
      {
        name: 'a previous placement with 300 devices on one instance',
        body: {
          instanceTypes: [cpuType()],
          models: [cpuModel('m')],
          previous: { instances: [{ type: 't', devices: Array.from({ length: 300 }, () => []) }] },
        },
        pointer: '/previous/instances/0/devices',
      },
      {
        name: '200,000 instance types (a list of zeros)',
        body: { instanceTypes: new Array(200_000).fill(0), models: [cpuModel('m')] },
        pointer: '/instanceTypes',
      },
    ];

    for (const r of refusals) {
      it(`refuses ${r.name}: 422 naming the field, at once`, async () => {
        const res = await request(base, 'POST', '/v1/pack', { token: readToken, body: r.body });
        assertProblem(res, 422, r.name);
        assert.ok(
          res.json.errors.some((e: { pointer: string }) => e.pointer === r.pointer),
          `${r.name}: ${JSON.stringify(res.json.errors).slice(0, 500)}`,
        );
      });
    }

    it('answers a 0.9 MB body of 24,000 unknown demand keys with a reply smaller than the request', async () => {
      const demands: Record<string, unknown> = {};
      for (let i = 0; i < 24_000; i++) demands[`p${i}`] = { memoryGiB: 0.1, compute: 0.1 };
      const body = JSON.stringify({
        instanceTypes: Array.from({ length: 200 }, (_, i) =>
          cpuType({ name: `t${i}`, processor: `proc-${i}` }),
        ),
        models: [{ id: 'm', demands }],
      });
      assert.ok(body.length > 900_000);
      const res = await request(base, 'POST', '/v1/pack', {
        token: readToken,
        raw: body,
        headers: { 'content-type': 'application/json' },
      });
      assertProblem(res, 422, 'amplifier');
      assert.ok(res.text.length < body.length / 100, `reply of ${res.text.length} B to ${body.length} B`);
    });

    it(`lists at most ${MAX_REPORTED_PROBLEMS} problems, the last saying how many more there are`, async () => {
      // 3,000 models, each naming 3 processors no instance type offers: 9,000 defects.
      const models = Array.from({ length: 3000 }, (_, i) => ({
        id: `m${i}`,
        demands: {
          x: { memoryGiB: 1, compute: 1 },
          y: { memoryGiB: 1, compute: 1 },
          z: { memoryGiB: 1, compute: 1 },
        },
      }));
      const body = { instanceTypes: [cpuType()], models };
      const res = await request(base, 'POST', '/v1/pack', { token: readToken, body });
      assertProblem(res, 422, 'many defects');
      assert.equal(res.json.errors.length, MAX_REPORTED_PROBLEMS);
      assert.equal(
        res.json.errors.at(-1).detail,
        `and ${9000 - (MAX_REPORTED_PROBLEMS - 1)} more problem(s)`,
      );
      assert.ok(res.text.length < JSON.stringify(body).length, 'the reply is smaller than the request');
    });

    it('refuses the same bounds in a schedule catalog and a pipeline catalog', async () => {
      const catalogType = {
        name: 'inf1.xlarge',
        processor: 'cpu',
        pricePerHour: 1,
        devices: 1e15,
        device: { memoryGiB: 8, compute: 1 },
      };
      const schedule = await request(base, 'POST', '/v1/schedules', {
        token: writeToken,
        body: { id: 'hard-s', every: '6h', catalog: [catalogType] },
      });
      assertProblem(schedule, 422, 'schedule devices 1e15');
      assert.equal(schedule.json.errors[0].pointer, '/catalog/0/devices');
      const zeros = await request(base, 'POST', '/v1/schedules', {
        token: writeToken,
        body: { id: 'hard-s', every: '6h', catalog: new Array(200_000).fill(0) },
      });
      assertProblem(zeros, 422, 'schedule catalog of 200,000 zeros');
      assert.equal(zeros.json.errors.length, 1, 'one line, not 200,000');
      const pipeline = await request(base, 'POST', '/v1/pipelines', {
        token: writeToken,
        body: {
          name: 'hard',
          models: [{ id: 'm', source: 'sources/m' }],
          catalog: Array.from({ length: LIMITS.instanceTypes + 1 }, (_, i) => ({
            ...catalogType,
            name: `x${i}`,
            devices: 1,
          })),
        },
      });
      assertProblem(pipeline, 422, 'pipeline catalog too long');
      assert.equal(pipeline.json.errors[0].pointer, '/catalog');
    });
  });

  describe('packing threads', () => {
    it('packs in a thread while /healthz stays correct, and answers the excess with 429 and Retry-After', async () => {
      const body = busyProblem(3000);
      let outstanding = 6;
      const packs = Array.from({ length: 6 }, () =>
        request(base, 'POST', '/v1/pack', { token: readToken, body }).finally(() => outstanding--),
      );
      const health: HttpResult[] = [];
      while (outstanding > 0) {
        health.push(await request(base, 'GET', '/healthz'));
        await new Promise((r) => setTimeout(r, 50));
      }
      const answers = await Promise.all(packs);
      const statuses = answers.map((a) => a.status).sort();
      // One thread and one place in the queue: two packs run, four are refused.
      assert.deepEqual(statuses, [200, 200, 429, 429, 429, 429], statuses.join(' '));
      for (const refused of answers.filter((a) => a.status === 429)) {
        assertProblem(refused, 429, 'busy');
        assert.match(String(refused.headers['retry-after']), /^[1-9]\d*$/);
      }
      for (const placed of answers.filter((a) => a.status === 200)) {
        const ids = placed.json.instances.flatMap((i: { devices: string[][] }) => i.devices.flat());
        assert.equal(ids.length + placed.json.unplaced.length, body.models.length);
        assert.equal(placed.headers['stowage-time-limit-ms'], '3000');
      }
      assert.ok(health.length > 0);
      for (const h of health) assert.deepEqual(h.json, { status: 'ok', temporal: 'reachable' });
    });

    it('counts invalid packs too: six 0.9 MB refusals at once get 422 or 429, never more at once', async () => {
      const demands: Record<string, unknown> = {};
      for (let i = 0; i < 24_000; i++) demands[`p${i}`] = { memoryGiB: 0.1, compute: 0.1 };
      const raw = JSON.stringify({ instanceTypes: [cpuType()], models: [{ id: 'm', demands }] });
      const answers = await Promise.all(
        Array.from({ length: 6 }, () =>
          request(base, 'POST', '/v1/pack', {
            token: readToken,
            raw,
            headers: { 'content-type': 'application/json' },
          }),
        ),
      );
      const statuses = answers.map((a) => a.status);
      assert.ok(
        statuses.every((s) => s === 422 || s === 429),
        statuses.join(' '),
      );
      assert.ok(
        statuses.filter((s) => s === 429).length >= 1,
        `the pool refused some: ${statuses.join(' ')}`,
      );
      await assertHealthy(base, 'after the refusals');
    });

    it('stops a pack past its time limit (a hard deadline), and packs again after', async () => {
      const strict = await startApi('api-hardening-deadline', { packGraceMs: 0 });
      try {
        const late = await request(strict.base, 'POST', '/v1/pack', {
          token: readToken,
          body: { instanceTypes: [cpuType()], models: [cpuModel('m')], timeLimitMs: 1 },
        });
        assertProblem(late, 422, 'past the deadline');
        assert.equal(late.json.type, 'urn:stowage:problem:packing-limit');
        assert.match(late.json.detail, /time limit of 1 ms.*stopped/);
        await assertHealthy(strict.base, 'after the stopped pack');
      } finally {
        await strict.app.close();
      }
      const again = await request(base, 'POST', '/v1/pack', {
        token: readToken,
        body: { instanceTypes: [cpuType()], models: [cpuModel('m')], timeLimitMs: 1000 },
      });
      assert.equal(again.status, 200, again.text);
    });

    it('stops a pack that outgrows its heap, not the API', async () => {
      const small = await startApi('api-hardening-heap', { packMaxHeapMiB: 8 });
      try {
        const big = await request(small.base, 'POST', '/v1/pack', {
          token: readToken,
          body: largestProblem(),
        });
        assertProblem(big, 422, 'past the heap');
        assert.match(big.json.detail, /more than its 8 MiB of memory/);
        await assertHealthy(small.base, 'after the stopped pack');
      } finally {
        await small.app.close();
      }
    });
  });

  describe('slow clients', () => {
    const slowBody = (token?: string) =>
      'POST /v1/pack HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n' +
      (token ? `Authorization: Bearer ${token}\r\n` : '') +
      '\r\n{';

    it('cuts a body sent one byte at a time with a token: 408 problem+json, connection closed', async () => {
      const answer = await raw(base, slowBody(readToken), { everyMs: 100, bytes: 999 });
      assert.ok(answer.closedByServer, 'the server closed the connection before the body was complete');
      const parsed = parseRaw(answer);
      assert.equal(parsed.status, 408, answer.text);
      assert.match(parsed.headers, /content-type: application\/problem\+json/);
      assert.match(parsed.json.detail, /did not arrive in time/);
      await assertHealthy(base, 'after the slow body');
    });

    it('closes a slow body without a token right after its 401', async () => {
      const answer = await raw(base, slowBody(), { everyMs: 100, bytes: 999 });
      assert.ok(answer.closedByServer, 'the server closed the connection before the body was complete');
      const parsed = parseRaw(answer);
      assert.equal(parsed.status, 401, answer.text);
      assert.match(parsed.headers, /connection: close/);
    });

    it('cuts headers sent one byte at a time: 408 problem+json', async () => {
      const answer = await raw(base, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ', {
        everyMs: 100,
        bytes: 999,
      });
      assert.ok(answer.closedByServer);
      assert.equal(parseRaw(answer).status, 408, answer.text);
    });
  });

  describe("the HTTP parser's refusals are problem+json", () => {
    const cases: { name: string; data: string; status: number }[] = [
      {
        name: 'a 0x01 byte in a header value',
        data: 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n',
        status: 400,
      },
      { name: 'HTTP/1.1 without Host', data: 'GET /healthz HTTP/1.1\r\n\r\n', status: 400 },
      {
        name: 'a space in a header name',
        data: 'GET /healthz HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n',
        status: 400,
      },
      {
        name: 'garbage for a request line',
        data: '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n',
        status: 400,
      },
      { name: 'an unknown HTTP version', data: 'GET /healthz HTTP/7.1\r\nHost: x\r\n\r\n', status: 400 },
      {
        name: 'Content-Length and Transfer-Encoding together (smuggling)',
        data: 'POST /v1/pack HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        status: 400,
      },
      {
        name: 'a bad chunk size',
        data: 'POST /v1/pack HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
        status: 400,
      },
      {
        name: 'two Content-Length headers that disagree',
        data: 'POST /v1/pack HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
        status: 400,
      },
      {
        name: '20 KiB of headers',
        data: `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
        status: 431,
      },
      {
        name: 'a token in a header the parser refuses',
        data: `GET /v1/pipelines HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${readToken}\r\nX-A: \x01\r\n\r\n`,
        status: 400,
      },
    ];
    for (const c of cases) {
      it(`${c.name}: ${c.status}`, async () => {
        const answer = await raw(base, c.data);
        const parsed = parseRaw(answer);
        assert.equal(parsed.status, c.status, answer.text);
        assert.match(parsed.headers, /content-type: application\/problem\+json/, answer.text);
        assert.equal(parsed.json.status, c.status);
        assert.ok(parsed.json.detail.length > 0);
        assertNoToken(answer.text, 'the reply');
      });
    }

    it('still serves HTTP/1.0 without Host', async () => {
      const answer = await raw(base, 'GET /healthz HTTP/1.0\r\n\r\n', undefined, true);
      assert.equal(parseRaw(answer).status, 200, answer.text);
    });
  });

  describe('tokens in the wrong place', () => {
    const places: { name: string; method?: string; path: string; body?: unknown; status: number }[] = [
      { name: 'as a bare query key', path: `/v1/pipelines?${writeToken}`, status: 400 },
      { name: 'as a query key with a value', path: `/v1/pipelines?${writeToken}=1`, status: 400 },
      { name: 'beside a known parameter', path: `/v1/pipelines?limit=5&${writeToken}`, status: 400 },
      { name: 'as an access_token value', path: `/v1/pipelines?access_token=${writeToken}`, status: 400 },
      { name: 'as the value of a known parameter', path: `/v1/pipelines?status=${writeToken}`, status: 400 },
      { name: 'as a path', path: `/v1/${writeToken}`, status: 404 },
      {
        name: 'as an unknown body key',
        method: 'POST',
        path: '/v1/pipelines',
        body: { name: 'hard', models: [{ id: 'm', source: 'sources/m' }], [writeToken]: 1 },
        status: 422,
      },
      {
        name: 'as a processor',
        method: 'POST',
        path: '/v1/pipelines',
        body: { name: 'hard', models: [{ id: 'm', source: 'sources/m' }], processors: [writeToken] },
        status: 422,
      },
      {
        name: 'as a runtime',
        method: 'POST',
        path: '/v1/schedules',
        body: { id: 'hard-s', every: '6h', runtime: writeToken },
        status: 422,
      },
    ];
    for (const p of places) {
      it(`${p.name}: ${p.status}, the token in neither the reply nor the log`, async () => {
        const res = await request(base, p.method ?? 'GET', p.path, { token: writeToken, body: p.body });
        assertProblem(res, p.status, p.name);
        assertNoToken(res.text, 'the reply');
      });
    }

    it('logs the known query parameters with their values and nothing else of the query', async () => {
      const res = await request(base, 'GET', `/v1/pipelines?limit=3&${readToken}=x`, { token: readToken });
      assert.equal(res.status, 400);
      const ok = await request(base, 'GET', '/v1/pipelines?limit=3', { token: readToken });
      assert.equal(ok.status, 200, ok.text);
      const log = fs.readFileSync(path.join(logDir(), 'api-hardening-test.log'), 'utf8');
      assert.match(log, /"url":"\/v1\/pipelines\?limit=3"/);
      assert.match(log, /"url":"\(no route\)"/, 'an unrouted path is not logged');
      assert.match(log, /request refused/);
      assert.match(log, /client error/);
    });
  });

  it('leaves no token in any log line of the test run, and the API alive', async () => {
    await assertHealthy(base, 'at the end');
    const logs = fs.readdirSync(logDir()).filter((f) => f.endsWith('.log'));
    assert.ok(logs.includes('api-hardening-test.log'), logs.join(' '));
    for (const file of logs) assertNoToken(fs.readFileSync(path.join(logDir(), file), 'utf8'), file);
  });
});
