import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import { ApplicationFailure } from '@temporalio/activity';
import type { ProjectPaths } from '../src/config/paths';
import type { Processor } from '../src/domain/task-queues';
import { heartbeating } from './heartbeat';
import { FailureType } from '../src/domain/failures';

export interface PrepareRuntimeInput {
  runtime: 'local';
  processors: Processor[];
}

export interface ServingEnvironment {
  runtime: 'local';
  processor: Processor;
  python: string;
  torchVersion: string;
  transformersVersion: string;
  fastapiVersion: string;
  /** Cores the local runtime's servers share (the model servers' workers are chosen from them). */
  cores?: number;
}

const PROBE = [
  'import json, torch, transformers, fastapi, stowage_tracer',
  'print(json.dumps({"torch": torch.__version__, "transformers": transformers.__version__, "fastapi": fastapi.__version__}))',
].join('\n');

/**
 * The build stage for the local runtime: the serving environment is the tracer's Python environment,
 * so "building" it means proving it imports what the model server needs. A broken environment is not
 * something a retry fixes.
 */
export function createBuildActivities(paths: ProjectPaths) {
  return {
    async prepareRuntime(input: PrepareRuntimeInput): Promise<ServingEnvironment[]> {
      let stdout: string;
      try {
        // Importing torch takes seconds on a busy host: heartbeat meanwhile, so a lost worker shows at once.
        ({ stdout } = await heartbeating(
          () =>
            promisify(execFile)(paths.python, ['-c', PROBE], {
              cwd: paths.pythonTracer,
              timeout: 120_000,
            }),
          { phase: 'probe' },
        ));
      } catch (err) {
        throw ApplicationFailure.nonRetryable(
          `the local serving environment (${paths.python}) cannot import the model server's dependencies: ` +
            `${String((err as Error).message)
              .split('\n')
              .slice(-2)
              .join(' ')}; run \`make setup\``,
          FailureType.ServingEnvironmentBroken,
        );
      }
      const versions = JSON.parse(stdout) as { torch: string; transformers: string; fastapi: string };
      return input.processors.map((processor) => ({
        runtime: input.runtime,
        processor,
        python: paths.python,
        torchVersion: versions.torch,
        transformersVersion: versions.transformers,
        fastapiVersion: versions.fastapi,
        cores: os.availableParallelism(),
      }));
    },
  };
}
