import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ArtifactStore } from '../../src/artifacts/store';
import type { ProjectPaths } from '../../src/config/paths';
import {
  DEFAULT_SLO,
  stepStabilityOf,
  type LatencyRange,
  type StepStability,
  type WindowedStepFigures,
} from '../../src/domain/load-sweep';
import type { StepFigures } from '../../src/domain/step-figures';
import {
  combineWindows,
  isStable,
  spreadOf,
  stepSettled,
  type WindowFigures,
} from '../../src/domain/stability';
import { heartbeating } from '../heartbeat';
import { followK6, runK6 } from './k6';
import { WindowCollector } from './windows';
import { tableFile } from './routes';
import { FailureType } from '../../src/domain/failures';

function range(what: string, f: StepFigures): LatencyRange {
  if (f.minMs === null || f.maxMs === null || f.p50Ms === null) {
    throw ApplicationFailure.nonRetryable(
      `the ${what} test got no successful answer (${f.failures} of ${f.requests} requests failed)`,
      FailureType.NoAnswers,
    );
  }
  return { requests: f.requests, failures: f.failures, minMs: f.minMs, maxMs: f.maxMs, p50Ms: f.p50Ms };
}

export function createMeasureActivities(paths: ProjectPaths, artifacts: ArtifactStore) {
  return {
    /** The post's sequential test: each model once, one request at a time. */
    async runSequentialTest(input: { tableKey: string }): Promise<LatencyRange> {
      const table = await tableFile(artifacts, input.tableKey);
      return range(
        'sequential',
        await runK6<StepFigures>(paths, 'sequential.ts', { ROUTING_TABLE: table }, 'sequential'),
      );
    },

    /** The post's random test: random models at a low, set frequency. */
    async runRandomTest(input: { tableKey: string; rate: number; seconds: number }): Promise<LatencyRange> {
      const table = await tableFile(artifacts, input.tableKey);
      const figures = await runK6<StepFigures>(
        paths,
        'random.ts',
        { ROUTING_TABLE: table, RATE: String(input.rate), DURATION: String(input.seconds) },
        'random',
      );
      return range('random', figures);
    },

    /**
     * One constant-arrival-rate step of the sweep, measured window after window in one k6 run until the
     * last windows agree, they all miss the SLO, or the step's windows are spent (src/domain/stability.ts,
     * stepSettled). Each finished window is heartbeated, so a retried attempt keeps what an earlier one
     * measured and only runs the windows still missing (its first window after the restart is a warm-up
     * the rule judges like any other).
     */
    async runLoadStep(input: {
      tableKey: string;
      index: number;
      rate: number;
      seconds: number;
      maxVUs: number;
      /** Absent only for an activity a run scheduled before steps had windows. */
      stability?: StepStability;
    }): Promise<WindowedStepFigures> {
      const table = await tableFile(artifacts, input.tableKey);
      const { windowSeconds, maxWindows, rule, sloP90Ms } =
        input.stability ?? stepStabilityOf({ stepSeconds: input.seconds }, DEFAULT_SLO, []);
      const windows = earlierWindows(Context.current().info.heartbeatDetails, windowSeconds);
      const what = `step ${input.index} at ${input.rate} req/s`;
      await heartbeating(
        async (report) => {
          if (stepSettled(windows, rule, maxWindows, sloP90Ms)) return;
          const remaining = maxWindows - windows.length;
          const collector = new WindowCollector(windowSeconds, windows.length);
          let taken = 0;
          await followK6(
            paths,
            'sweep.ts',
            {
              ROUTING_TABLE: table,
              RATES: String(input.rate),
              STEP_SECONDS: String(Math.round(remaining * windowSeconds * 1000) / 1000),
              MAX_VUS: String(input.maxVUs),
              // A dead server refuses at once; a hung one must not hold a VU past a few SLOs.
              REQUEST_TIMEOUT_S: '5',
            },
            what,
            (chunk) => collector.feed(chunk),
            (ended) => {
              // A window is complete once k6 has had time to write the answers that arrived in it.
              while (
                taken < remaining &&
                (ended || Date.now() >= (collector.endOf(taken) ?? Infinity) + OUTPUT_LAG_MS)
              ) {
                windows.push(collector.window(taken++));
                report({ what, windows: [...windows] });
                if (stepSettled(windows, rule, maxWindows, sloP90Ms)) return true;
              }
              return false;
            },
          );
        },
        // Only a resumed step has something to say at once (an empty first heartbeat would hold the first
        // window's back: the SDK throttles every heartbeat after the first).
        windows.length > 0 ? { what, windows: [...windows] } : undefined,
      );
      return {
        offeredRate: input.rate,
        ...combineWindows(windows, rule),
        windows,
        stable: isStable(windows, rule),
        spread: spreadOf(windows, rule),
      };
    },
  };
}

/** How long after a window's end k6's JSON output holds every answer that arrived in it. */
const OUTPUT_LAG_MS = 750;

/** The windows an earlier attempt of this step heartbeated, if they were measured with the same length. */
function earlierWindows(details: unknown, windowSeconds: number): WindowFigures[] {
  const windows = (details as { windows?: unknown } | undefined)?.windows;
  if (!Array.isArray(windows)) return [];
  return (windows as WindowFigures[]).filter(
    (w, i) => w?.index === i && w.seconds === windowSeconds && typeof w.achievedRate === 'number',
  );
}
