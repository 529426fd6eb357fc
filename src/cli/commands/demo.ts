import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { createServerActivities } from '../../../activities/load/servers';
import { openArtifactStore } from '../../artifacts/store';
import { projectPaths, type ProjectPaths } from '../../config/paths';
import { DevStack } from '../../dev/stack';
import { makeTinyModels } from '../../dev/tiny-models';
import { createLogger, installTemporalRuntimeLogger } from '../../logging';
import { addDevFlags, stackOptions, type DevFlags } from './dev';
import { DEFAULT_PIPELINE_INPUT, readPipelineInput, runAndFollow } from './run';

const EXAMPLE_MODELS = 24;

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
    .action(async (file: string, flags: DevFlags & { json?: boolean }) => {
      const paths = projectPaths();
      const logger = createLogger({
        name: 'stowage-demo',
        file: path.join(paths.state, 'logs', 'stowage.log'),
      });
      installTemporalRuntimeLogger(logger);
      const raw = readPipelineInput(file);
      const options = stackOptions(flags, logger);
      await ensureExampleModels(paths);
      const stack = await DevStack.start(options);
      let runId: string | undefined;
      try {
        const uiUrl = options.embedded ? `http://127.0.0.1:${options.embedded.uiPort}` : undefined;
        await runAndFollow(stack.client, raw, { json: flags.json, uiUrl, onStarted: (id) => (runId = id) });
      } finally {
        // The demo owns its fleet: the servers its run deployed do not outlive it.
        if (runId) {
          await createServerActivities(paths, openArtifactStore(paths.artifacts)).stopModelServers({ runId });
        }
        await stack.stop();
      }
    });
}
