import os from 'node:os';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ArtifactStore } from '../../src/artifacts/store';
import { artifactKeys } from '../../src/artifacts/keys';
import { checkCapacity, type CapacityCheck } from '../../src/capacity/check';
import type { CapacityPlan } from '../../src/capacity/plan';
import {
  type Calibration,
  calibrationFromProbe,
  calibrationKey,
  forwardMsOf,
  isContended,
  latestCalibrationKey,
  nextOpenLoopShare,
  type OpenLoopCheck,
  type OpenLoopStep,
  openLoopShareOf,
  type ProbeLevel,
  type ServedPathProbe,
  type ServingSetup,
  withCapacityCheck,
} from '../../src/capacity/served-path';
import { isStableRate, settledRate } from '../../src/capacity/stable-rate';
import type { ProjectPaths } from '../../src/config/paths';
import { readTraceBatches } from '../../src/fleet/problem';
import type { StepFigures } from '../../src/domain/step-figures';
import { verdict } from '../../src/domain/knee';
import { runK6 } from '../load/k6';
import { tableFile } from '../load/routes';
import { FailureType } from '../../src/domain/failures';

export interface ProbeSample {
  models: string[];
  meanForwardMs: number;
}

export interface MeasureServedPathInput {
  tableKey: string;
  /** The most closed-loop clients tried (twice the batch size: enough for full batches). */
  maxConcurrency: number;
  sloP90Ms: number;
  windowSeconds: number;
  maxWindows: number;
  /** Levels measured before the probe's server was lost and restarted: kept, not measured again. */
  levels?: ProbeLevel[];
}

/** What a probe attempt heartbeats and a retried attempt resumes from. */
interface ProbeProgress {
  levels?: ProbeLevel[];
  openLoop?: OpenLoopStep[];
}

export interface MeasuredServedPath {
  /** Every concurrency tried, in order; `chosen` indexes the one the capacity comes from. */
  levels: ProbeLevel[];
  chosen: number;
  /** The most requests/s answered with P90 within the SLO (at the lowest concurrency, if none was). */
  saturationRps: number;
  sloMet: boolean;
  /** Open-loop steps at shares of the chosen rate; absent when no level met the SLO. */
  openLoop?: OpenLoopCheck;
  loadAverage: number;
  contended: boolean;
}

/**
 * A window long enough for about MIN_WINDOW_REQUESTS answers at the last window's rate (a slow model
 * answering 8 req/s gives 24 in 3 s, and one answer more or less is already 4%), at most 12 s.
 */
const MIN_WINDOW_REQUESTS = 60;
function windowFor(seconds: number, lastRate: number | undefined): number {
  if (!lastRate || lastRate <= 0) return seconds;
  return Math.min(12, Math.max(seconds, Math.ceil(MIN_WINDOW_REQUESTS / lastRate)));
}

/** An open-loop step lasts long enough for about this many answers (at least three windows, at most 20 s). */
const OPEN_LOOP_REQUESTS = 150;

/**
 * A probe step whose server failed its requests: the server is lost. The failure carries the levels
 * measured before it; the workflow restarts the server and resumes from them.
 */
function serverAnswered(figures: StepFigures, levels: ProbeLevel[]): void {
  if (figures.requests === 0 || figures.errorRate > 0.01) {
    throw ApplicationFailure.nonRetryable(
      `the served-path probe's server failed ${figures.failures} of ${figures.requests} requests`,
      FailureType.ModelServerLost,
      { levels },
    );
  }
}

/** More clients that add less than this to the answered rate only add queueing: the ramp stops. */
const MIN_LEVEL_GAIN = 0.05;

/** Closed-loop client counts the probe tries: doubling from 1 up to `max`. */
export function concurrencyLevels(max: number): number[] {
  const levels: number[] = [];
  for (let c = 1; c < max; c *= 2) levels.push(c);
  return [...levels, max];
}

/**
 * The next client count the served-path probe measures, from the levels measured so far, or undefined
 * when the search is over. Doubling from 1 until a level misses the SLO or adds under 5%; then, because
 * doubling is coarse where the SLO cuts the ramp (a large model's capacity within it often lies between
 * 2 and 4 clients: two workers, each idle while its client is between requests), the client counts
 * between the last level within the SLO and the first beyond it, bisected. A level counts as measured
 * once its windows agree or ran out (a resumed attempt finishes one it had begun).
 */
export function nextProbeConcurrency(
  levels: ProbeLevel[],
  search: { maxConcurrency: number; sloP90Ms: number; maxWindows: number },
): number | undefined {
  const measured = (c: number) =>
    levels.find(
      (l) => l.concurrency === c && (l.windows.length >= search.maxWindows || isStableRate(l.windows)),
    );
  const within = (l: ProbeLevel) => withinSlo(l, search.sloP90Ms);
  let passed: ProbeLevel | undefined;
  let missed: ProbeLevel | undefined;
  for (const c of concurrencyLevels(search.maxConcurrency)) {
    const level = measured(c);
    if (!level) return c;
    if (!within(level)) {
      missed = level;
      break;
    }
    const gained = !passed || level.rps >= passed.rps * (1 + MIN_LEVEL_GAIN);
    passed = level;
    if (!gained) return undefined;
  }
  while (passed && missed && missed.concurrency - passed.concurrency > 1) {
    const mid = Math.floor((passed.concurrency + missed.concurrency) / 2);
    const level = measured(mid);
    if (!level) return mid;
    if (within(level)) passed = level;
    else missed = level;
  }
  return undefined;
}

/** A level's P90: the median of its last three windows' (one slow window is not the level). */
function levelP90(level: ProbeLevel): number {
  const last = [...level.p90Ms.slice(-3)].sort((a, b) => a - b);
  return last[Math.floor(last.length / 2)] ?? Infinity;
}

/** Whether a level's P90 stays within the SLO: the one test both the search and the choice of level use. */
function withinSlo(level: ProbeLevel, sloP90Ms: number): boolean {
  return levelP90(level) <= sloP90Ms;
}

/** How busy the machine is: tests pass their own to decide contention. */
export interface MachineLoad {
  loadAverage(): number;
  cpus: number;
}

const thisMachine: MachineLoad = { loadAverage: () => os.loadavg()[0], cpus: os.cpus().length };

/** Served-path calibration (src/capacity): the probe, the stored calibrations, and the closed loop. */
export function createCapacityActivities(
  paths: ProjectPaths,
  artifacts: ArtifactStore,
  machine: MachineLoad = thisMachine,
) {
  const load = () => {
    const loadAverage = Math.round(machine.loadAverage() * 100) / 100;
    return { loadAverage, contended: isContended(loadAverage, machine.cpus) };
  };
  return {
    /**
     * Up to `size` traced models spread across the range of forward times (fastest to slowest), so the
     * probe's mean forward time is that of the fleet's range, not of one corner of it.
     */
    async chooseProbeSample(input: {
      traceBatches: string[];
      processor: string;
      size: number;
    }): Promise<ProbeSample> {
      const timed: { modelId: string; forwardMs: number }[] = [];
      for await (const batch of readTraceBatches(artifacts, input.traceBatches)) {
        if (batch.processor !== input.processor) continue;
        for (const t of batch.traced) {
          const forwardMs = forwardMsOf(t.demand);
          if (forwardMs !== null && forwardMs > 0) timed.push({ modelId: t.modelId, forwardMs });
        }
      }
      if (timed.length === 0) {
        throw ApplicationFailure.nonRetryable(
          `no traced ${input.processor} model has a forward time to calibrate the served path with`,
          FailureType.InvalidInput,
        );
      }
      timed.sort((a, b) => a.forwardMs - b.forwardMs || a.modelId.localeCompare(b.modelId));
      const size = Math.min(input.size, timed.length);
      const picked = Array.from({ length: size }, (_, i) =>
        size === 1 ? timed[0] : timed[Math.round((i * (timed.length - 1)) / (size - 1))],
      );
      const models = [...new Set(picked.map((p) => p.modelId))];
      const chosen = timed.filter((t) => models.includes(t.modelId));
      return {
        models,
        meanForwardMs: chosen.reduce((n, t) => n + t.forwardMs, 0) / chosen.length,
      };
    },

    /**
     * The served path's capacity under the SLO: closed-loop clients doubling from 1, each level measured
     * in windows until the last three agree (src/capacity/stable-rate) or `maxWindows` ran, until a level
     * misses the SLO or adds under 5%; then client counts between the last level within the SLO and the
     * first beyond it, bisected. Small models serve full batches well within the SLO; a large
     * model's batch of 8 takes longer than the SLO allows, so its capacity is that of smaller batches.
     * Heartbeats the levels measured so far, and a retried attempt continues from them.
     */
    async measureServedPath(input: MeasureServedPathInput): Promise<MeasuredServedPath> {
      const ctx = Context.current();
      const table = await tableFile(artifacts, input.tableKey);
      const resumed = ctx.info.heartbeatDetails as ProbeProgress | undefined;
      const earlier = Array.isArray(resumed?.levels) ? resumed.levels : (input.levels ?? []);
      const levels: ProbeLevel[] = earlier.map((l) => ({ ...l }));
      const openLoop: OpenLoopStep[] = Array.isArray(resumed?.openLoop) ? [...resumed.openLoop] : [];
      const progress = (): ProbeProgress => ({ levels, openLoop });
      /** One client count, measured until its windows agree (or resumed where an attempt left it). */
      const measureLevel = async (concurrency: number): Promise<void> => {
        let level = levels.find((l) => l.concurrency === concurrency);
        if (!level) {
          level = { concurrency, windows: [], p90Ms: [], rps: 0, stable: false };
          levels.push(level);
        }
        while (level.windows.length < input.maxWindows && !isStableRate(level.windows)) {
          const figures = await runK6<StepFigures>(
            paths,
            'saturate.ts',
            {
              ROUTING_TABLE: table,
              VUS: String(concurrency),
              DURATION: String(windowFor(input.windowSeconds, level.windows.at(-1))),
            },
            `served-path probe, ${concurrency} client(s), window ${level.windows.length}`,
            progress(),
          );
          serverAnswered(figures, levels);
          level.windows.push(Math.round(figures.achievedRate * 100) / 100);
          level.p90Ms.push(Math.round((figures.p90Ms ?? Infinity) * 100) / 100);
          level.rps = settledRate(level.windows);
          level.stable = isStableRate(level.windows);
          ctx.heartbeat(progress());
        }
      };
      for (
        let next = nextProbeConcurrency(levels, input);
        next !== undefined;
        next = nextProbeConcurrency(levels, input)
      )
        await measureLevel(next);
      const within = levels.filter((l) => withinSlo(l, input.sloP90Ms));
      const best = (within.length > 0 ? within : levels.slice(0, 1)).reduce((a, b) =>
        b.rps > a.rps ? b : a,
      );
      if (within.length === 0) {
        return { levels, chosen: levels.indexOf(best), saturationRps: best.rps, sloMet: false, ...load() };
      }
      const slo = { p90Ms: input.sloP90Ms, maxErrorRate: 0.01 };
      // Open-loop steps at shares of the chosen rate, at random models as a sweep offers them: the share of
      // the closed-loop rate that keeps the SLO when arrivals do not wait for answers (src/capacity).
      for (
        let share = nextOpenLoopShare(openLoop);
        share !== undefined;
        share = nextOpenLoopShare(openLoop)
      ) {
        const rate = Math.round(best.rps * share * 100) / 100;
        const seconds = Math.min(20, Math.max(3 * input.windowSeconds, Math.ceil(OPEN_LOOP_REQUESTS / rate)));
        const figures = await runK6<{ steps: StepFigures[] }>(
          paths,
          'sweep.ts',
          {
            ROUTING_TABLE: table,
            RATES: String(rate),
            STEP_SECONDS: String(seconds),
            REQUEST_TIMEOUT_S: '5',
          },
          `served-path probe, open loop at ${rate} req/s (${share} of ${best.rps})`,
          progress(),
        );
        const step = figures.steps[0];
        // A step past the SLO may time requests out, which fails the step; only a server that answered
        // nothing is lost.
        if (step.achievedRate === 0) serverAnswered(step, levels);
        openLoop.push({
          share,
          offeredRate: rate,
          achievedRate: step.achievedRate,
          p90Ms: step.p90Ms,
          pass: verdict({ ...step, offeredRate: rate, durationSeconds: seconds }, slo) === 'pass',
        });
        ctx.heartbeat(progress());
      }
      return {
        levels,
        chosen: levels.indexOf(best),
        saturationRps: best.rps,
        sloMet: true,
        openLoop: { share: openLoopShareOf(openLoop), steps: openLoop },
        ...load(),
      };
    },

    /** The stored calibration of a serving setup, if one was measured. */
    async loadCalibration(input: { setup: ServingSetup }): Promise<{ key: string; found: boolean }> {
      const key = calibrationKey(input.setup);
      return { key, found: await artifacts.exists(key) };
    },

    /** A fresh probe replaces the setup's calibration: its closed-loop factor starts again at 1. */
    async saveProbeCalibration(input: {
      setup: ServingSetup;
      probe: ServedPathProbe;
    }): Promise<{ key: string; calibration: Calibration }> {
      const calibration = calibrationFromProbe(input.setup, input.probe);
      const key = calibrationKey(input.setup);
      await artifacts.writeJson(key, calibration);
      await artifacts.writeJson(latestCalibrationKey(input.setup.processor, input.setup.instanceType), {
        key,
      });
      return { key, calibration };
    },

    /**
     * Plan against measurement (runs/<runId>/capacity-check.json), and the closed loop: every calibration
     * the plan used is corrected by the measured/planned ratio of the devices measured, so the next pack
     * plans against measured capacity.
     */
    async recordCapacityCheck(input: {
      runId: string;
      planKey: string;
      measured: { device: string; kneeRps: number | null }[];
    }): Promise<{ key: string; check: CapacityCheck }> {
      const plan = await artifacts.readJson<CapacityPlan>(input.planKey);
      const { loadAverage, contended } = load();
      const check: CapacityCheck = {
        ...checkCapacity(plan, new Map(input.measured.map((m) => [m.device, m]))),
        loadAverage,
        ...(contended
          ? {
              note:
                `measured while the machine had other work (load average ${loadAverage} on ` +
                `${machine.cpus} CPUs): the calibration was not corrected with it`,
            }
          : {}),
      };
      const key = artifactKeys.run(input.runId, 'capacity-check.json');
      await artifacts.writeJson(key, check);
      const measuredRps = check.devices.reduce((n, d) => n + (d.measuredRps ?? 0), 0);
      const plannedRps = check.devices.reduce((n, d) => n + (d.measuredRps !== null ? d.plannedRps : 0), 0);
      if (!contended && measuredRps > 0 && plannedRps > 0 && Number.isFinite(plannedRps)) {
        for (const use of Object.values(plan.calibrations)) {
          const calibration = await artifacts.readJson<Calibration>(use.key);
          // Probed afresh since this plan was made: a ratio measured against the old probe does not apply.
          if (calibration.probe.measuredAt !== use.probedAt) continue;
          await artifacts.writeJson(
            use.key,
            withCapacityCheck(
              calibration,
              {
                runId: input.runId,
                measuredAt: new Date().toISOString(),
                plannedRps: Math.round(plannedRps * 100) / 100,
                measuredRps: Math.round(measuredRps * 100) / 100,
                ratio: Math.round((measuredRps / plannedRps) * 10_000) / 10_000,
              },
              use.capacityFactor,
            ),
          );
        }
      }
      return { key, check };
    },
  };
}
