import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { authorize, loadTokens, parseTokens } from '../../src/api/auth';
import { ApiProblem } from '../../src/api/problems';
import { buildApiServer } from '../../src/api/server';
import { openArtifactStore } from '../../src/artifacts/store';
import { ConfigError } from '../../src/config/temporal';

const WRITE = 'w'.repeat(20) + 'Write-Token-0001';
const READ = 'r'.repeat(20) + 'Read-Token-0002';
const TOKENS = `# comment line\n\nci write ${WRITE}\ndash read ${READ}\n`;

function problemOf(fn: () => unknown): ApiProblem {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ApiProblem, String(err));
    return err;
  }
  return assert.fail('expected a problem');
}

describe('API tokens and authorization', () => {
  const tokens = parseTokens(TOKENS, 'tokens');

  it('parses names and scopes, skipping comments and blank lines', () => {
    assert.deepEqual(tokens.names, ['ci', 'dash']);
    assert.deepEqual(tokens.match(WRITE), { name: 'ci', scope: 'write' });
    assert.deepEqual(tokens.match(READ), { name: 'dash', scope: 'read' });
    assert.equal(tokens.match(`${WRITE}x`), undefined);
    assert.equal(tokens.match(''), undefined);
  });

  it('refuses a bad tokens file naming the line but never echoing the secret', () => {
    const secret = 'short-secret';
    for (const [text, expected] of [
      [`ci write ${secret}`, /line 1: the token must be 24 to 512/],
      [`ci admin ${WRITE}`, /line 1: the scope must be read or write/],
      [`c!i write ${WRITE}`, /line 1: the name must match/],
      [`ci write ${WRITE}\nci read ${READ}`, /line 2: the name ci is used twice/],
      [`ci write ${WRITE}\nother read ${WRITE}`, /line 2: the same token appears twice/],
      [`ci write ${WRITE} extra`, /3 fields/],
      ['# nothing\n', /holds no API token/],
    ] as const) {
      assert.throws(
        () => parseTokens(text, 'file'),
        (err: Error) =>
          err instanceof ConfigError &&
          expected.test(err.message) &&
          !err.message.includes(WRITE) &&
          !err.message.includes(secret),
        text,
      );
    }
  });

  it('reads a file first, then STOWAGE_API_TOKENS (";" separates entries), else refuses to run open', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-tokens-'));
    const file = path.join(dir, 'tokens');
    fs.writeFileSync(file, TOKENS);
    try {
      assert.deepEqual(loadTokens({ file, env: { STOWAGE_API_TOKENS: `x read ${READ}` } }).names, [
        'ci',
        'dash',
      ]);
      assert.deepEqual(
        loadTokens({ env: { STOWAGE_API_TOKENS: `a write ${WRITE}; b read ${READ}` } }).names,
        ['a', 'b'],
      );
      assert.throws(() => loadTokens({ env: {} }), /no API tokens/);
      assert.throws(
        () => loadTokens({ file: path.join(dir, 'absent'), env: {} }),
        /cannot read the tokens file/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('401 without or with a malformed or unknown token; 403 for read on write; write implies read', () => {
    assert.equal(problemOf(() => authorize(tokens, undefined, 'read')).problem.status, 401);
    assert.equal(problemOf(() => authorize(tokens, `Basic ${WRITE}`, 'read')).problem.status, 401);
    assert.equal(problemOf(() => authorize(tokens, `Bearer`, 'read')).problem.status, 401);
    assert.equal(problemOf(() => authorize(tokens, `Bearer ${WRITE} extra`, 'read')).problem.status, 401);
    assert.equal(problemOf(() => authorize(tokens, `Bearer nope-${READ}`, 'read')).problem.status, 401);
    const forbidden = problemOf(() => authorize(tokens, `Bearer ${READ}`, 'write'));
    assert.equal(forbidden.problem.status, 403);
    assert.match(forbidden.headers['WWW-Authenticate'], /insufficient_scope/);
    assert.deepEqual(authorize(tokens, `Bearer ${READ}`, 'read'), { name: 'dash', scope: 'read' });
    assert.deepEqual(authorize(tokens, `bearer ${WRITE}`, 'read'), { name: 'ci', scope: 'write' });
  });

  describe('over HTTP (Fastify inject; Temporal is never reached: auth answers first)', () => {
    const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-api-log-')), 'api.log');
    // A lazy connection to a closed port: any route that got past auth would fail, not hang on a mock.
    const client = new Client({ connection: Connection.lazy({ address: '127.0.0.1:9' }) });
    const app = buildApiServer({
      client,
      artifacts: openArtifactStore(path.dirname(logFile)),
      tokens,
      logger: pino({ level: 'trace' }, pino.destination({ dest: logFile, sync: true })),
    });
    after(async () => {
      await app.close();
      fs.rmSync(path.dirname(logFile), { recursive: true, force: true });
    });

    it('checks the token before the body: bad JSON without a token is 401, not 400', async () => {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/pipelines',
        headers: { 'content-type': 'application/json' },
        payload: '{not json',
      });
      assert.equal(res.statusCode, 401);
      assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
      assert.equal(res.json().type, 'urn:stowage:problem:unauthorized');
      assert.match(res.headers['www-authenticate'] as string, /^Bearer/);
    });

    it('an unknown path needs a token too (no probing for routes), then is a 404 problem', async () => {
      assert.equal((await app.inject({ method: 'GET', url: '/v1/nothing' })).statusCode, 401);
      const res = await app.inject({
        method: 'GET',
        url: '/v1/nothing',
        headers: { authorization: `Bearer ${READ}` },
      });
      assert.equal(res.statusCode, 404);
      assert.equal(res.json().status, 404);
    });

    it('Temporal out of reach is a 503 with Retry-After, not a 500', async function () {
      this.timeout(120_000);
      const res = await app.inject({
        method: 'GET',
        url: '/v1/pipelines/pipeline-x',
        headers: { authorization: `Bearer ${READ}` },
      });
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.headers['retry-after'], '5');
      assert.equal(res.json().type, 'urn:stowage:problem:unavailable');
      const health = await app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(health.statusCode, 503);
      assert.deepEqual(health.json(), { status: 'degraded', temporal: 'unreachable' });
    });

    it('logs requests at trace level with their headers, but never the Authorization header', async () => {
      await app.inject({ method: 'GET', url: '/openapi.json', headers: { authorization: `Bearer ${READ}` } });
      await app.inject({
        method: 'POST',
        url: '/v1/pipelines',
        headers: { authorization: `Bearer ${WRITE}x` },
      });
      const log = fs.readFileSync(logFile, 'utf8');
      assert.match(log, /"url":"\/openapi.json"/, 'requests are logged');
      assert.match(log, /"headers":\{"host":/, 'with their headers');
      assert.match(log, /"caller":"dash"/, 'the token name is logged');
      assert.ok(!log.includes(READ) && !log.includes(WRITE), 'no token in the log');
      assert.ok(!/"authorization"\s*:/i.test(log), 'no Authorization header in the log');
    });
  });
});
