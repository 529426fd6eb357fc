import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { createServerActivities } from '../../../activities/load/servers';
import { openArtifactStore } from '../../artifacts/store';
import { projectPaths, type ProjectPaths } from '../../config/paths';
import { DevStack } from '../../dev/stack';
import { ConfigError } from '../../config/temporal';
import { DEMO_SHAPES, EXAMPLE_MODELS, parseModelCount, prepareDemoFleet } from '../../dev/demo-fleet';
import { makeTinyModels } from '../../dev/tiny-models';
import { createLogger, installTemporalRuntimeLogger } from '../../logging';
import { addDevFlags, stackOptions, type DevFlags } from './dev';
import { DEFAULT_PIPELINE_INPUT, readPipelineInput, runAndFollow } from './run';

/** The example input's models: small BERT QA models generated here (no download), in Hugging Face layout. */
async function ensureExampleModels(paths: ProjectPaths): Promise<void> {
  const out = path.join(paths.artifacts, 'sources');
  if (fs.existsSync(path.join(out, `tiny-bert-qa-${EXAMPLE_MODELS - 1}`, 'config.json'))) return;
  process.stdout.write(`generating ${EXAMPLE_MODELS} small BERT QA models in ${out}\n`);
  await makeTinyModels(paths, { out, count: EXAMPLE_MODELS });
}

/**
 * The README's main command: bring up the embedded stack, run the pipeline on the local example with
 * live progress, print the summary and the report, take everything down. Logs go to .stowage/logs.
 */
export function demoCommand(): Command {
  return addDevFlags(new Command('demo'))
    .description('start the embedded stack, run the pipeline on the local example, print the summary, stop')
    .argument('[input]', 'PipelineInput JSON file', DEFAULT_PIPELINE_INPUT)
    .option('--json', 'print one JSON document at the end instead of progress bars')
    .option(
      '--models <n>',
      `generate n small BERT QA models over ${DEMO_SHAPES} shapes, each with its own weights, and run the example on them`,
    )
    .action(async (file: string, flags: DevFlags & { json?: boolean; models?: string }, command: Command) => {
      const count = flags.models === undefined ? undefined : parseModelCount(flags.models);
      if (count !== undefined && command.args.length > 0) {
        throw new ConfigError('--models generates its own input: give either an input file or --models');
      }
      const paths = projectPaths();
      const logger = createLogger({
        name: 'stowage-demo',
        file: path.join(paths.state, 'logs', 'stowage.log'),
      });
      installTemporalRuntimeLogger(logger);
      let raw = readPipelineInput(file);
      let fleet: Awaited<ReturnType<typeof prepareDemoFleet>> | undefined;
      if (count === undefined) {
        await ensureExampleModels(paths);
      } else {
        if (!flags.json)
          process.stdout.write(`generating ${count} small BERT QA models over ${DEMO_SHAPES} shapes\n`);
        fleet = await prepareDemoFleet(paths, count, raw);
        raw = fleet.input;
      }
      const options = stackOptions(flags, logger);
      const stack = await DevStack.start(options);
      let runId: string | undefined;
      try {
        const uiUrl = options.embedded ? `http://127.0.0.1:${options.embedded.uiPort}` : undefined;
        await runAndFollow(stack.client, raw, {
          json: flags.json,
          uiUrl,
          onStarted: (id) => (runId = id),
          ...(fleet
            ? {
                extra: () => ({
                  models: count,
                  manifest: fleet.manifest,
                  generateSeconds: fleet.generateSeconds,
                }),
              }
            : {}),
        });
      } finally {
        // The demo owns its fleet: the servers its run deployed do not outlive it.
        if (runId) {
          await createServerActivities(paths, openArtifactStore(paths.artifacts)).stopModelServers({ runId });
        }
        await stack.stop();
      }
    });
}
