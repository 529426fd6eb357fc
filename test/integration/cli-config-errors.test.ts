import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/dev/ports';
import { runCli } from '../support/cli';

/** Bad configuration: one clear line on stderr, a non-zero exit, and no hang (mocha's timeout is the bound). */
describe('stowage CLI: bad configuration', function () {
  this.timeout(30_000);

  function assertOneLineError(stderr: string, pattern: RegExp) {
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, `exactly one line on stderr, got:\n${stderr}`);
    assert.match(lines[0], pattern);
  }

  it('an unreachable Temporal address fails within the connect timeout', async () => {
    const port = await freePort(); // nothing listens there
    const result = await runCli([
      'doctor',
      '--temporal-address',
      `127.0.0.1:${port}`,
      '--connect-timeout-ms',
      '1500',
    ]);
    assert.equal(result.code, 1);
    assertOneLineError(
      result.stderr,
      new RegExp(`^stowage: Temporal at 127\\.0\\.0\\.1:${port} is unreachable`),
    );
    assert.equal(result.stdout, '');
  });

  it('a malformed Temporal address is rejected before connecting', async () => {
    const result = await runCli(['doctor', '--temporal-address', 'not an address']);
    assert.equal(result.code, 1);
    assertOneLineError(result.stderr, /invalid Temporal option address: must be host:port/);
  });

  for (const which of ['--port', '--ui-port'] as const) {
    it(`dev refuses to start when ${which} is already taken`, async () => {
      const blocker = net.createServer();
      await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
      const taken = (blocker.address() as net.AddressInfo).port;
      const other = await freePort();
      const ports = which === '--port' ? [taken, other] : [other, taken];
      try {
        const result = await runCli(['dev', '--port', String(ports[0]), '--ui-port', String(ports[1])], {
          STOWAGE_STATE_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-cli-')),
        });
        assert.equal(result.code, 1);
        assertOneLineError(result.stderr, new RegExp(`port ${taken} \\(.*\\) is already in use`));
      } finally {
        blocker.close();
      }
    });
  }

  it('a checkout without the tools folder says to run setup', async () => {
    const bare = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-bare-'));
    const result = await runCli(
      ['dev', '--port', String(await freePort()), '--ui-port', String(await freePort())],
      {
        STOWAGE_ROOT: bare,
      },
    );
    assert.equal(result.code, 1);
    assertOneLineError(result.stderr, /temporal is missing from .*\.tools\/bin: run `make setup`/);
  });
});
