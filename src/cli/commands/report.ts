import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { openArtifactStore } from '../../artifacts/store';
import { pipelineExists, pipelineReportKey } from '../../client/pipeline';
import { projectPaths } from '../../config/paths';
import { ConfigError } from '../../config/temporal';
import { addTemporalFlags, type TemporalFlags } from '../temporal-flags';
import { withClient } from './status';

interface ReportFlags extends TemporalFlags {
  json?: boolean;
  openPath?: boolean;
  artifacts?: string;
}

interface ReportJson {
  results?: {
    instances?: string;
    models?: number;
    throughputReqPerSec?: number | null;
    latencyUnderLoadP90Ms?: number | null;
    costPerHour?: number | null;
    costPerModelHour?: number | null;
  };
  stopReason?: string;
  steps?: unknown[];
  stability?: { rule?: unknown; unstableSteps?: number[] };
}

export function reportCommand(): Command {
  return addTemporalFlags(new Command('report'))
    .description("show a finished run's report: its key figures and where report.html is")
    .argument('<workflowId>', 'the run')
    .option('--json', 'print report.json as it is stored')
    .option(
      '--open-path',
      'print only the local path of report.html, e.g. xdg-open "$(stowage report <id> --open-path)"',
    )
    .option('--artifacts <root>', 'artifact root (default: STOWAGE_ARTIFACTS or .stowage/artifacts)')
    .addHelpText('after', '\nExit status 1 when the run does not exist or has no report yet.')
    .action(async (workflowId: string, flags: ReportFlags) => {
      const run = await withClient(flags, (client) => pipelineExists(client, workflowId));
      const store = openArtifactStore(flags.artifacts ?? projectPaths().artifacts);
      const htmlKey = pipelineReportKey(workflowId, 'html');
      const jsonKey = pipelineReportKey(workflowId, 'json');
      if (!(await store.exists(jsonKey))) {
        throw new ConfigError(
          `run ${workflowId} has no report yet (${run.status}, stage ${run.stage ?? '-'})`,
        );
      }
      const htmlUri = store.uri(htmlKey);
      const htmlPath = htmlUri.startsWith('file:') ? fileURLToPath(htmlUri) : htmlUri;
      if (flags.openPath) {
        process.stdout.write(`${htmlPath}\n`);
        return;
      }
      const raw = await store.read(jsonKey);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(JSON.parse(raw.toString('utf8')))}\n`);
        return;
      }
      const report = JSON.parse(raw.toString('utf8')) as ReportJson;
      const r = report.results ?? {};
      const num = (v: number | null | undefined, digits: number) => (v == null ? '-' : v.toFixed(digits));
      process.stdout.write(
        [
          `${workflowId}  ${run.status}`,
          `instances        ${r.instances ?? '-'} serving ${r.models ?? '-'} models`,
          `knee throughput  ${num(r.throughputReqPerSec, 1)} req/s at P90 ${num(r.latencyUnderLoadP90Ms, 1)} ms`,
          `cost             $${num(r.costPerHour, 3)}/hour, $${num(r.costPerModelHour, 5)}/model-hour`,
          `stopped because  ${report.stopReason ?? '-'}`,
          `load steps       ${stepsLine(report)}`,
          `report           ${htmlPath}`,
        ].join('\n') + '\n',
      );
    });
}

/** "6 measured, 2 unstable (steps 3, 5)": unstable steps are neither pass nor fail, so they are named. */
function stepsLine(report: ReportJson): string {
  const measured = report.steps?.length;
  if (measured === undefined) return '-';
  // Reports from before windows, and in-cluster sweeps, measured each step in one piece.
  if (!report.stability?.rule) return `${measured} measured`;
  const unstable = report.stability.unstableSteps ?? [];
  if (unstable.length === 0) return `${measured} measured, all stable`;
  return `${measured} measured, ${unstable.length} unstable (step${unstable.length > 1 ? 's' : ''} ${unstable.join(', ')})`;
}
