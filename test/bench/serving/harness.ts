/**
 * What the serving benchmarks share: traced test models, k6 open-model steps over a set of models, and the
 * adaptive knee search.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectPaths } from '../../../src/config/paths';
import { kneeOf, nextStep, verdict, type KneePlan, type Slo } from '../../../src/domain/knee';
import type { StepFigures } from '../../../src/domain/step-figures';

const paths = projectPaths();

/** Traces small BERT QA models (stowage_tracer.serving.tiny_artifacts `args`); their folders by id. */
export async function buildTracedModels(
  root: string,
  models: string[],
  args: string[],
): Promise<Record<string, string>> {
  const { stdout } = await promisify(execFile)(
    paths.python,
    ['-m', 'stowage_tracer.serving.tiny_artifacts', '--root', root, '--models', models.join(','), ...args],
    { cwd: paths.pythonTracer, maxBuffer: 16 * 2 ** 20 },
  );
  return JSON.parse(stdout) as Record<string, string>;
}

export interface Target {
  url: string;
  models: string[];
  /** Where k6's routing table and summary go. */
  work: string;
  stepSeconds: number;
  /** Pins k6 to these cpus (taskset -c); absent: unpinned. */
  k6Cpus?: string;
}

export async function k6Steps(target: Target, rates: number[]): Promise<StepFigures[]> {
  const table = path.join(target.work, 'routing.json');
  fs.writeFileSync(
    table,
    JSON.stringify({ routes: target.models.map((modelId) => ({ modelId, url: target.url })) }),
  );
  const summary = path.join(target.work, 'summary.json');
  const k6 = [
    path.join(paths.toolsBin, 'k6'),
    'run',
    '--quiet',
    '--no-usage-report',
    path.join(paths.root, 'k6', 'sweep.ts'),
  ];
  const [command, ...args] = target.k6Cpus ? ['taskset', '-c', target.k6Cpus, ...k6] : k6;
  await promisify(execFile)(command, args, {
    env: {
      ...process.env,
      ROUTING_TABLE: table,
      RATES: rates.join(','),
      STEP_SECONDS: String(target.stepSeconds),
      MAX_VUS: '300',
      SUMMARY_FILE: summary,
    },
    maxBuffer: 64 * 2 ** 20,
  });
  return (JSON.parse(fs.readFileSync(summary, 'utf8')) as { steps: StepFigures[] }).steps;
}

/** Median single-request latency (ms), to start the ramp near the knee. */
export async function sequentialMs(target: Target): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    await fetch(`${target.url}/predictions/${target.models[i % target.models.length]}`).then((r) => r.text());
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[15];
}

/** Geometric ramp then bisection (src/domain/knee.ts), at most 8 steps. */
export async function adaptive(target: Target, slo: Slo, log: (s: string) => void) {
  const startRate = Math.max(1, Math.round(1000 / (await sequentialMs(target)) / 2));
  const plan: KneePlan = { startRate, minRate: 1, maxRate: 5000, factor: 2, tolerance: 0.05, maxSteps: 8 };
  const steps: StepFigures[] = [];
  for (;;) {
    const next = nextStep(steps, plan, slo);
    if (next.kind === 'done') {
      const knee = kneeOf(steps, slo);
      log(
        `  adaptive: ${steps.length} steps, ${next.reason}, knee ${knee?.achievedRate.toFixed(1)} req/s @ P90 ${knee?.p90Ms?.toFixed(1)} ms`,
      );
      return { steps, knee, reason: next.reason };
    }
    const [figures] = await k6Steps(target, [next.rate]);
    log(
      `  step ${steps.length} ${next.phase} offered ${next.rate} → achieved ${figures.achievedRate.toFixed(1)}, P90 ${figures.p90Ms?.toFixed(1)} ms, errors ${(figures.errorRate * 100).toFixed(2)}%, dropped ${figures.droppedIterations}: ${verdict(figures, slo)}`,
    );
    steps.push(figures);
  }
}
