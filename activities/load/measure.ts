import { ApplicationFailure } from '@temporalio/activity';
import type { ArtifactStore } from '../../src/artifacts/store';
import type { ProjectPaths } from '../../src/config/paths';
import type { LatencyRange, StepFigures } from '../../src/domain/load-sweep';
import { runK6 } from './k6';
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

    /** One constant-arrival-rate step of the sweep. */
    async runLoadStep(input: {
      tableKey: string;
      index: number;
      rate: number;
      seconds: number;
      maxVUs: number;
    }): Promise<StepFigures> {
      const table = await tableFile(artifacts, input.tableKey);
      const { steps } = await runK6<{ steps: StepFigures[] }>(
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
