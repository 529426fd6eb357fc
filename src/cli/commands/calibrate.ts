import { Command } from 'commander';
import { parseCalibrateInput } from '../../capacity/calibrate-input';
import { STOWAGE_TASK_QUEUE } from '../../domain/task-queues';
import type { calibrate } from '../../../workflows/calibrate';
import { addTemporalFlags, type TemporalFlags } from '../temporal-flags';
import { withClient } from './status';

interface CalibrateFlags extends TemporalFlags {
  processor: string;
  sample?: string;
  sloP90Ms?: string;
  json?: boolean;
}

/**
 * `stowage calibrate <runId>`: probes this machine's served path afresh on the models an earlier run
 * traced (the `calibrate` workflow). The next pack plans with it; its closed-loop factor starts at 1.
 */
export function calibrateCommand(): Command {
  return addTemporalFlags(new Command('calibrate'))
    .description("measure the local model server's served path on the models a pipeline run traced")
    .argument('<runId>', 'the pipeline run whose traced models are probed')
    .option('--processor <processor>', 'the processor to calibrate', 'cpu')
    .option('--sample <n>', 'how many of its models the probe server loads (default 4)')
    .option('--slo-p90-ms <ms>', 'the SLO the capacity is measured under (default 100, as the pipeline)')
    .option('--json', 'print the calibration as one JSON document')
    .action(async (runId: string, flags: CalibrateFlags) => {
      const parsed = parseCalibrateInput({
        fromRun: runId,
        processor: flags.processor,
        ...(flags.sample !== undefined ? { sampleSize: Number(flags.sample) } : {}),
        ...(flags.sloP90Ms !== undefined ? { sloP90Ms: Number(flags.sloP90Ms) } : {}),
      });
      if (!parsed.ok) {
        process.stderr.write(`stowage calibrate: ${parsed.problems.join('; ')}\n`);
        process.exitCode = 2;
        return;
      }
      const result = await withClient(flags, (client) =>
        client.workflow.execute<typeof calibrate>('calibrate', {
          taskQueue: STOWAGE_TASK_QUEUE,
          // One probe per run and processor at a time: a second start attaches to the running one.
          workflowId: `calibrate-${runId}-${parsed.input.processor}`,
          args: [parsed.input],
          workflowIdConflictPolicy: 'USE_EXISTING',
        }),
      );
      const { calibration: c, key } = result;
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(result)}\n`
          : `${key}\n  served path ${c.overheadMs.toFixed(2)} ms + ${c.forwardScale.toFixed(2)}× forward` +
              ` (${c.probe.saturationRps.toFixed(0)} req/s on ${c.probe.models.length} model(s), ` +
              `windows ${c.probe.windows.join(', ')}${c.probe.stable ? '' : '; NOT stable'})\n`,
      );
    });
}
