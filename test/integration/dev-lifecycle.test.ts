import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseTemporalOptions } from '../../src/config/temporal';
import { freePort } from '../../src/dev/ports';
import type { DoctorReport } from '../../src/domain/doctor';
import { connectClient } from '../../src/temporal/connect';
import { runCli, STOWAGE_BIN } from '../support/cli';
import { isAlive } from '../support/processes';

interface RunningDev {
  proc: ChildProcess;
  pids: number[];
  exited: Promise<number | null>;
}

/** Starts `stowage dev` as a user would and waits for its banner. */
async function startDev(stateDir: string, port: number, uiPort: number): Promise<RunningDev> {
  const proc = spawn(
    process.execPath,
    [STOWAGE_BIN, 'dev', '--port', String(port), '--ui-port', String(uiPort)],
    {
      env: { ...process.env, STOWAGE_STATE_DIR: stateDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const banner = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('Ctrl-C stops everything')) resolve(out);
    });
    void exited.then((code) =>
      reject(new Error(`stowage dev exited (${code}) before its banner:\n${out}\n${err}`)),
    );
  });
  const pids = [...banner.matchAll(/(?:worker|tracer|temporal) (\d+)/g)].map((m) => Number(m[1]));
  assert.equal(pids.length, 3, `banner names three pids: ${banner}`);
  return { proc, pids, exited };
}

describe('stowage dev: lifecycle', function () {
  this.timeout(240_000);

  it('stops every process on SIGTERM or Ctrl-C, and a restart keeps completed workflows (SQLite)', async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-dev-'));
    const port = await freePort();
    const uiPort = await freePort();
    const address = `127.0.0.1:${port}`;

    const first = await startDev(stateDir, port, uiPort);
    const doctor = await runCli(['doctor', '--temporal-address', address, '--benchmark-ms', '0', '--json']);
    assert.equal(doctor.code, 0, doctor.stderr);
    const report = JSON.parse(doctor.stdout) as DoctorReport;
    assert.equal(report.tracers[0].pid, first.pids[1], 'the doctor reached the tracer that dev started');

    first.proc.kill('SIGTERM');
    assert.equal(await first.exited, 0);
    for (const pid of first.pids) assert.equal(isAlive(pid), false, `pid ${pid} is gone after SIGTERM`);

    const second = await startDev(stateDir, port, uiPort);
    try {
      const client = await connectClient(parseTemporalOptions({ address }));
      const runs = [];
      for await (const wf of client.workflow.list({ query: "WorkflowType = 'doctor'" })) runs.push(wf);
      await client.connection.close();
      assert.equal(runs.length, 1, 'the doctor run from before the restart is still listed');
      assert.equal(runs[0].status.name, 'COMPLETED');
    } finally {
      second.proc.kill('SIGINT');
      assert.equal(await second.exited, 0);
    }
    for (const pid of second.pids) assert.equal(isAlive(pid), false, `pid ${pid} is gone after Ctrl-C`);
    fs.rmSync(stateDir, { recursive: true, force: true });
  });
});
