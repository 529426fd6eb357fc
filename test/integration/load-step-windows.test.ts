import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createMeasureActivities } from '../../activities/load/measure';
import { openArtifactStore } from '../../src/artifacts/store';
import { projectPaths } from '../../src/config/paths';
import type { StepStability } from '../../src/domain/load-sweep';
import { isStable, type WindowFigures } from '../../src/domain/stability';
import { inActivity } from '../support/activity-context';

const PLAN: StepStability = {
  windowSeconds: 1,
  maxWindows: 5,
  rule: { windows: 3, throughputTolerance: 0.1, p90Tolerance: 0.1, p90FloorMs: 10 },
  sloP90Ms: 1000,
};

function agreeing(index: number): WindowFigures {
  return {
    index,
    seconds: 1,
    achievedRate: 40,
    requests: 40,
    failures: 0,
    droppedIterations: 0,
    minMs: 1,
    p50Ms: 2,
    p90Ms: 3,
    p95Ms: 4,
    p99Ms: 5,
    maxMs: 6,
  };
}

/**
 * One load step measured window by window, with real k6 against a real HTTP server, run inside an
 * activity Context as the worker runs it: what it heartbeats, and how a retried attempt resumes from the
 * windows an earlier attempt heartbeated.
 */
describe('a load step measured in windows (real k6, real HTTP)', function () {
  this.timeout(120_000);
  let server: http.Server;
  let requests = 0;
  let dir: string;
  let measure: ReturnType<typeof createMeasureActivities>;
  const tableKey = 'tables/windows.json';

  before(async () => {
    server = http.createServer((_req, res) => {
      requests += 1;
      res.end('{"answer":"New York City"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-windows-'));
    const artifacts = openArtifactStore(dir);
    await artifacts.writeJson(tableKey, { routes: [{ modelId: 'qa-0', url }] });
    measure = createMeasureActivities(projectPaths(), artifacts);
  });

  after(() => {
    server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const step = (details: unknown, heartbeats: unknown[]) =>
    inActivity(
      () => measure.runLoadStep({ tableKey, index: 0, rate: 40, seconds: 3, maxVUs: 20, stability: PLAN }),
      { activityType: 'runLoadStep', heartbeatDetails: details, heartbeats },
    );

  it('runs windows until the last three agree or the step’s windows are spent, heartbeating each', async () => {
    const heartbeats: ({ windows?: WindowFigures[] } | undefined)[] = [];
    const figures = await step(undefined, heartbeats);
    const windows = figures.windows!;
    assert.ok(windows.length >= 3 && windows.length <= PLAN.maxWindows, `${windows.length} windows`);
    assert.deepEqual(
      windows.map((w) => w.index),
      windows.map((_, i) => i),
    );
    assert.ok(windows.every((w) => w.seconds === 1 && w.requests > 0 && w.failures === 0));
    assert.equal(figures.stable, isStable(windows, PLAN.rule));
    const overloaded = windows.slice(-3).every((w) => w.p90Ms === null || w.p90Ms > PLAN.sloP90Ms);
    if (!figures.stable)
      assert.ok(windows.length === PLAN.maxWindows || overloaded, 'an unstable step used all its windows');
    else
      assert.ok(!isStable(windows.slice(0, -1), PLAN.rule), 'a stable step stopped at its first agreement');
    assert.equal(figures.spread?.windows, 3);
    // The step's figures are its last three windows'.
    const last = windows.slice(-3);
    assert.equal(
      figures.requests,
      last.reduce((a, w) => a + w.requests, 0),
    );
    assert.equal(figures.durationSeconds, 3);
    assert.equal(figures.offeredRate, 40);
    // Every finished window was heartbeated, in order, before the step returned.
    const counts = heartbeats.map((h) => h?.windows?.length ?? 0);
    for (let n = 1; n <= windows.length; n++)
      assert.ok(counts.includes(n), `a heartbeat carried ${n} windows`);
  });

  it('a retried attempt keeps the windows its predecessor heartbeated and measures only the rest', async () => {
    const earlier = [agreeing(0), { ...agreeing(1), achievedRate: 5, requests: 5 }];
    const figures = await step({ what: 'step 0 at 40 req/s', windows: earlier }, []);
    const windows = figures.windows!;
    assert.deepEqual(windows.slice(0, 2), earlier);
    assert.ok(windows.length >= 3);
    assert.deepEqual(
      windows.map((w) => w.index),
      windows.map((_, i) => i),
      'the new windows continue the numbering',
    );
  });

  it('a retried attempt whose predecessor had already settled sends no load at all', async () => {
    const before = requests;
    const earlier = [agreeing(0), agreeing(1), agreeing(2)];
    const figures = await step({ windows: earlier }, []);
    assert.equal(requests, before, 'no request was sent');
    assert.deepEqual(figures.windows, earlier);
    assert.equal(figures.stable, true);
    assert.equal(figures.requests, 120);
  });

  it('windows of another length (a changed plan) are not resumed', async () => {
    const earlier = [0, 1, 2].map((i) => ({ ...agreeing(i), seconds: 2 }));
    const figures = await step({ windows: earlier }, []);
    assert.ok(figures.windows!.every((w) => w.seconds === 1));
  });
});
