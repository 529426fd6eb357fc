import assert from 'node:assert/strict';
import { z } from 'zod';
import { runPackJob } from '../../src/api/packer/job';
import { PackerBusyError, PackPool } from '../../src/api/packer/pool';
import { ApiProblem } from '../../src/api/problems';
import { loggedUrl } from '../../src/api/server';
import { parseRepackScheduleSpec, ScheduleSpecError } from '../../src/client/schedules';
import { issueText } from '../../src/domain/issue-text';
import { firstProblems, LIMITS, MAX_REPORTED_PROBLEMS, overlongLists } from '../../src/domain/limits';
import { parseRepackInput } from '../../src/domain/repack';
import { validatePackingProblem } from '../../src/packing';
import { parsePipelineInput } from '../../src/pipeline/input';

const type = (extra: Record<string, unknown> = {}) => ({
  name: 't',
  processor: 'cpu',
  pricePerHour: 1,
  devices: 4,
  device: { memoryGiB: 8, compute: 1 },
  ...extra,
});
const model = { id: 'm', demands: { cpu: { memoryGiB: 1, compute: 0.5 } } };
const defectsOf = (raw: unknown) => {
  const v = validatePackingProblem(raw);
  return v.ok ? [] : v.defects;
};
const jobLimits = { maxModels: 100, maxInstanceTypes: 10, maxTimeLimitMs: 2000 };

describe('limits: one set of bounds for the contract, the pipeline, the schedule and the API', () => {
  it('cuts a list of problems to its first entries and one that counts the rest, once', () => {
    const list = Array.from({ length: 50 }, (_, i) => `p${i}`);
    const cut = firstProblems(list, (n) => `and ${n} more`);
    assert.equal(cut.length, MAX_REPORTED_PROBLEMS);
    assert.equal(cut.at(-1), `and ${50 - MAX_REPORTED_PROBLEMS + 1} more`);
    assert.deepEqual(
      firstProblems(cut, (n) => `and ${n} more`),
      cut,
      'a cut list is not cut again',
    );
    assert.deepEqual(
      firstProblems(['a'], () => 'x'),
      ['a'],
    );
  });

  it('finds over-long lists by path without visiting their entries, and only own keys', () => {
    const raw = { a: new Array(11).fill(0), b: { c: [1, 2] }, d: 'x' };
    assert.deepEqual(
      overlongLists(raw, [
        { path: ['a'], max: 10 },
        { path: ['b', 'c'], max: 1 },
        { path: ['d'], max: 0 },
        { path: ['constructor', 'prototype'], max: 0 },
      ]),
      [
        { path: ['a'], length: 11, max: 10 },
        { path: ['b', 'c'], length: 2, max: 1 },
      ],
    );
  });

  it('bounds every count and size of the packing contract', () => {
    const cases: [unknown, string][] = [
      [
        { instanceTypes: [type({ devices: LIMITS.devicesPerType + 1 })], models: [model] },
        'instanceTypes[0].devices',
      ],
      [
        { instanceTypes: [type({ available: LIMITS.available + 1 })], models: [model] },
        'instanceTypes[0].available',
      ],
      [{ instanceTypes: [type({ pricePerHour: 1e9 })], models: [model] }, 'instanceTypes[0].pricePerHour'],
      [{ instanceTypes: [type({ hostMemoryGiB: 1e9 })], models: [model] }, 'instanceTypes[0].hostMemoryGiB'],
      [{ instanceTypes: [type({ name: 'x'.repeat(257) })], models: [model] }, 'instanceTypes[0].name'],
      [{ instanceTypes: [type()], models: [{ ...model, id: 'x'.repeat(257) }] }, 'models[0].id'],
      [
        { instanceTypes: [type()], models: [{ id: 'm', demands: { cpu: { memoryGiB: 1e9, compute: 1 } } }] },
        'models[0].demands.cpu.memoryGiB',
      ],
      [{ instanceTypes: [type()], models: [model], timeLimitMs: LIMITS.timeLimitMs + 1 }, 'timeLimitMs'],
      [{ instanceTypes: [type()], models: [model], maxMoves: LIMITS.models + 1 }, 'maxMoves'],
    ];
    for (const [raw, where] of cases) {
      const defects = defectsOf(raw);
      assert.ok(
        defects.some((d) => d.startsWith(`${where}: must be at most`)),
        `${where}: ${defects.join(' | ')}`,
      );
    }
    assert.deepEqual(
      defectsOf({ instanceTypes: [type({ devices: LIMITS.devicesPerType })], models: [model] }),
      [],
    );
  });

  it('refuses an over-long list in one line, before checking its entries', () => {
    const defects = defectsOf({ instanceTypes: new Array(500_000).fill(0), models: [model] });
    assert.deepEqual(defects, [
      `instanceTypes: holds 500000 entries, more than the ${LIMITS.instanceTypes} allowed`,
    ]);
  });

  it('bounds models × instance types, the memory of a pack, before anything is allocated', () => {
    const types = Array.from({ length: 200 }, (_, i) => type({ name: `t${i}` }));
    const models = new Array(LIMITS.demandCells / 200 + 1).fill(model);
    const defects = defectsOf({ instanceTypes: types, models });
    assert.equal(defects.length, 1);
    assert.match(defects[0], /^\(root\): 25001 models × 200 instance types is more than 5000000 pairs/);
  });

  it('bounds the pipeline input, the repack input and the schedule with the same numbers', () => {
    const catalogType = { ...type({ name: 'c5.xlarge' }), devices: 1e15 };
    const pipeline = parsePipelineInput({ models: [{ id: 'a', source: 'x' }], catalog: [catalogType] });
    assert.ok(!pipeline.ok && pipeline.problems.some((p) => p.startsWith('/catalog/0/devices:')));
    const long = parsePipelineInput({
      models: [{ id: 'a', source: 'x' }],
      catalog: new Array(300_000).fill(0),
    });
    assert.deepEqual(!long.ok && long.problems, [
      `/catalog: holds 300000 entries, more than the ${LIMITS.instanceTypes} allowed`,
    ]);
    const repack = parseRepackInput({ catalog: [catalogType] });
    assert.ok(!repack.ok && repack.problems.some((p) => p.startsWith('/catalog/0/devices:')));
    assert.throws(
      () => parseRepackScheduleSpec({ id: 's', every: '6h', catalog: new Array(300_000).fill(0) }),
      (err: unknown) => err instanceof ScheduleSpecError && err.problems.length === 1,
    );
    assert.throws(() => parseRepackScheduleSpec({ id: 's', every: '367d' }), ScheduleSpecError);
  });

  it('words zod issues without repeating an enum value or a key that could be a token', () => {
    const schema = z.object({ runtime: z.enum(['local', 'kubernetes']) }).strict();
    const secret = 'Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eA';
    const parsed = schema.safeParse({ runtime: secret, colour: 1, [secret]: 2 });
    assert.ok(!parsed.success);
    const texts = parsed.error.issues.map(issueText);
    assert.deepEqual(texts, [
      "Invalid enum value. Expected 'local' | 'kubernetes'",
      "Unrecognized key(s) in object: 'colour' and 1 key(s) not repeated here (too long or unusual: it could be a secret)",
    ]);
  });

  it('caps and clips the field errors of a problem', () => {
    const errors = Array.from({ length: 1000 }, (_, i) => ({
      pointer: `/m/${i}`,
      detail: 'x'.repeat(10_000),
    }));
    const problem = new ApiProblem('validation', 'd'.repeat(5000), errors).problem;
    assert.equal(problem.errors!.length, MAX_REPORTED_PROBLEMS);
    assert.equal(problem.errors!.at(-1)!.detail, `and ${1000 - MAX_REPORTED_PROBLEMS + 1} more problem(s)`);
    assert.ok(JSON.stringify(problem).length < 20_000, `${JSON.stringify(problem).length} characters`);
  });

  it('logs only the query parameters a route takes, and no unrouted path', () => {
    const known = new Set(['limit', 'stage']);
    assert.equal(
      loggedUrl('/v1/pipelines?limit=3&SECRET&x=SECRET&stage=done', known, true),
      '/v1/pipelines?limit=3&stage=done',
    );
    assert.equal(loggedUrl('/v1/pipelines?SECRET', known, true), '/v1/pipelines');
    assert.equal(loggedUrl('/SECRET/x?limit=1', known, false), '(no route)?limit=1');
    assert.equal(loggedUrl('/healthz', known, true), '/healthz');
  });
});

describe('pack jobs (parse, bound, validate and pack, as a pack thread runs them)', function () {
  this.timeout(30_000);

  it('answers bad JSON, the API bounds and invalid problems without packing', async () => {
    const never = () => assert.fail('no pack may start');
    assert.deepEqual(await runPackJob('{"models": [', jobLimits, never), {
      ok: false,
      kind: 'badRequest',
      detail: 'the body is not valid JSON: Unexpected end of JSON input',
      defects: [],
    });
    const proto = await runPackJob('{"__proto__": {}}', jobLimits, never);
    assert.equal(proto.ok || proto.kind, 'badRequest');
    const tooMany = await runPackJob(
      JSON.stringify({ instanceTypes: [type()], models: new Array(101).fill(model) }),
      jobLimits,
      never,
    );
    assert.ok(
      !tooMany.ok && tooMany.defects[0].startsWith('models: 101 models is more than this endpoint packs'),
    );
    const unknown = await runPackJob(
      JSON.stringify({
        instanceTypes: [type()],
        models: Array.from({ length: 100 }, (_, i) => ({
          id: `m${i}`,
          demands: { tpu: { memoryGiB: 1, compute: 1 } },
        })),
      }),
      jobLimits,
      never,
    );
    assert.ok(!unknown.ok && unknown.defects.length === MAX_REPORTED_PROBLEMS);
    assert.equal(
      !unknown.ok && unknown.defects.at(-1),
      `(root): and ${100 - MAX_REPORTED_PROBLEMS + 1} more problem(s)`,
    );
  });

  it('packs a valid problem with its time limit capped by the API', async () => {
    let started: number | undefined;
    const outcome = await runPackJob(
      JSON.stringify({ instanceTypes: [type()], models: [model], timeLimitMs: 60_000 }),
      jobLimits,
      (ms) => (started = ms),
    );
    assert.equal(started, 2000);
    assert.ok(outcome.ok);
    assert.equal(outcome.timeLimitMs, 2000);
    assert.deepEqual(JSON.parse(outcome.placementJson).instances[0].devices.flat(), ['m']);
  });

  it('refuses a pack at once when every thread runs and the queue is full', async () => {
    const pool = new PackPool({ threads: 1, queue: 0, graceMs: 1000, maxHeapMiB: 256 });
    try {
      const text = JSON.stringify({ instanceTypes: [type()], models: [model], timeLimitMs: 500 });
      const first = pool.pack(text, jobLimits);
      await assert.rejects(pool.pack(text, jobLimits), (err: unknown) => {
        assert.ok(err instanceof PackerBusyError);
        assert.ok(err.retryAfterSeconds >= 1);
        return true;
      });
      assert.ok((await first).ok);
      assert.ok((await pool.pack(text, jobLimits)).ok, 'the thread is free again');
    } finally {
      await pool.close();
    }
  });
});
