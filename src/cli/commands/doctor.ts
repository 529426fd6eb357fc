import { Command, Option } from 'commander';
import { runDoctor } from '../../client/doctor';
import type { DoctorInput, DoctorReport } from '../../domain/doctor';
import type { Processor } from '../../domain/task-queues';
import { connectClient } from '../../temporal/connect';
import { formatDoctorReport } from '../doctor-table';
import { parseProcessorListFlag } from '../processors-flag';
import { addTemporalFlags, temporalOptionsFromFlags, type TemporalFlags } from '../temporal-flags';

interface DoctorFlags extends TemporalFlags {
  processors: Processor[];
  benchmarkMs: number;
  json?: boolean;
}

export function addDoctorFlags(command: Command): Command {
  return command
    .addOption(
      new Option('--tracers <list>', 'tracer queues to ask (comma list of cpu,gpu,inf)')
        .default(['cpu'])
        .argParser(parseProcessorListFlag),
    )
    .addOption(
      new Option('--benchmark-ms <ms>', 'how long each tracer measures matmul throughput')
        .default(1000)
        .argParser(Number),
    )
    .option('--json', 'print the report as one JSON document');
}

export function printDoctorReport(report: DoctorReport, json: boolean | undefined): void {
  process.stdout.write(json ? `${JSON.stringify(report)}\n` : `${formatDoctorReport(report)}\n`);
}

export function doctorInput(flags: { tracers: Processor[]; benchmarkMs: number }): DoctorInput {
  return { processors: flags.tracers, benchmarkMs: flags.benchmarkMs };
}

export function doctorCommand(): Command {
  return addTemporalFlags(addDoctorFlags(new Command('doctor')))
    .description('ask every worker what it has (a real workflow across the TypeScript and Python workers)')
    .action(async (flags: DoctorFlags & { tracers: Processor[] }) => {
      const client = await connectClient(temporalOptionsFromFlags(flags));
      try {
        const { report } = await runDoctor(client, doctorInput(flags));
        printDoctorReport(report, flags.json);
      } finally {
        await client.connection.close();
      }
    });
}
