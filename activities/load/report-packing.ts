import type { DeviceBar } from './charts';
import { esc, fmt } from './html';

/** report.json `packing`: each served device and the models it holds. */
export type DevicePacking = { device: string; models: { modelId: string; memoryBytes: number | null }[] };

/**
 * Up to this many models the picture stacks each model in its device's bar, the post's figure; beyond it
 * each device is one bar of its models' total (thousands of stacked slices and legend entries would make
 * the report slow to open and unreadable) and the drill-down table below names every model.
 */
export const MODELS_IN_PICTURE = 64;

const MIB = 2 ** 20;
// Without a memory figure a model still shows, as one unit, so the picture never hides one.
const mibOf = (bytes: number | null) => (bytes !== null ? bytes / MIB : 1);

/** The picture's bars, and whether they are per device (aggregated) rather than per model. */
export function packingBars(packing: DevicePacking[]): { bars: DeviceBar[]; aggregated: boolean } {
  const models = packing.reduce((n, d) => n + d.models.length, 0);
  if (models <= MODELS_IN_PICTURE) {
    const bars = packing.flatMap((d) =>
      d.models.map((m) => ({ device: d.device, model: m.modelId, memoryMiB: mibOf(m.memoryBytes) })),
    );
    return { bars, aggregated: false };
  }
  const bars = packing.map((d) => ({
    device: d.device,
    model: `${d.models.length} models`,
    memoryMiB: d.models.reduce((sum, m) => sum + mibOf(m.memoryBytes), 0),
  }));
  return { bars, aggregated: true };
}

/** Per device: its model count and memory, then each model in a collapsed drill-down. */
export function packingTableHtml(packing: DevicePacking[]): string {
  const summary = packing
    .map(
      (d) =>
        `<tr><td>${esc(d.device)}</td><td>${d.models.length}</td><td>${fmt(
          d.models.reduce((sum, m) => sum + mibOf(m.memoryBytes), 0),
        )}</td></tr>`,
    )
    .join('\n');
  const drill = packing
    .map(
      (d) =>
        `<details><summary>${esc(d.device)}: ${d.models.length} models</summary><table><tr><th>model</th><th>memory (MiB)</th></tr>${d.models
          .map(
            (m) =>
              `<tr><td>${esc(m.modelId)}</td><td>${m.memoryBytes !== null ? fmt(m.memoryBytes / MIB, 2) : '—'}</td></tr>`,
          )
          .join('')}</table></details>`,
    )
    .join('\n');
  return `<h2>Packing by device</h2>
<table><tr><th>device</th><th>models</th><th>memory (MiB)</th></tr>
${summary}</table>
${drill}`;
}
