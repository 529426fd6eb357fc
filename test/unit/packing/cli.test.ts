import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkPlacement } from '../../../src/packing';
import { randomCatalogProblem, seeded, unitBinProblem } from './fixtures';

const bin = path.resolve(__dirname, '../../../../bin/stowage');
const run = (args: string[], input?: string) =>
  spawnSync(process.execPath, [bin, 'pack', ...args], { input, encoding: 'utf8', maxBuffer: 1 << 28 });

describe('stowage pack (CLI)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'stowage-pack-'));

  it('prints exactly one JSON placement with --json and exits 0', () => {
    const problem = randomCatalogProblem(60, 31);
    const file = path.join(dir, 'problem.json');
    writeFileSync(file, JSON.stringify(problem));
    const out = run([file, '--json', '--time-limit-ms', '300']);
    assert.equal(out.status, 0, out.stderr);
    const placement = JSON.parse(out.stdout);
    assert.deepEqual(checkPlacement(problem, placement), []);
  });

  it('writes the whole placement of 100,000 models through a pipe before it exits', function () {
    this.timeout(120_000);
    const r = seeded(100_000);
    const problem = unitBinProblem(Array.from({ length: 100_000 }, () => [0.1 + 0.3 * r(), 0.1 + 0.3 * r()]));
    const file = path.join(dir, 'big.json');
    writeFileSync(file, JSON.stringify(problem));
    const out = run([file, '--json', '--time-limit-ms', '2000']);
    assert.equal(out.status, 0, out.stderr);
    // Far past the 64 KiB a pipe holds: a process that exits before draining stdout cuts it there.
    assert.ok(out.stdout.length > 1_000_000, `only ${out.stdout.length} bytes arrived`);
    const placement = JSON.parse(out.stdout);
    assert.deepEqual(checkPlacement(problem, placement), []);
  });

  it('reads stdin and prints the table with the price per model-hour', () => {
    const out = run(['-', '--time-limit-ms', '300'], JSON.stringify(randomCatalogProblem(30, 32)));
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /per model-hour .*the AWS post: \$0\.015/);
  });

  it('exits 2 with the defects on stderr and nothing on stdout for invalid input', () => {
    const out = run(
      ['-', '--json'],
      JSON.stringify({ instanceTypes: [], models: [{ id: 'a', demands: {} }] }),
    );
    assert.equal(out.status, 2);
    assert.equal(out.stdout, '');
    assert.match(out.stderr, /instanceTypes: the instance type list is empty/);
    const garbage = run(['-'], 'not json');
    assert.equal(garbage.status, 2);
    assert.equal(garbage.stdout, '');
  });
});
