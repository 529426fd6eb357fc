import assert from 'node:assert/strict';
import { kneeOf, nextStep, verdict, type KneePlan, type Slo, type StepOutcome } from '../../src/domain/knee';
import { validateLoadSweepInput, type LoadSweepInput } from '../../src/domain/load-sweep';

/** A queueing-like server: P90 grows as 1/(1 - ρ) towards capacity, and past capacity it falls behind. */
function measure(rate: number, capacity: number, baseMs: number): StepOutcome {
  const rho = rate / capacity;
  const keepsUp = rho < 1;
  return {
    offeredRate: rate,
    achievedRate: keepsUp ? rate : capacity,
    p90Ms: keepsUp ? baseMs / (1 - rho) : 10_000,
    errorRate: 0,
    droppedIterations: keepsUp ? 0 : (rate - capacity) * 10,
    durationSeconds: 10,
  };
}

const SLO: Slo = { p90Ms: 100, maxErrorRate: 0.001 };

function search(startRate: number, capacity: number, baseMs: number) {
  const plan: KneePlan = { startRate, minRate: 1, maxRate: 100_000, factor: 2, tolerance: 0.05, maxSteps: 8 };
  const steps: StepOutcome[] = [];
  for (;;) {
    const next = nextStep(steps, plan, SLO);
    if (next.kind === 'done') return { steps, reason: next.reason, knee: kneeOf(steps, SLO) };
    steps.push(measure(next.rate, capacity, baseMs));
  }
}

describe('knee search (geometric ramp, then bisection)', () => {
  for (const [capacity, baseMs, start] of [
    [200, 10, 50],
    [200, 10, 300],
    [1000, 5, 200],
    [57, 20, 10],
    [5000, 2, 1000],
  ]) {
    it(`capacity ${capacity} req/s, start ${start}: within 5% of the true knee in ≤ 8 steps`, () => {
      const trueKnee = capacity * (1 - baseMs / SLO.p90Ms); // where P90 reaches the SLO
      const { steps, reason, knee } = search(start, capacity, baseMs);
      assert.ok(steps.length <= 8);
      assert.equal(reason, 'bracketed');
      assert.ok(knee, 'a knee was found');
      assert.ok(knee.achievedRate <= trueKnee + 1e-9, 'the knee meets the SLO');
      assert.ok(knee.achievedRate >= 0.95 * trueKnee, `${knee.achievedRate} within 5% of ${trueKnee}`);
    });
  }

  it('stops at the first step past the SLO instead of ramping on', () => {
    const { steps } = search(100, 120, 10);
    const firstFail = steps.findIndex((s) => verdict(s, SLO) !== 'pass');
    assert.ok(steps.slice(firstFail + 1).every((s) => s.offeredRate < steps[firstFail].offeredRate));
  });

  it('errors over budget fail a step however fast it was', () => {
    assert.equal(verdict({ ...measure(10, 100, 5), errorRate: 0.01 }, SLO), 'errors');
    assert.equal(verdict(measure(150, 100, 5), SLO), 'latency');
  });
});

describe('knee search with unstable steps', () => {
  const plan: KneePlan = {
    startRate: 100,
    minRate: 1,
    maxRate: 100_000,
    factor: 2,
    tolerance: 0.05,
    maxSteps: 8,
  };
  const unstable = (s: StepOutcome): StepOutcome => ({ ...s, stable: false });

  it('a step whose windows never agreed is "unstable", even with figures inside the SLO', () => {
    assert.equal(verdict(unstable(measure(100, 200, 10)), SLO), 'unstable');
    assert.equal(verdict({ ...measure(100, 200, 10), stable: true }, SLO), 'pass');
    assert.equal(
      verdict(measure(100, 200, 10), SLO),
      'pass',
      'a step measured in one piece counts as stable',
    );
  });

  it('errors over budget fail a step however its windows spread', () => {
    assert.equal(verdict({ ...unstable(measure(100, 200, 10)), errorRate: 0.05 }, SLO), 'errors');
  });

  it('is never the knee, even with the highest throughput', () => {
    const steps = [measure(100, 1000, 5), unstable(measure(400, 1000, 5))];
    assert.equal(kneeOf(steps, SLO)?.offeredRate, 100);
    assert.equal(kneeOf([unstable(measure(100, 1000, 5))], SLO), undefined);
  });

  it('above the best passing rate it bounds the bracket like a failure: bisection between them', () => {
    const steps = [measure(100, 1000, 5), unstable(measure(400, 1000, 5))];
    assert.deepEqual(nextStep(steps, plan, SLO), { kind: 'step', rate: 200, phase: 'bisect' });
  });

  it('below the best passing rate it bounds nothing (noise), and a first unstable step ramps down', () => {
    const steps = [unstable(measure(50, 1000, 5)), measure(100, 1000, 5)];
    const next = nextStep(steps, plan, SLO);
    assert.ok(next.kind === 'step' && next.rate > 100 && next.phase === 'ramp', JSON.stringify(next));
    assert.deepEqual(nextStep([unstable(measure(100, 1000, 5))], plan, SLO), {
      kind: 'step',
      rate: 50,
      phase: 'ramp',
    });
  });

  it('with every step near the knee unstable, the search still ends within 8 steps on a passing knee', () => {
    // Capacity 400: steps within 15% below the true knee never settle.
    const capacity = 400;
    const trueKnee = capacity * (1 - 10 / SLO.p90Ms);
    const steps: StepOutcome[] = [];
    for (;;) {
      const next = nextStep(steps, plan, SLO);
      if (next.kind === 'done') break;
      const s = measure(next.rate, capacity, 10);
      steps.push(next.rate > 0.85 * trueKnee && next.rate <= trueKnee ? unstable(s) : s);
    }
    assert.ok(steps.length <= 8, `${steps.length} steps`);
    const knee = kneeOf(steps, SLO);
    assert.ok(knee && knee.stable !== false && knee.achievedRate <= 0.85 * trueKnee);
  });
});

describe('loadSweep input validation', () => {
  const table = { routes: [{ modelId: 'm', url: 'http://127.0.0.1:8080' }] };
  it('lists every problem at once', () => {
    assert.throws(
      () =>
        validateLoadSweepInput({
          routingTable: { routes: [{ modelId: 'm', url: 'ftp://x/y' }] },
          slo: { p90Ms: -1 },
          sweep: { maxSteps: 9, stepSeconds: 0 },
        }),
      (err: Error) =>
        /url must be http/.test(err.message) &&
        /slo\.p90Ms/.test(err.message) &&
        /maxSteps must be an integer from 1 to 8/.test(err.message) &&
        /stepSeconds/.test(err.message),
    );
  });
  it('needs exactly one source of routes', () => {
    assert.throws(() => validateLoadSweepInput({}), /exactly one of routingTable, routingTableUri, deploy/);
    assert.throws(
      () => validateLoadSweepInput({ routingTable: table, routingTableUri: 'file:///x' }),
      /exactly one/,
    );
  });
  it('fills the post’s defaults: P90 ≤ 100 ms, errors ≤ 0.1%, ≤ 8 steps', () => {
    const valid = validateLoadSweepInput({ routingTable: table });
    assert.deepEqual(valid.slo, { p90Ms: 100, maxErrorRate: 0.001 });
    assert.equal(valid.plan.maxSteps, 8);
  });
  it('steps measure in thirds of stepSeconds, at most three times stepSeconds, judged to 10% (P90 floor 20% of the SLO) or by the SLO itself', () => {
    const valid = validateLoadSweepInput({
      routingTable: table,
      sweep: { stepSeconds: 6 },
      slo: { p90Ms: 300 },
    });
    assert.deepEqual(valid.stability, {
      windowSeconds: 2,
      maxWindows: 9,
      rule: { windows: 3, throughputTolerance: 0.1, p90Tolerance: 0.1, p90FloorMs: 60, sloP90Ms: 300 },
      sloP90Ms: 300,
    });
    // Defaults never conflict: a 1-second step still gets windows long enough to judge.
    const short = validateLoadSweepInput({ routingTable: table, sweep: { stepSeconds: 1 } }).stability;
    assert.deepEqual([short.windowSeconds, short.maxWindows], [0.5, 6]);
  });
  it('takes explicit window, step bound and tolerances', () => {
    const valid = validateLoadSweepInput({
      routingTable: table,
      sweep: {
        windowSeconds: 1.5,
        maxStepSeconds: 10,
        throughputTolerance: 0.05,
        p90Tolerance: 0.2,
        p90FloorMs: 0,
      },
    });
    assert.deepEqual(valid.stability, {
      windowSeconds: 1.5,
      maxWindows: 6,
      rule: { windows: 3, throughputTolerance: 0.05, p90Tolerance: 0.2, p90FloorMs: 0, sloP90Ms: 100 },
      sloP90Ms: 100,
    });
  });
  it('says exactly which stability field is wrong', () => {
    for (const [sweep, message] of [
      [{ windowSeconds: 0 }, /sweep\.windowSeconds must be a positive number, got 0/],
      [{ windowSeconds: 0.2 }, /sweep\.windowSeconds must be at least 0\.5, got 0\.2/],
      [{ maxStepSeconds: '9' }, /sweep\.maxStepSeconds must be a positive number, got "9"/],
      [{ maxStepSeconds: 600 }, /sweep\.maxStepSeconds must be at most 540, got 600/],
      [
        { windowSeconds: 4, maxStepSeconds: 10 },
        /sweep\.maxStepSeconds \(10\) must hold 3 windows of sweep\.windowSeconds \(4\): at least 12/,
      ],
      [{ throughputTolerance: 1 }, /sweep\.throughputTolerance must be in \(0, 1\), got 1/],
      [{ p90Tolerance: -0.1 }, /sweep\.p90Tolerance must be in \(0, 1\), got -0\.1/],
      [{ p90FloorMs: -1 }, /sweep\.p90FloorMs must be a number ≥ 0, got -1/],
    ] as const) {
      assert.throws(
        () => validateLoadSweepInput({ routingTable: table, sweep } as LoadSweepInput),
        message,
        JSON.stringify(sweep),
      );
    }
  });
});
