import { ApplicationFailure } from '@temporalio/activity';
import type { ArtifactStore } from '../../src/artifacts/store';
import type { ProjectPaths } from '../../src/config/paths';
import type { LatencyRange } from '../../src/domain/load-sweep';
import { runK6 } from './k6';
import { tableFile } from './routes';

/** k6/lib/summary.ts StepFigures, as the scripts write it. */
export interface K6Figures {
  offeredRate: number;
  achievedRate: number;
  requests: number;
  failures: number;
  errorRate: number;
  droppedIterations: number;
  durationSeconds: number;
  minMs: number | null;
  p50Ms: number | null;
  p90Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

function range(what: string, f: K6Figures): LatencyRange {
  if (f.minMs === null || f.maxMs === null || f.p50Ms === null) {
    throw ApplicationFailure.nonRetryable(
      `the ${what} test got no successful answer (${f.failures} of ${f.requests} requests failed)`,
      'NoAnswers',
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
        await runK6<K6Figures>(paths, 'sequential.ts', { ROUTING_TABLE: table }, 'sequential'),
      );
    },

    /** The post's random test: random models at a low, set frequency. */
    async runRandomTest(input: { tableKey: string; rate: number; seconds: number }): Promise<LatencyRange> {
      const table = await tableFile(artifacts, input.tableKey);
      const figures = await runK6<K6Figures>(
        paths,
        'random.ts',
        { ROUTING_TABLE: table, RATE: String(input.rate), DURATION: String(input.seconds) },
        'random',
      );
      return range('random', figures);
    },

    /** One constant-arrival-rate step of the sweep. */
    async runLoadStep(input: {
      tableKey: string;
      index: number;
      rate: number;
      seconds: number;
      maxVUs: number;
    }): Promise<K6Figures> {
      const table = await tableFile(artifacts, input.tableKey);
      const { steps } = await runK6<{ steps: K6Figures[] }>(
        paths,
        'sweep.ts',
        {
          ROUTING_TABLE: table,
          RATES: String(input.rate),
          STEP_SECONDS: String(input.seconds),
          MAX_VUS: String(input.maxVUs),
          // A dead server refuses at once; a hung one must not hold a VU past a few SLOs.
          REQUEST_TIMEOUT_S: '5',
        },
        `step ${input.index} at ${input.rate} req/s`,
      );
      return steps[0];
    },
  };
}
