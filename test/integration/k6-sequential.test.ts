import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectPaths } from '../../src/config/paths';
import { toolPath } from '../../src/dev/tools';

/** The k6 that setup built runs the TypeScript scripts under k6/ natively, against a real loopback server. */
describe('k6 sequential script (real k6, loopback HTTP)', function () {
  this.timeout(60_000);

  it('asks every model in the routing table once, with the post query parameters', async () => {
    const seen: { path: string; seq0: string | null }[] = [];
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      seen.push({ path: url.pathname, seq0: url.searchParams.get('seq_0') });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"answer":"New York City"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-k6-'));
    const table = path.join(dir, 'routing.json');
    const models = ['bert-0', 'bert-1', 'bert-2'];
    fs.writeFileSync(table, JSON.stringify({ routes: models.map((modelId) => ({ modelId, url: base })) }));
    try {
      const paths = projectPaths();
      await promisify(execFile)(
        toolPath(paths, 'k6'),
        ['run', '--quiet', '--no-usage-report', path.join(paths.root, 'k6', 'sequential.ts')],
        {
          env: { ...process.env, ROUTING_TABLE: table },
        },
      );
    } finally {
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.deepEqual(
      seen.map((s) => s.path).sort(),
      models.map((m) => `/predictions/${m}`),
    );
    assert.ok(seen.every((s) => s.seq0 === 'HuggingFace is based in New York City'));
  });
});
