import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ProcessRegistry, RegistryInUseError } from '../../src/dev/process-registry';

describe('process registry (reaping what a killed `stowage dev` left behind)', () => {
  it('kills recorded processes that still run the recorded program, and only those', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-reg-')), 'processes.json');
    const registry = new ProcessRegistry(file);
    const orphan = spawn('sleep', ['300']);
    const bystander = spawn('sleep', ['301']);
    const orphanExit = new Promise((r) => orphan.once('exit', (_code, signal) => r(signal)));
    registry.add({ pid: orphan.pid!, role: 'orphan', marker: 'sleep' });
    // A reused pid: the record names a program this process is not.
    registry.add({ pid: bystander.pid!, role: 'temporal', marker: 'start-dev' });

    const reaped = registry.reap();
    assert.deepEqual(
      reaped.map((r) => r.pid),
      [orphan.pid],
    );
    assert.equal(await orphanExit, 'SIGKILL');
    assert.equal(bystander.exitCode, null, 'the bystander still runs');
    bystander.kill();
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), [], 'the registry is emptied');
  });

  it('leaves the processes of a live owner alone and says who owns them; reaps them once it is gone', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-reg-')), 'processes.json');
    // Another stowage: a process of its own that starts a server and records it, then stays.
    const registryModule = require.resolve('../../src/dev/process-registry');
    const owner = spawn(
      process.execPath,
      [
        '-e',
        `const { spawn } = require('node:child_process');
         const { ProcessRegistry } = require(${JSON.stringify(registryModule)});
         const server = spawn('sleep', ['302'], { stdio: 'ignore' });
         new ProcessRegistry(${JSON.stringify(file)}).add({ pid: server.pid, role: 'temporal', marker: 'sleep' });
         process.stdout.write(String(server.pid));
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const serverPid = Number(
      await new Promise<string>((r) => owner.stdout!.once('data', (d) => r(String(d)))),
    );
    const ownerExit = new Promise((r) => owner.once('exit', r));
    try {
      const registry = new ProcessRegistry(file);
      assert.throws(
        () => registry.reap(),
        (err: unknown) =>
          err instanceof RegistryInUseError &&
          err.message.includes(`pid ${owner.pid}`) &&
          err.message.includes(`temporal pid ${serverPid}`) &&
          err.message.includes('STOWAGE_STATE_DIR'),
      );
      process.kill(serverPid, 0); // still running: nothing was killed
      owner.kill('SIGKILL');
      await ownerExit;
      assert.deepEqual(
        registry.reap().map((r) => r.pid),
        [serverPid],
        'once its owner is gone the server is left over',
      );
    } finally {
      owner.kill('SIGKILL');
      try {
        process.kill(serverPid, 'SIGKILL');
      } catch {
        /* reaped */
      }
    }
  });
});
