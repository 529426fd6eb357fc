import type { ArtifactStore } from '../../src/artifacts/store';
import { artifactKeys } from '../../src/artifacts/keys';
import type { Slo } from '../../src/domain/knee';
import type {
  DeviceLayout,
  LatencyRange,
  RoutingTable,
  StepResult,
  StepStability,
} from '../../src/domain/load-sweep';
import { curveSpec, packingSpec, renderSvg } from './charts';
import { packingBars, packingTableHtml, type DevicePacking } from './report-packing';
import { esc, fmt } from './html';
import { stabilityHtml, stabilitySummary, type StabilitySummary } from './report-stability';

export interface LoadReportInput {
  runId: string;
  tableKey: string;
  slo: Slo;
  sequential: LatencyRange;
  random: LatencyRange;
  steps: StepResult[];
  knee: StepResult | null;
  stopReason: string;
  /** How steps were measured in windows (absent: in one piece). */
  stability?: StepStability;
  /** Devices as deployed (or, for a given routing table, one device per server). */
  placement?: DeviceLayout;
  cost?: { instanceType: string; instances: number; pricePerHour: number; deviceMemoryGiB?: number };
}

/** One row of the post's results table. */
export interface ResultsRow {
  instances: string;
  models: number;
  sequentialResponseMs: [number, number];
  randomResponseMs: [number, number];
  throughputReqPerSec: number | null;
  latencyUnderLoadP90Ms: number | null;
  costPerHour: number | null;
  costPerModelHour: number | null;
}

export interface LoadReport {
  runId: string;
  generatedAt: string;
  slo: Slo;
  results: ResultsRow;
  knee: StepResult | null;
  stopReason: string;
  steps: StepResult[];
  stability: StabilitySummary;
  sequential: LatencyRange;
  random: LatencyRange;
  packing: DevicePacking[];
}

/** Loaded memory per model, asked of the servers themselves (measured, not estimated). */
async function servedMemory(urls: string[]): Promise<Map<string, number>> {
  const memory = new Map<string, number>();
  await Promise.all(
    urls.map(async (url) => {
      try {
        const res = await fetch(`${url}/models`, { signal: AbortSignal.timeout(5000) });
        const body = (await res.json()) as { models: { modelId: string; memoryBytes: number | null }[] };
        for (const m of body.models) if (m.memoryBytes) memory.set(m.modelId, m.memoryBytes);
      } catch {
        /* a server that is gone leaves its models without a memory figure */
      }
    }),
  );
  return memory;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

export function createReportActivities(artifacts: ArtifactStore) {
  return {
    async writeLoadReport(input: LoadReportInput): Promise<{ json: string; html: string; sweep: string }> {
      const table = await artifacts.readJson<RoutingTable>(input.tableKey);
      const urls = [...new Set(table.routes.map((r) => r.url.replace(/\/$/, '')))];
      const layout: DeviceLayout = input.placement ?? {
        instances: [
          {
            type: 'server',
            devices: urls.map((u) =>
              table.routes.filter((r) => r.url.replace(/\/$/, '') === u).map((r) => r.modelId),
            ),
          },
        ],
      };
      const memory = await servedMemory(urls);
      const packing = layout.instances.flatMap((inst, i) =>
        inst.devices.map((models, d) => ({
          device: `${inst.type}${inst.market === 'spot' ? ' (spot)' : ''}#${i}/dev${d}`,
          models: models.map((modelId) => ({ modelId, memoryBytes: memory.get(modelId) ?? null })),
        })),
      );
      const models = table.routes.length;
      const cost = input.cost;
      const costPerHour = cost ? round(cost.pricePerHour * cost.instances, 4) : null;
      const results: ResultsRow = {
        instances: cost ? `${cost.instances} x ${cost.instanceType}` : `${urls.length} servers`,
        models,
        sequentialResponseMs: [round(input.sequential.minMs), round(input.sequential.maxMs)],
        randomResponseMs: [round(input.random.minMs), round(input.random.maxMs)],
        throughputReqPerSec: input.knee ? round(input.knee.achievedRate) : null,
        latencyUnderLoadP90Ms: input.knee?.p90Ms != null ? round(input.knee.p90Ms) : null,
        costPerHour,
        costPerModelHour: costPerHour !== null ? round(costPerHour / models, 6) : null,
      };
      const report: LoadReport = {
        runId: input.runId,
        generatedAt: new Date().toISOString(),
        slo: input.slo,
        results,
        knee: input.knee,
        stopReason: input.stopReason,
        steps: input.steps,
        stability: stabilitySummary(input.steps, input.stability),
        sequential: input.sequential,
        random: input.random,
        packing,
      };
      const { bars, aggregated } = packingBars(packing);
      const [curve, packingSvg] = await Promise.all([
        renderSvg(curveSpec(input.steps, input.slo.p90Ms, input.knee)),
        renderSvg(packingSpec(bars, null, aggregated)),
      ]);
      const sweep = await artifacts.writeJson(artifactKeys.run(input.runId, 'sweep.json'), {
        slo: input.slo,
        steps: input.steps,
        knee: input.knee,
        stopReason: input.stopReason,
      });
      const json = await artifacts.writeJson(artifactKeys.run(input.runId, 'report.json'), report);
      const html = await artifacts.write(
        artifactKeys.run(input.runId, 'report.html'),
        reportHtml(report, curve, packingSvg, stabilityHtml(input.steps, input.stability)),
      );
      return { json: json.uri, html: html.uri, sweep: sweep.uri };
    },
  };
}

function reportHtml(report: LoadReport, curveSvg: string, packingSvg: string, stability: string): string {
  const r = report.results;
  const stepRows = report.steps
    .map(
      (s) =>
        `<tr${report.knee?.index === s.index ? ' class="knee"' : ''}><td>${s.index}</td><td>${s.phase}</td><td>${fmt(s.offeredRate, 2)}</td><td>${fmt(s.achievedRate)}</td><td>${fmt(s.p50Ms)}</td><td>${fmt(s.p90Ms)}</td><td>${fmt(s.p95Ms)}</td><td>${fmt(s.p99Ms)}</td><td>${(s.errorRate * 100).toFixed(2)}%</td><td>${s.droppedIterations}</td><td>${s.verdict}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stowage load report ${esc(report.runId)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}tr.knee{background:#fff6d5;font-weight:600}tr.unstable{color:#8a5a00}
figure{margin:1.5rem 0}
</style></head><body>
<h1>Load report</h1>
<p>Run <code>${esc(report.runId)}</code>, ${esc(report.generatedAt)}. SLO: P90 ≤ ${report.slo.p90Ms} ms, error rate ≤ ${(report.slo.maxErrorRate * 100).toFixed(2)}%. Search ended: ${esc(report.stopReason)}.</p>
<h2>Results (the post's table)</h2>
<table><tr><th>Instances (num x type)</th><th>Models (num)</th><th>Sequential response (ms)</th><th>Random response (ms)</th><th>Throughput (req/s)</th><th>Latency with load P90 (ms)</th><th>On-demand cost ($/hr)</th><th>$/model-hour</th></tr>
<tr><td>${esc(r.instances)}</td><td>${r.models}</td><td>${fmt(r.sequentialResponseMs[0])} – ${fmt(r.sequentialResponseMs[1])}</td><td>${fmt(r.randomResponseMs[0])} – ${fmt(r.randomResponseMs[1])}</td><td>${fmt(r.throughputReqPerSec)}</td><td>${fmt(r.latencyUnderLoadP90Ms)}</td><td>${fmt(r.costPerHour, 4)}</td><td>${fmt(r.costPerModelHour, 6)}</td></tr></table>
<figure>${curveSvg}</figure>
<h2>Sweep steps</h2>
<table><tr><th>step</th><th>phase</th><th>offered (req/s)</th><th>achieved (req/s)</th><th>P50</th><th>P90</th><th>P95</th><th>P99</th><th>errors</th><th>dropped</th><th>verdict</th></tr>
${stepRows}</table>
${stability}
<figure>${packingSvg}</figure>
${packingTableHtml(report.packing)}
</body></html>
`;
}
