import Table from 'cli-table3';
import type { DoctorReport } from '../domain/doctor';

/** The doctor's answer as a table for people: one row per worker and task queue. */
export function formatDoctorReport(report: DoctorReport): string {
  const table = new Table({
    style: { head: [], border: [] },
    head: [
      'task queue',
      'language',
      'runtime',
      'torch',
      'devices',
      'free / total GiB',
      'matmul GFLOP/s',
      'pid',
    ],
  });
  const w = report.stowage;
  table.push([
    w.taskQueue,
    w.language,
    `node ${w.nodeVersion}, sdk ${w.sdkVersion}`,
    '-',
    `${w.cpuCount} cpu`,
    `${w.freeMemoryGiB} / ${w.totalMemoryGiB}`,
    '-',
    w.pid,
  ]);
  for (const t of report.tracers) {
    const accel =
      [t.cudaAvailable ? 'cuda' : '', t.neuronAvailable ? 'neuron' : ''].filter(Boolean).join('+') ||
      'no accelerator';
    const devices =
      t.processor === 'cpu'
        ? `${t.cpuCount} cpu (${accel})`
        : `${t.devices.length} ${t.processor} (${t.devices.map((d) => d.name).join(', ')})`;
    table.push([
      t.taskQueue,
      t.language,
      `python ${t.pythonVersion}, sdk ${t.temporalioVersion}`,
      t.torchVersion,
      devices,
      `${t.freeMemoryGiB} / ${t.totalMemoryGiB}`,
      t.matmulGflops ?? '-',
      t.pid,
    ]);
  }
  // Older workers answer without it; say so rather than guess.
  const containers = w.containers
    ? (w.containers.runtime ?? `cannot run: ${w.containers.reason}`)
    : 'not reported by this worker';
  table.push(['', '', { colSpan: 6, content: `containers: ${containers}` }]);
  for (const u of report.unreachable)
    table.push([u.taskQueue, '-', { colSpan: 6, content: `unreachable: ${u.reason}` }]);
  return table.toString();
}
