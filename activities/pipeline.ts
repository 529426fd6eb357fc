import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import type { ArtifactStore } from '../src/artifacts/store';
import { artifactKeys } from '../src/artifacts/keys';
import type { CapacityCheck } from '../src/capacity/check';
import { capacityPlan, plannedFleetRps } from '../src/capacity/plan';
import {
  type PackStageInput,
  type PackStageResult,
  servedInstances,
  type TraceBatchRecord,
} from '../src/domain/pipeline-stages';
import type { Processor } from '../src/domain/task-queues';
import { readCalibrations } from '../src/fleet/calibrations';
import { catalogOrThisMachine } from '../src/fleet/catalog';
import { placeProblem } from '../src/fleet/placement';
import { packingProblem, tracedDemands } from '../src/fleet/problem';
import { DEFAULT_COMPUTE_FRACTION } from '../src/packing';
import { describeProblems, ModelManifestSchema, type ModelSpec } from '../src/pipeline/input';
import { solveInActivity } from './packing';
import { capacitySectionHtml } from './load/capacity-section';
import { FailureType } from '../src/domain/failures';

/** Stage records and the pack stage of the `pipeline` workflow. */
export function createPipelineActivities(artifacts: ArtifactStore) {
  // A 100,000-model manifest is read once per trace batch: validate each content once, not per page.
  const manifests = new ManifestCache(artifacts);
  return {
    /** Checks a model manifest whole (every entry, duplicate ids) and returns how many models it lists. */
    async inspectModelManifest(input: { key: string }): Promise<{ count: number }> {
      return { count: (await manifests.read(input.key)).length };
    },

    /** One page of a manifest: the models of one traceModels batch. */
    async readModelManifestPage(input: { key: string; offset: number; limit: number }): Promise<ModelSpec[]> {
      return (await manifests.read(input.key)).slice(input.offset, input.offset + input.limit);
    },

    /** Copies a loadSweep child's report files into the pipeline run's own folder (runs/<id>/, docs/artifacts.md). */
    /** With a capacity check, the report gains its plan-against-measurement section (report.json `capacity`). */
    async publishRunReport(input: {
      fromRunId: string;
      toRunId: string;
      capacityCheckKey?: string;
    }): Promise<{ html: string; json: string }> {
      const check = input.capacityCheckKey
        ? await artifacts.readJson<CapacityCheck>(input.capacityCheckKey)
        : undefined;
      const copied: Record<string, string> = {};
      for (const file of ['report.html', 'report.json', 'sweep.json']) {
        let data = await artifacts.read(artifactKeys.run(input.fromRunId, file));
        if (check && file === 'report.json') {
          data = Buffer.from(
            JSON.stringify({ ...JSON.parse(data.toString('utf8')), capacity: check }, null, 2),
          );
        }
        if (check && file === 'report.html') {
          // Before the sweep's details: the verdict is what a reader looks for first after the results.
          const html = data.toString('utf8');
          const at = html.indexOf('<h2>Sweep steps</h2>');
          const section = await capacitySectionHtml(check);
          data = Buffer.from(at >= 0 ? html.slice(0, at) + section + html.slice(at) : html + section);
        }
        copied[file] = (await artifacts.write(artifactKeys.run(input.toRunId, file), data)).uri;
      }
      return { html: copied['report.html'], json: copied['report.json'] };
    },

    /** Saves one traceModels batch so that only its key travels on (and a resumed run can read it). */
    async recordTraceBatch(input: {
      runId: string;
      name: string;
      record: TraceBatchRecord;
    }): Promise<string> {
      const key = artifactKeys.run(input.runId, `trace-${input.name}.json`);
      await artifacts.writeJson(key, input.record);
      return key;
    },

    /** A stage's saved summary from an earlier run (for `--resume`), or null when it has none. */
    async loadStageRecord<T>(input: { runId: string; stage: string }): Promise<T | null> {
      const key = artifactKeys.run(input.runId, `stage-${input.stage}.json`);
      return (await artifacts.exists(key)) ? artifacts.readJson<T>(key) : null;
    },

    async saveStageRecord(input: { runId: string; stage: string; record: unknown }): Promise<string> {
      const key = artifactKeys.run(input.runId, `stage-${input.stage}.json`);
      await artifacts.writeJson(key, input.record);
      return key;
    },

    /**
     * Packs the traced models by their measured demands. The placement is content-addressed by its
     * problem, so the same models, profiles and catalog find the placement already made.
     */
    async packPlacement(input: PackStageInput): Promise<PackStageResult> {
      const calibrations = await readCalibrations(artifacts, input.calibrations ?? []);
      const { models, loads, untrusted } = await tracedDemands(
        artifacts,
        input.traceBatches,
        (processor) => calibrations.get(processor)?.calibration,
      );
      const problem = packingProblem({
        catalog: catalogOrThisMachine(input.catalog),
        models,
        limits: input.limits,
        timeLimitMs: input.timeLimitMs,
      });
      const { placementId, placementKey, placement, cached } = await placeProblem(artifacts, problem, {
        reuse: true,
        solve: solveInActivity,
      });
      const processorOf = new Map(problem.instanceTypes.map((t) => [t.name, t.processor as Processor]));
      const plan = capacityPlan(
        servedInstances(placement.instances),
        (modelId, type) => loads.get(`${modelId}/${processorOf.get(type) ?? 'cpu'}`),
        input.limits.computeFraction ?? DEFAULT_COMPUTE_FRACTION,
        Object.fromEntries([...calibrations].map(([processor, c]) => [processor, c.use])),
      );
      const capacityPlanKey = artifactKeys.run(input.runId, 'capacity-plan.json');
      await artifacts.writeJson(capacityPlanKey, plan);
      return {
        placementId,
        placementKey,
        costPerHour: placement.costPerHour,
        lowerBoundPerHour: placement.lowerBoundPerHour,
        instances: placement.instances,
        unplaced: placement.unplaced,
        processors: [...new Set(placement.instances.map((i) => processorOf.get(i.type) ?? 'cpu'))],
        cached,
        capacityPlanKey,
        plannedRps: plannedFleetRps(plan),
        calibrations: plan.calibrations,
        untrustedProfiles: untrusted,
      };
    },
  };
}

/** Parsed, validated manifests by content hash: a changed manifest is read afresh, an unchanged one once. */
class ManifestCache {
  private last?: { sha256: string; models: ModelSpec[] };

  constructor(private readonly artifacts: ArtifactStore) {}

  async read(key: string): Promise<ModelSpec[]> {
    const bytes = await this.artifacts.read(key).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        throw ApplicationFailure.nonRetryable(
          `model manifest ${key} does not exist`,
          FailureType.InvalidInput,
        );
      }
      throw err; // disk trouble: another attempt may succeed
    });
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (this.last?.sha256 !== sha256) this.last = { sha256, models: parseManifest(key, bytes) };
    return this.last.models;
  }
}

function parseManifest(key: string, bytes: Buffer): ModelSpec[] {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw ApplicationFailure.nonRetryable(`model manifest ${key} is not JSON`, FailureType.InvalidInput);
  }
  const parsed = ModelManifestSchema.safeParse(raw);
  const problems = parsed.success ? [] : describeProblems(parsed.error);
  const seen = new Set<string>();
  for (const [i, m] of (parsed.success ? parsed.data.models : []).entries()) {
    if (seen.has(m.id)) problems.push(`/models/${i}/id: duplicate model id "${m.id}"`);
    seen.add(m.id);
  }
  if (!parsed.success || problems.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `invalid model manifest ${key} (${problems.length} problem(s)):\n${problems.slice(0, 20).join('\n')}`,
      FailureType.InvalidInput,
    );
  }
  return parsed.data.models;
}
