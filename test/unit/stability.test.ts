import assert from 'node:assert/strict';
import {
  combineWindows,
  isStable,
  spreadOf,
  stepSettled,
  type StabilityRule,
  type WindowFigures,
} from '../../src/domain/stability';
import { WindowCollector } from '../../activities/load/windows';

const RULE: StabilityRule = { windows: 3, throughputTolerance: 0.1, p90Tolerance: 0.1, p90FloorMs: 10 };

/** A window of `seconds` answering `rate` req/s with the given P90 (P50 half of it). */
function win(
  index: number,
  rate: number,
  p90Ms: number | null,
  extra: Partial<WindowFigures> = {},
): WindowFigures {
  const seconds = extra.seconds ?? 2;
  const requests = Math.round(rate * seconds);
  return {
    index,
    seconds,
    achievedRate: requests / seconds,
    requests,
    failures: 0,
    droppedIterations: 0,
    minMs: p90Ms === null ? null : p90Ms / 4,
    p50Ms: p90Ms === null ? null : p90Ms / 2,
    p90Ms,
    p95Ms: p90Ms === null ? null : p90Ms * 1.1,
    p99Ms: p90Ms === null ? null : p90Ms * 1.5,
    maxMs: p90Ms === null ? null : p90Ms * 2,
    ...extra,
  };
}

describe('step stability rule', () => {
  it('three windows that agree within tolerance are stable', () => {
    assert.equal(isStable([win(0, 300, 60), win(1, 310, 64), win(2, 295, 58)], RULE), true);
  });

  it('fewer than three windows are never stable, however alike', () => {
    assert.equal(isStable([win(0, 300, 60), win(1, 300, 60)], RULE), false);
  });

  it('throughput off by more than the tolerance is unstable', () => {
    // mean 300: 250 is 17% below it
    assert.equal(isStable([win(0, 325, 60), win(1, 325, 60), win(2, 250, 60)], RULE), false);
  });

  it('P90 drifting upward past tolerance and floor is unstable (a queue building up)', () => {
    assert.equal(isStable([win(0, 300, 40), win(1, 300, 70), win(2, 300, 110)], RULE), false);
  });

  it('windows that all meet the SLO agree on the verdict however their P90s spread', () => {
    const slo = { ...RULE, sloP90Ms: 100 };
    const spread = [win(0, 272, 44), win(1, 270, 10), win(2, 275, 12)];
    assert.equal(isStable(spread, RULE), false, 'without an SLO only the figures count');
    assert.equal(isStable(spread, slo), true);
    assert.equal(stepSettled(spread, slo, 6, 100), true, 'three passes end the step');
    assert.equal(isStable([win(0, 272, 44), win(1, 270, 10), win(2, 275, 101)], slo), false, 'one miss');
    assert.equal(
      isStable([win(0, 300, 20), win(1, 250, 60), win(2, 300, 90)], slo),
      false,
      'throughput must still agree',
    );
  });

  it('P90 climbing window after window under the SLO is still a queue building up', () => {
    const slo = { ...RULE, sloP90Ms: 100 };
    assert.equal(isStable([win(0, 300, 20), win(1, 300, 50), win(2, 300, 90)], slo), false);
    // climbing by less than the floor is noise
    assert.equal(isStable([win(0, 300, 20), win(1, 300, 24), win(2, 300, 28)], slo), true);
  });

  it('small P90 differences under the absolute floor are not instability (3 ms against 4 ms)', () => {
    assert.equal(isStable([win(0, 300, 3), win(1, 300, 4), win(2, 300, 3)], RULE), true);
    assert.equal(
      isStable([win(0, 300, 3), win(1, 300, 4), win(2, 300, 3)], { ...RULE, p90FloorMs: 0 }),
      false,
    );
  });

  it('one request more or less per window is a count’s resolution, not drift', () => {
    // 10 req/s in 2/3 s windows: 6 or 7 answers each, 14% apart, yet the rate is constant
    const w = (i: number, n: number) =>
      win(i, n * 1.5, 5, { seconds: 2 / 3, requests: n, achievedRate: n * 1.5 });
    assert.equal(isStable([w(0, 7), w(1, 6), w(2, 7)], RULE), true);
    assert.equal(isStable([w(0, 7), w(1, 4), w(2, 7)], RULE), false);
  });

  it('a window without any successful answer is never stable', () => {
    assert.equal(isStable([win(0, 300, 60), win(1, 300, 60), win(2, 0, null)], RULE), false);
    const allFailed = win(2, 300, 60, { failures: 600 });
    assert.equal(isStable([win(0, 300, 60), win(1, 300, 60), allFailed], RULE), false);
  });

  it('only the last three windows are judged: a slow warm-up window does not count', () => {
    const windows = [win(0, 200, 300), win(1, 300, 62), win(2, 300, 60), win(3, 305, 61)];
    assert.equal(isStable(windows, RULE), true);
    assert.deepEqual(spreadOf(windows, RULE).windows, 3);
  });

  it('a step is settled when stable, when its windows are spent, or when its last three miss the SLO', () => {
    const drifting = [win(0, 300, 40), win(1, 300, 70), win(2, 300, 110)];
    assert.equal(stepSettled(drifting, RULE, 6, 100), false);
    const spent = [...drifting, win(3, 300, 70), win(4, 300, 40), win(5, 300, 90)];
    assert.equal(isStable(spent, RULE), false);
    assert.equal(stepSettled(spent, RULE, 6, 100), true);
    assert.equal(stepSettled([win(0, 300, 60), win(1, 300, 60), win(2, 300, 60)], RULE, 6, 100), true);
    // Overloaded: a queue growing window after window, every window past the SLO (or unanswered).
    const overloaded = [win(0, 300, 40), win(1, 300, 150), win(2, 300, 400), win(3, 0, null)];
    assert.equal(isStable(overloaded, RULE), false);
    assert.equal(stepSettled(overloaded, RULE, 6, 100), true);
    assert.equal(stepSettled(overloaded.slice(0, 3), RULE, 6, 100), false, 'one window still passed');
  });

  it('spread: throughput as a fraction of the mean, P90 in ms, over the judged windows', () => {
    const spread = spreadOf([win(0, 1, 999), win(1, 300, 50), win(2, 330, 60), win(3, 270, 55)], RULE);
    assert.equal(spread.windows, 3);
    assert.ok(Math.abs(spread.throughput - 0.1) < 1e-9, `${spread.throughput}`);
    assert.ok(Math.abs(spread.p90Ms! - 5) < 1e-9, `${spread.p90Ms}`);
    assert.equal(spreadOf([win(0, 300, null)], RULE).p90Ms, null);
  });
});

describe('combining a step’s windows', () => {
  it('adds counts and weights percentiles by answers, over the last three windows only', () => {
    const windows = [
      win(0, 50, 900, { droppedIterations: 40 }),
      win(1, 100, 40),
      win(2, 300, 60, { failures: 0, droppedIterations: 2 }),
      win(3, 100, 40),
    ];
    const step = combineWindows(windows, RULE);
    assert.equal(step.requests, 1000);
    assert.equal(step.durationSeconds, 6);
    assert.equal(step.droppedIterations, 2, 'the warm-up window’s drops are not the step’s');
    assert.ok(Math.abs(step.achievedRate - 1000 / 6) < 1e-9);
    assert.ok(Math.abs(step.p90Ms! - (200 * 40 + 600 * 60 + 200 * 40) / 1000) < 1e-9);
    assert.equal(step.maxMs, 120);
    assert.equal(step.minMs, 10);
  });

  it('counts failures, and has no latency when nothing was answered', () => {
    const failed = [0, 1, 2].map((i) => win(i, 10, null, { failures: 20 }));
    const step = combineWindows(failed, RULE);
    assert.equal(step.errorRate, 1);
    assert.equal(step.achievedRate, 0);
    assert.equal(step.p90Ms, null);
  });
});

describe('cutting k6’s live samples into windows', () => {
  const t0 = Date.parse('2026-01-01T00:00:00.000Z');
  const point = (metric: string, atMs: number, value: number, tags: Record<string, string> = {}) =>
    JSON.stringify({
      metric,
      type: 'Point',
      data: { time: new Date(t0 + atMs).toISOString(), value, tags: { scenario: 'step_0', ...tags } },
    }) + '\n';
  const answer = (atMs: number, ms: number, ok = true) =>
    point('http_req_duration', atMs, ms, { expected_response: String(ok) });

  it('assigns answers to the window they arrived in, from the first request’s send time', () => {
    const c = new WindowCollector(1, 4);
    const text =
      '{"type":"Metric","data":{"name":"http_req_duration"},"metric":"http_req_duration"}\n' +
      answer(10, 10) + // sent at 0: window 0 starts there
      point('http_reqs', 20, 1) +
      answer(900, 20) +
      answer(1100, 30) +
      answer(1500, 5000, false) +
      point('dropped_iterations', 1200, 1) +
      answer(2050, 40);
    // Split anywhere, even inside a line: the collector completes it with the next piece.
    const cut = text.length / 2 + 3;
    c.feed(text.slice(0, cut));
    c.feed(text.slice(cut));
    assert.equal(c.start, t0);
    assert.equal(c.endOf(1), t0 + 2000);
    const [w0, w1, w2] = [c.window(0), c.window(1), c.window(2)];
    assert.deepEqual([w0.index, w1.index, w2.index], [4, 5, 6], 'numbering continues an earlier attempt’s');
    assert.deepEqual([w0.requests, w0.failures, w0.minMs, w0.maxMs], [2, 0, 10, 20]);
    assert.deepEqual([w1.requests, w1.failures, w1.droppedIterations, w1.p50Ms], [2, 1, 1, 30]);
    assert.equal(w1.achievedRate, 1);
    assert.deepEqual([w2.requests, w2.p90Ms], [1, 40]);
    const empty = c.window(7);
    assert.deepEqual([empty.requests, empty.p90Ms, empty.achievedRate], [0, null, 0]);
  });

  it('percentiles interpolate between ranks, as k6 computes them', () => {
    const c = new WindowCollector(10);
    c.feed(Array.from({ length: 11 }, (_, i) => answer(100 + i, i * 10)).join(''));
    const w = c.window(0);
    assert.deepEqual([w.p50Ms, w.p90Ms, w.p95Ms, w.maxMs], [50, 90, 95, 100]);
  });
});
