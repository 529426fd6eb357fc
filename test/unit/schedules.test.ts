import assert from 'node:assert/strict';
import {
  formatDuration,
  parseDuration,
  parseRepackScheduleSpec,
  repackArgsOf,
  ScheduleSpecError,
} from '../../src/client/schedules';
import { parseRepackInput } from '../../src/domain/repack';

describe('repack schedule specs', () => {
  it('reads intervals in s, m, h, d and writes them back the shortest way', () => {
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('6h'), 21_600_000);
    assert.equal(parseDuration('1d'), 86_400_000);
    for (const bad of ['', '6', 'h', '0s', '1.5h', '-1m', '6 h', '1w', '01m', '6h;rm -rf /'])
      assert.equal(parseDuration(bad), undefined, bad);
    assert.equal(formatDuration(21_600_000), '6h');
    assert.equal(formatDuration(90_000), '90s');
    assert.equal(formatDuration(1_500), '1500ms');
  });

  it('fills the defaults, and its run arguments are a valid repack input', () => {
    const spec = parseRepackScheduleSpec({ id: 'nightly', every: '6h' });
    assert.equal(spec.inventory, 'inventory/models.json');
    assert.equal(spec.catchupWindow, '10m');
    assert.equal(spec.runtime, 'local');
    const args = repackArgsOf({ ...spec, name: 'prod', minSavingsFraction: 0.1, maxMoves: 3 });
    assert.deepEqual(args, {
      inventory: 'inventory/models.json',
      runtime: 'local',
      name: 'prod',
      minSavingsFraction: 0.1,
      maxMoves: 3,
    });
    const parsed = parseRepackInput(args);
    assert.ok(parsed.ok, JSON.stringify(parsed));
  });

  it('lists every problem with its pointer', () => {
    assert.throws(
      () =>
        parseRepackScheduleSpec({
          id: 'Bad_Id',
          every: '0s',
          inventory: '../etc/passwd',
          catchupWindow: '5s',
          minSavingsFraction: 2,
          maxMoves: -1,
          color: 'red',
        }),
      (err: unknown) => {
        assert.ok(err instanceof ScheduleSpecError);
        const text = err.problems.join('\n');
        for (const pointer of [
          '/id',
          '/every',
          '/inventory',
          '/catchupWindow',
          '/minSavingsFraction',
          '/maxMoves',
        ])
          assert.match(text, new RegExp(`^${pointer}: `, 'm'), pointer);
        assert.match(text, /color/);
        return true;
      },
    );
    assert.throws(() => parseRepackScheduleSpec([]), /one JSON object/);
    assert.throws(() => parseRepackScheduleSpec({ every: '1m' }), /\/id: Required/);
  });
});
