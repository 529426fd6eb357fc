import assert from 'node:assert/strict';
import { kneeOf, nextStep, verdict, type KneePlan, type Slo, type StepOutcome } from '../../src/domain/knee';
import { validateLoadSweepInput } from '../../src/domain/load-sweep';

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
});
