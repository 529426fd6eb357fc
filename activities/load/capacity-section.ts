import type { CapacityCheck } from '../../src/capacity/check';
import { renderSvg, type TopLevelSpec } from './charts';
import { esc, fmt } from './html';

/**
 * The report's "plan against measurement" section: per device, the capacity the plan promised at the
 * compute cap next to the knee measured on it, and the fleet's verdict.
 */

/** Grouped bars: planned and measured req/s per device. */
export function capacitySpec(check: CapacityCheck): TopLevelSpec {
  const values = check.devices.flatMap((d) => [
    { device: d.device, figure: 'planned at the compute cap', rps: finite(d.plannedRps) },
    { device: d.device, figure: 'measured knee', rps: d.measuredRps },
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Capacity: planned against measured, per device',
    data: { values: values.filter((v) => v.rps !== null) },
    width: { step: 28 },
    height: 220,
    mark: 'bar',
    encoding: {
      x: { field: 'device', type: 'nominal', title: 'device', axis: { labelAngle: 0 } },
      xOffset: { field: 'figure' },
      y: { field: 'rps', type: 'quantitative', title: 'requests/s' },
      color: { field: 'figure', type: 'nominal', title: null },
      tooltip: [{ field: 'device' }, { field: 'figure' }, { field: 'rps', format: '.1f' }],
    },
  } as TopLevelSpec;
}

const finite = (n: number) => (Number.isFinite(n) ? n : null);

export async function capacitySectionHtml(check: CapacityCheck): Promise<string> {
  const rows = check.devices
    .map(
      (d) =>
        `<tr${d.device === check.worst ? ' class="worst"' : ''}><td>${esc(d.device)}</td><td>${d.models}</td><td>${fmt(d.expectedRps, 2)}</td><td>${fmt(d.compute * 100, 1)}%</td><td>${fmt(d.plannedRps)}</td><td>${fmt(d.measuredRps)}</td><td>${fmt(d.ratio, 2)}</td><td>${d.verdict}</td><td>${fmt(d.forwardOnlyRps)}</td><td>${fmt(d.forwardOnlyRatio, 2)}</td></tr>`,
    )
    .join('\n');
  const chart = await renderSvg(capacitySpec(check));
  return `<section id="capacity">
<h2>Plan against measurement: <span class="verdict">${esc(check.verdict)}</span></h2>
<p>Planned: the request rate at which each device reaches the compute cap with traffic in the planned mix.
Measured: the device's knee (highest throughput with P90 within the SLO). A device holds its promise when
measured / planned is at least 0.85; above 1.15 it was under-promised (paid for, left idle). The
forward-only plan is what the profile's forward timing alone would have promised.
Fleet: planned ${fmt(check.plannedRps)} req/s, measured ${fmt(check.measuredRps)} req/s, ratio ${fmt(check.ratio, 2)}${check.worst ? `; worst device ${esc(check.worst)}` : ''}.${check.note ? ` <strong>${esc(check.note)}</strong>.` : ''}</p>
<table><tr><th>device</th><th>models</th><th>planned load (req/s)</th><th>compute at that load</th><th>planned capacity (req/s)</th><th>measured knee (req/s)</th><th>measured / planned</th><th>verdict</th><th>forward-only plan (req/s)</th><th>measured / forward-only</th></tr>
${rows}</table>
<figure>${chart}</figure>
</section>
`;
}
