import type { StepResult } from '../../src/domain/load-sweep';

/**
 * The report's figures as Vega-Lite specs, rendered to SVG in Node (vega's headless View: no browser,
 * no canvas), so report.html is self-contained.
 */

// vega and vega-lite ship as ES modules only; this project compiles to CommonJS, where `import()` would
// be rewritten to require(). A Function-made import() stays a real dynamic import.
const importEsm = new Function('specifier', 'return import(specifier)') as <T>(
  specifier: string,
) => Promise<T>;

/**
 * A Vega-Lite spec. Typed loosely on purpose: vega-lite's own types resolve only under node16/bundler
 * module resolution, and this project compiles with classic `node` resolution.
 */
export type TopLevelSpec = Record<string, unknown>;

interface VegaLite {
  compile(spec: TopLevelSpec): { spec: object };
}
interface Vega {
  parse(spec: object): object;
  View: new (
    runtime: object,
    options: { renderer: 'none' },
  ) => { toSVG(): Promise<string>; finalize(): void };
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const vl = await importEsm<VegaLite>('vega-lite');
  const vega = await importEsm<Vega>('vega');
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** P50/P90/P95 against achieved throughput, the SLO as a rule and the knee marked. */
export function curveSpec(steps: StepResult[], sloP90Ms: number, knee: StepResult | null): TopLevelSpec {
  const points = steps
    .filter((s) => s.p50Ms !== null)
    .flatMap((s) => [
      { rate: s.achievedRate, latency: s.p50Ms, stat: 'P50', offered: s.offeredRate },
      { rate: s.achievedRate, latency: s.p90Ms, stat: 'P90', offered: s.offeredRate },
      { rate: s.achievedRate, latency: s.p95Ms, stat: 'P95', offered: s.offeredRate },
    ]);
  const x = { field: 'rate', type: 'quantitative', title: 'achieved throughput (req/s)' } as const;
  // Log scale: past the knee latency grows by orders of magnitude, and the SLO region must stay readable.
  const y = {
    field: 'latency',
    type: 'quantitative',
    title: 'latency (ms, log scale)',
    scale: { type: 'log' },
  } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Throughput–latency curve',
    width: 560,
    height: 320,
    layer: [
      {
        data: { values: points },
        transform: [{ calculate: 'datum.rate', as: 'rate' }],
        mark: { type: 'line', point: true },
        encoding: {
          x,
          y,
          color: { field: 'stat', type: 'nominal', title: 'latency' },
          // In the order the load was offered: an overloaded server answers fewer requests than at the knee,
          // and the curve honestly bends back.
          order: { field: 'offered', type: 'quantitative' },
        },
      },
      {
        data: { values: [{ slo: sloP90Ms }] },
        mark: { type: 'rule', color: 'firebrick', strokeDash: [6, 4] },
        encoding: { y: { field: 'slo', type: 'quantitative', scale: { type: 'log' } } },
      },
      {
        data: { values: [{ slo: sloP90Ms, label: `SLO: P90 ≤ ${sloP90Ms} ms` }] },
        mark: { type: 'text', color: 'firebrick', align: 'left', dx: 4, dy: -6, x: 0 },
        encoding: {
          y: { field: 'slo', type: 'quantitative', scale: { type: 'log' } },
          text: { field: 'label' },
        },
      },
      ...(knee
        ? ([
            {
              data: {
                values: [
                  {
                    rate: knee.achievedRate,
                    latency: knee.p90Ms,
                    label: `knee ${knee.achievedRate.toFixed(1)} req/s @ P90 ${knee.p90Ms?.toFixed(1)} ms`,
                  },
                ],
              },
              layer: [
                {
                  mark: { type: 'point', shape: 'diamond', size: 220, color: 'black', filled: true },
                  encoding: { x, y },
                },
                {
                  mark: { type: 'text', align: 'right', dx: -10, dy: -10 },
                  encoding: { x, y, text: { field: 'label' } },
                },
              ],
            },
          ] as TopLevelSpec[])
        : []),
    ],
  } as TopLevelSpec;
}

export interface DeviceBar {
  device: string;
  model: string;
  memoryMiB: number;
}

/**
 * The post's packing figure: each device a bar, its models stacked by the memory they take; `aggregated`
 * bars are one per device (its models' total), with no legend of thousands of models.
 */
export function packingSpec(
  bars: DeviceBar[],
  deviceMemoryMiB: number | null,
  aggregated = false,
): TopLevelSpec {
  const color = aggregated
    ? { value: '#4c78a8' }
    : { field: 'model', type: 'nominal', title: 'model', legend: { columns: 2 } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: aggregated
      ? 'Packing: memory per device (all its models; the table below lists them)'
      : 'Packing: models per device (stacked by loaded memory)',
    width: { step: 60 },
    height: 260,
    layer: [
      {
        data: { values: bars },
        mark: { type: 'bar', stroke: 'white', strokeWidth: 0.5 },
        encoding: {
          x: { field: 'device', type: 'nominal', title: 'device', axis: { labelAngle: 0 } },
          y: { field: 'memoryMiB', type: 'quantitative', title: 'memory (MiB)', stack: 'zero' },
          color,
          tooltip: [{ field: 'model' }, { field: 'memoryMiB', format: '.2f' }],
        },
      },
      ...(deviceMemoryMiB
        ? ([
            {
              data: { values: [{ cap: deviceMemoryMiB }] },
              mark: { type: 'rule', strokeDash: [4, 3], color: 'gray' },
              encoding: { y: { field: 'cap', type: 'quantitative' } },
            },
          ] as TopLevelSpec[])
        : []),
    ],
  } as TopLevelSpec;
}
