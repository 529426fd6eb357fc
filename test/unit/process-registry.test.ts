import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ProcessRegistry } from '../../src/dev/process-registry';

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
});
