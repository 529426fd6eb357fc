import assert from 'node:assert/strict';
import { z } from 'zod';
import {
  ApiProblem,
  fieldErrorsFromDottedLines,
  fieldErrorsFromProblemLines,
  jsonPointer,
  zodFieldErrors,
} from '../../src/api/problems';
import { negotiate } from '../../src/api/routes/pipelines';
import { pipelineListQuery } from '../../src/client/pipeline';
import { parsePipelineInput } from '../../src/pipeline/input';
import { validatePackingProblem } from '../../src/packing';

describe('API problem details', () => {
  it('builds RFC 9457 bodies with a stable type per kind', () => {
    const p = new ApiProblem('validation', 'bad', [{ pointer: '/a', detail: 'x' }]).problem;
    assert.deepEqual(p, {
      type: 'urn:stowage:problem:validation',
      title: 'The request does not validate',
      status: 422,
      detail: 'bad',
      errors: [{ pointer: '/a', detail: 'x' }],
    });
    assert.equal(new ApiProblem('conflict', 'c').problem.errors, undefined);
  });

  it('escapes "~" and "/" in pointers (RFC 6901)', () => {
    assert.equal(jsonPointer(['a/b', 'm~n', 0]), '/a~1b/m~0n/0');
    assert.equal(jsonPointer([]), '');
    const parsed = z.object({ 'a/b': z.number() }).safeParse({ 'a/b': 'x' });
    assert.ok(!parsed.success);
    assert.equal(zodFieldErrors(parsed.error)[0].pointer, '/a~1b');
  });

  it('turns PipelineInput problems into pointers that resolve in the body', () => {
    const parsed = parsePipelineInput({
      models: [
        { id: 'a', source: 'x' },
        { id: 'a', source: 'y' },
      ],
      loadTest: { sloP90Ms: -1 },
    });
    assert.ok(!parsed.ok);
    const errors = fieldErrorsFromProblemLines(parsed.problems);
    assert.ok(
      errors.some((e) => e.pointer === '/models/1/id' && /duplicate/.test(e.detail)),
      JSON.stringify(errors),
    );
    assert.ok(errors.some((e) => e.pointer === '/loadTest/sloP90Ms'));
    const whole = parsePipelineInput([1]);
    assert.ok(!whole.ok);
    assert.deepEqual(fieldErrorsFromProblemLines(whole.problems)[0].pointer, '');
  });

  it('turns packing defects (models[3].demands.cpu) into pointers', () => {
    const v = validatePackingProblem({
      instanceTypes: [
        { name: 't', processor: 'cpu', pricePerHour: 1, devices: 1, device: { memoryGiB: 1, compute: 1 } },
      ],
      models: [
        { id: 'm', demands: { cpu: { memoryGiB: 1, compute: 1 } } },
        { id: 'm', demands: { gpu: { memoryGiB: -1, compute: 1 } } },
      ],
    });
    assert.ok(!v.ok);
    const pointers = fieldErrorsFromDottedLines(v.defects).map((e) => e.pointer);
    assert.ok(pointers.includes('/models/1/demands/gpu/memoryGiB'), pointers.join(' '));
    assert.deepEqual(fieldErrorsFromDottedLines(['(root): must be one JSON object'])[0], {
      pointer: '',
      detail: 'must be one JSON object',
    });
  });

  it('builds the visibility query only from validated values', () => {
    assert.equal(
      pipelineListQuery({ stage: 'awaiting-approval', runtime: 'local', status: 'running' }),
      "WorkflowType = 'pipeline' AND StowageStage = 'awaiting-approval' AND StowageRuntime = 'local' AND ExecutionStatus = 'Running'",
    );
    for (const bad of [
      { stage: "done' OR 1=1" },
      { runtime: 'LOCAL' },
      { status: '__proto__' },
      { status: 'Running' },
    ]) {
      assert.throws(() => pipelineListQuery(bad), /invalid/, JSON.stringify(bad));
    }
  });

  it('negotiates the report format from Accept', () => {
    assert.equal(negotiate(undefined), 'json');
    assert.equal(negotiate('*/*'), 'json');
    assert.equal(negotiate('text/html,application/xhtml+xml,*/*;q=0.8'), 'html');
    assert.equal(negotiate('application/json'), 'json');
    assert.equal(negotiate('text/html;q=0.5, application/json;q=0.9'), 'json');
    assert.equal(negotiate('image/png'), undefined);
    assert.equal(negotiate('__proto__'), undefined);
    assert.equal(negotiate('text/html;q=0'), undefined);
  });
});
