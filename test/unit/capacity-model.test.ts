import assert from 'node:assert/strict';
import { concurrencyLevels, nextProbeConcurrency } from '../../activities/capacity';
import { parseCalibrateInput } from '../../src/capacity/calibrate-input';
import { checkCapacity, deviceVerdict } from '../../src/capacity/check';
import { capacityPlan, deviceLabel, plannedFleetRps, sweepRangeFor } from '../../src/capacity/plan';
import {
  type Calibration,
  calibrationFromProbe,
  calibrationKey,
  computeDemand,
  demandedCompute,
  MAX_OPEN_LOOP_SHARE,
  MIN_OPEN_LOOP_SHARE,
  nextOpenLoopShare,
  type OpenLoopStep,
  openLoopShareOf,
  plannedCapacityRps,
  type ServedPathProbe,
  type ServingSetup,
  servedCostMs,
  withCapacityCheck,
} from '../../src/capacity/served-path';
import { isStableRate, rateSpread, settledRate } from '../../src/capacity/stable-rate';

const setup: ServingSetup = {
  image: 'local-torch-2.5.1+cu124',
  processor: 'cpu',
  instanceType: 'local-cpu',
  maxBatch: 8,
  batchWindowMs: 2,
  sloP90Ms: 100,
};

function probe(saturationRps: number, meanForwardMs: number): ServedPathProbe {
  return {
    measuredAt: '2026-12-07T18:00:00.000Z',
    models: ['a', 'b'],
    concurrency: 16,
    windows: [saturationRps, saturationRps, saturationRps],
    stable: true,
    saturationRps,
    meanForwardMs,
  };
}

describe('capacity model: the served path', () => {
  it('splits a small model’s served cost into a fixed overhead on top of its forward pass', () => {
    // 400 req/s through the server = 2.5 ms per request, of which the forward pass is 0.5 ms.
    const c = calibrationFromProbe(setup, probe(400, 0.5));
    assert.equal(c.overheadMs, 2);
    assert.equal(c.forwardScale, 1);
    assert.equal(servedCostMs(0.5, c), 2.5);
    // A model twice as slow costs its own extra forward time, not twice the request.
    assert.equal(servedCostMs(1, c), 3);
  });

  it('scales the forward pass down when the server serves faster than the profile’s batch-1 timing', () => {
    // Batching: 10 req/s at a 120 ms batch-1 forward = 100 ms per request served.
    const c = calibrationFromProbe(setup, probe(10, 120));
    assert.equal(c.overheadMs, 0);
    assert.ok(Math.abs(c.forwardScale - 100 / 120) < 1e-4);
    assert.ok(Math.abs(servedCostMs(120, c) - 100) < 0.01);
  });

  it('turns the served cost into compute demand and a device’s capacity at the cap', () => {
    const c = calibrationFromProbe(setup, probe(400, 0.5));
    // 2 req/s × 2.5 ms = 0.5% of a device.
    assert.equal(computeDemand(2, 0.5, c), 0.005);
    const devices = 24;
    const load = { expectedRps: 2 * devices, compute: 0.005 * devices };
    // At 83% of the device, traffic in this mix reaches 0.83 × 400 req/s.
    assert.ok(Math.abs(plannedCapacityRps(load, 0.83) - 332) < 1e-9);
    // Without calibration the demand is the forward pass alone: the 5× over-promise this model fixes.
    assert.equal(computeDemand(2, 0.5), 0.001);
  });

  it('plans, at the default cap, the share of the probe’s rate that open-loop traffic kept', () => {
    // A batching bert-base: 10 closed-loop clients answered 46.6 req/s within a 300 ms SLO; random
    // arrivals kept 0.75 of that.
    const openLoop = { share: 0.75, steps: [] };
    const c = calibrationFromProbe({ ...setup, sloP90Ms: 300 }, { ...probe(46.6, 93), openLoop });
    const load = { expectedRps: 9, compute: 6 * computeDemand(1.5, 93, c) };
    assert.ok(
      Math.abs(plannedCapacityRps(load, 0.83) - 0.75 * 46.6) < 0.05,
      String(plannedCapacityRps(load, 0.83)),
    );
    // A stricter cap plans proportionally less: the cap still means headroom below the knee.
    assert.ok(Math.abs(plannedCapacityRps(load, 0.6) - (0.6 / 0.83) * 0.75 * 46.6) < 0.05);
    // A probe from before the open-loop steps: the cap's share of its rate, as plans have promised.
    const old = calibrationFromProbe(setup, probe(400, 0.5));
    assert.ok(
      Math.abs(plannedCapacityRps({ expectedRps: 2, compute: computeDemand(2, 0.5, old) }, 0.83) - 332) <
        1e-9,
    );
  });

  it('searches the open-loop share: the whole rate, a quarter more while it passes, then bisection to 1/16', () => {
    const step = (share: number, pass: boolean): OpenLoopStep => ({
      share,
      offeredRate: 40 * share,
      achievedRate: 40 * share,
      p90Ms: pass ? 200 : 400,
      pass,
    });
    assert.equal(nextOpenLoopShare([]), 1);
    const steps = [step(1, false)];
    assert.equal(nextOpenLoopShare(steps), 0.75);
    steps.push(step(0.75, true));
    assert.equal(nextOpenLoopShare(steps), 0.875);
    steps.push(step(0.875, false));
    assert.equal(nextOpenLoopShare(steps), 0.8125);
    steps.push(step(0.8125, true));
    assert.equal(nextOpenLoopShare(steps), undefined, 'bracketed within 1/16');
    assert.equal(openLoopShareOf(steps), 0.8125);
    // Nothing kept even at the floor: the floor, and the search ends there.
    const none = [step(1, false), step(0.75, false), step(0.625, false)];
    assert.equal(nextOpenLoopShare(none), 0.5625);
    none.push(step(0.5625, false));
    assert.equal(nextOpenLoopShare(none), undefined);
    assert.equal(openLoopShareOf(none), MIN_OPEN_LOOP_SHARE);
    // The whole rate kept: climb by quarters, then bisect the last quarter.
    const more = [step(1, true)];
    assert.equal(nextOpenLoopShare(more), 1.25);
    more.push(step(1.25, true));
    assert.equal(nextOpenLoopShare(more), 1.5);
    more.push(step(1.5, false));
    assert.equal(nextOpenLoopShare(more), 1.375);
    more.push(step(1.375, true));
    assert.equal(nextOpenLoopShare(more), 1.4375);
    more.push(step(1.4375, false));
    assert.equal(nextOpenLoopShare(more), undefined, 'bracketed within 1/16');
    assert.equal(openLoopShareOf(more), 1.375);
    const all = [1, 1.25, 1.5, 1.75, 2].map((share) => step(share, true));
    assert.equal(nextOpenLoopShare(all.slice(0, 4)), MAX_OPEN_LOOP_SHARE);
    assert.equal(nextOpenLoopShare(all), undefined, 'the most allowed kept');
    assert.equal(openLoopShareOf(all), MAX_OPEN_LOOP_SHARE);
  });

  it('closes the loop: a measured knee scales the next plan, idempotently', () => {
    const c = calibrationFromProbe(setup, probe(400, 0.5));
    const check = { runId: 'r1', measuredAt: 'now', plannedRps: 332, measuredRps: 250, ratio: 250 / 332 };
    const once = withCapacityCheck(c, check, c.capacityFactor);
    const twice = withCapacityCheck(once, check, c.capacityFactor);
    assert.deepEqual(twice, once);
    const load = { expectedRps: 48, compute: 24 * computeDemand(2, 0.5, once) };
    // The next plan promises what was measured (to rounding of the stored factor).
    assert.ok(Math.abs(plannedCapacityRps(load, 0.83) - 250) < 0.5, String(plannedCapacityRps(load, 0.83)));
    assert.equal(once.checks.length, 1);
  });

  it('computes a model’s demand from its profile, with or without a calibration', () => {
    const c = calibrationFromProbe(setup, probe(400, 0.5));
    const profiled = { expectedRequestsPerSecond: 2, compute: 0.0008, forwardMs: 0.5 };
    assert.equal(demandedCompute(profiled, undefined), 0.0008, 'uncalibrated: the profile’s own estimate');
    assert.equal(demandedCompute(profiled, c), 0.005);
    // A profile from before forwardMs: its forward time is rate / compute (0.4 ms here).
    assert.equal(demandedCompute({ expectedRequestsPerSecond: 2, compute: 0.0008 }, c), 0.0048);
    // Nothing measured: a whole device, not a guess.
    assert.equal(demandedCompute({ expectedRequestsPerSecond: 2, compute: null }, c), 1);
  });

  it('keys a calibration by its serving setup, as an artifact key', () => {
    assert.equal(
      calibrationKey(setup),
      'calibration/cpu/local-cpu/local-torch-2.5.1-cu124-b8-w2-slo100.json',
    );
    assert.notEqual(calibrationKey({ ...setup, sloP90Ms: 300 }), calibrationKey(setup));
    assert.notEqual(calibrationKey({ ...setup, maxBatch: 1 }), calibrationKey(setup));
  });
});

describe('capacity model: plan against measurement', () => {
  const calibration: Calibration = calibrationFromProbe(setup, probe(400, 0.5));
  const loads = new Map([
    ['a', { expectedRps: 2, compute: computeDemand(2, 0.5, calibration), forwardOnlyCompute: 0.001 }],
    ['b', { expectedRps: 2, compute: computeDemand(2, 0.5, calibration), forwardOnlyCompute: 0.001 }],
    ['c', { expectedRps: 1, compute: computeDemand(1, 1.5, calibration), forwardOnlyCompute: 0.0015 }],
  ]);
  const plan = capacityPlan(
    [{ type: 'local-cpu', devices: [['a', 'b'], ['c']] }],
    (m) => loads.get(m),
    0.83,
    {},
  );

  it('promises each device the rate at which its own mix reaches the cap', () => {
    assert.deepEqual(
      plan.devices.map((d) => [d.device, d.models, d.plannedRps, d.forwardOnlyRps]),
      [
        ['local-cpu#0/dev0', 2, 332, 1660],
        ['local-cpu#0/dev1', 1, 237.14, 553.33],
      ],
    );
    assert.equal(deviceLabel('inf1.xlarge', 3, 1, 'spot'), 'inf1.xlarge (spot)#3/dev1');
  });

  it('sweeps from half the fleet’s promise up to four times it, past the default ceiling when needed', () => {
    assert.equal(plannedFleetRps(plan), 569.14);
    assert.deepEqual(sweepRangeFor(plannedFleetRps(plan)), { startRate: 285, maxRate: 2277 });
    // A fleet promising 1,850 req/s is measured up to 7,400, not stopped at the 2,000 default.
    assert.deepEqual(sweepRangeFor(1850.6), { startRate: 925, maxRate: 7403 });
    assert.deepEqual(sweepRangeFor(100), { startRate: 50, maxRate: 2000 }, 'never below the default ceiling');
    assert.deepEqual(sweepRangeFor(undefined), {}, 'no promise: the sweep’s own defaults');
    assert.deepEqual(sweepRangeFor(Infinity), {});
  });

  it('holds within ±15%, breaks below, and names the worst device', () => {
    assert.equal(deviceVerdict(0.86), 'held');
    assert.equal(deviceVerdict(0.84), 'broken');
    assert.equal(deviceVerdict(1.16), 'under-promised');
    assert.equal(deviceVerdict(null), 'unmeasured');
    const held = checkCapacity(
      plan,
      new Map([
        ['local-cpu#0/dev0', { kneeRps: 350 }],
        ['local-cpu#0/dev1', { kneeRps: 230 }],
      ]),
    );
    assert.equal(held.verdict, 'promise held');
    assert.equal(held.worst, 'local-cpu#0/dev1');
    assert.equal(held.measuredRps, 580);
    const broken = checkCapacity(
      plan,
      new Map([
        ['local-cpu#0/dev0', { kneeRps: 100 }],
        ['local-cpu#0/dev1', { kneeRps: 230 }],
      ]),
    );
    assert.equal(broken.verdict, 'promise broken');
    assert.equal(broken.worst, 'local-cpu#0/dev0');
    assert.equal(broken.devices[0].verdict, 'broken');
    const none = checkCapacity(plan, new Map());
    assert.equal(none.verdict, 'not measured');
    assert.equal(none.measuredRps, null);
  });
});

describe('capacity model: the probe’s client counts', () => {
  it('doubles from one client up to the most, which is always tried', () => {
    assert.deepEqual(concurrencyLevels(16), [1, 2, 4, 8, 16]);
    assert.deepEqual(concurrencyLevels(12), [1, 2, 4, 8, 12]);
    assert.deepEqual(concurrencyLevels(1), [1]);
  });

  it('the probe bisects client counts between the last level within the SLO and the first beyond it', () => {
    const search = { maxConcurrency: 16, sloP90Ms: 300, maxWindows: 8 };
    const level = (concurrency: number, rps: number, p90: number) => ({
      concurrency,
      windows: [rps, rps, rps],
      p90Ms: [p90, p90, p90],
      rps,
      stable: true,
    });
    const levels = [level(1, 8, 130), level(2, 12, 170)];
    assert.equal(nextProbeConcurrency(levels, search), 4);
    levels.push(level(4, 15, 420));
    assert.equal(nextProbeConcurrency(levels, search), 3, 'between 2 (within) and 4 (beyond)');
    levels.push(level(3, 14.5, 250));
    assert.equal(nextProbeConcurrency(levels, search), undefined, 'adjacent: the search is over');
    // a level begun but not settled is finished first (a resumed attempt)
    const begun = [level(1, 8, 130), { ...level(2, 12, 170), windows: [12], stable: false }];
    assert.equal(nextProbeConcurrency(begun, search), 2);
    // a level that adds under 5% ends the ramp without a bisection
    assert.equal(nextProbeConcurrency([level(1, 100, 20), level(2, 102, 25)], search), undefined);
    // beyond the SLO from 8 to 16: 12, then 10 or 14
    const wide = [1, 2, 4, 8].map((c) => level(c, c * 50, 40)).concat(level(16, 500, 400));
    assert.equal(nextProbeConcurrency(wide, search), 12);
    assert.equal(nextProbeConcurrency([...wide, level(12, 480, 350)], search), 10);
    assert.equal(nextProbeConcurrency([...wide, level(12, 480, 250)], search), 14);
  });
});

describe('capacity model: stable windows', () => {
  it('needs three windows within 5% of their median', () => {
    assert.equal(rateSpread([100, 100]), Infinity);
    assert.equal(isStableRate([100, 100]), false);
    assert.equal(isStableRate([50, 100, 102, 98]), true);
    assert.equal(isStableRate([100, 110, 98]), false);
    assert.equal(settledRate([50, 100, 102, 98]), 100);
  });
});

describe('calibrate input', () => {
  it('takes a run or trace batches, never both, and says what is wrong with a JSON pointer', () => {
    assert.equal(parseCalibrateInput({ fromRun: 'pipeline-local-demo-1' }).ok, true);
    const both = parseCalibrateInput({ fromRun: 'x', traceBatches: ['runs/x/trace-0.json'] });
    assert.equal(both.ok, false);
    const bad = parseCalibrateInput({ fromRun: '../etc', windowSeconds: 0, extra: 1 });
    assert.equal(bad.ok, false);
    const problems = bad.ok ? '' : bad.problems.join('\n');
    assert.match(problems, /\/fromRun: must be a workflow id/);
    assert.match(problems, /\/windowSeconds/);
    assert.match(problems, /extra/);
  });
});
