import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import type { ArtifactStore } from '../src/artifacts/store';
import { artifactKeys, assertArtifactKey } from '../src/artifacts/keys';
import { LOCAL_INSTANCE_TYPE } from '../src/domain/local-catalog';
import type { RoutingTable } from '../src/domain/load-sweep';
import {
  decideRepack,
  type DemandBook,
  type FleetServer,
  type FleetState,
  planFleetChange,
  type RepackDecision,
  type RepackInput,
} from '../src/domain/repack';
import type { Processor } from '../src/domain/task-queues';
import { InventoryError, readInventory } from '../src/inventory';
import { type AppliedCalibration, latestCalibrations } from '../src/fleet/calibrations';
import { catalogOrThisMachine } from '../src/fleet/catalog';
import { packFailed } from '../src/fleet/pack-failed';
import { placeProblem } from '../src/fleet/placement';
import { deviceDemand, packingProblem, readTraceBatches } from '../src/fleet/problem';
import type { Placement } from '../src/packing';
import { type ModelSpec, traceOptionsFor } from '../src/pipeline/input';
import { isServerAlive } from './load/servers';
import { solveInActivity } from './packing';
import { FailureType } from '../src/domain/failures';

/**
 * The `repack` workflow's records: the inventory snapshot, the fleet state (fleet/<name>/current.json),
 * the demand book (what each model was measured to need, so unchanged models are never traced again),
 * stable re-packing against the current placement, and the run's record (runs/<runId>/repack.json).
 */

type TraceSettings = Pick<
  RepackInput,
  'name' | 'inventory' | 'processors' | 'trace' | 'expectedRatePerModel'
>;

export interface PrepareRepackResult {
  models: number;
  inventoryHash: string;
  inventoryChanged: boolean;
  hasFleet: boolean;
  /** Manifests of the models to trace, one per processor (only processors with work). */
  toTrace: { processor: Processor; key: string; count: number }[];
}

export interface PackRepackInput extends TraceSettings {
  runId: string;
  traceBatches: string[];
  catalog?: RepackInput['catalog'];
  limits: RepackInput['limits'];
  minSavingsFraction: number;
  maxMoves?: number;
  packTimeLimitMs?: number;
}

export interface PackRepackResult {
  decision: RepackDecision;
  reason: string;
  costBefore: number | null;
  costAfter: number;
  /** The cost of the placement the packer found, rolled out or not. */
  candidateCostPerHour: number;
  lowerBoundPerHour: number;
  moves: number;
  added: number;
  removed: number;
  placementKey: string | null;
  processor: Processor;
  instanceType: string;
  /** Devices that get a new server (model ids each). */
  start: string[][];
  retire: { runId: string; device: number }[];
  keep: number;
  /** The first MAX_LISTED of them: the whole list is in the run's plan (runs/<runId>/repack-plan.json). */
  unplaced: { id: string; reason: string }[];
  unplacedCount: number;
}

/** What packRepack leaves for commitRepack: everything but the servers that the rollout starts. */
interface RepackPlan extends PackRepackResult {
  name: string;
  inventory: string;
  demandsKey: string;
  keepServers: FleetServer[];
  previous: FleetState | null;
}

export const fleetKeys = {
  current: (name: string) => assertArtifactKey(`fleet/${name}/current.json`),
  demands: (name: string, hash: string) => assertArtifactKey(`fleet/${name}/demands-${hash}.json`),
};

/** Lists that travel in results are capped: a 100,000-model inventory must not fill the history. */
const MAX_LISTED = 50;

const sha = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex');

function invalid(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, FailureType.InvalidInput);
}

/** Source and trace options a demand was measured for; the same fingerprint means the same trace. */
function fingerprint(input: TraceSettings, model: ModelSpec, processor: Processor): string {
  return sha({ source: model.source, options: traceOptionsFor(input, model.trace, processor) }).slice(0, 24);
}

export function createRepackActivities(artifacts: ArtifactStore) {
  async function readFleet(name: string): Promise<FleetState | null> {
    const key = fleetKeys.current(name);
    return (await artifacts.exists(key)) ? artifacts.readJson<FleetState>(key) : null;
  }

  async function readBook(fleet: FleetState | null): Promise<DemandBook> {
    return fleet ? artifacts.readJson<DemandBook>(fleet.demandsKey) : {};
  }

  /** The run's own copy of the inventory: every step of one run sees the same list, whatever edits come. */
  async function snapshot(runId: string): Promise<ModelSpec[]> {
    return (await artifacts.readJson<{ models: ModelSpec[] }>(artifactKeys.run(runId, 'inventory.json')))
      .models;
  }

  return {
    /** Snapshots the inventory, compares it with the fleet's, and lists the models that need a trace. */
    async prepareRepack(input: TraceSettings & { runId: string }): Promise<PrepareRepackResult> {
      let inventory;
      try {
        inventory = await readInventory(artifacts, input.inventory);
      } catch (err) {
        if (err instanceof InventoryError) throw invalid(err.message);
        throw err;
      }
      if (!inventory) {
        throw invalid(
          `the inventory ${input.inventory} does not exist: add models with \`stowage models add <id> <source>\``,
        );
      }
      await artifacts.writeJson(artifactKeys.run(input.runId, 'inventory.json'), {
        models: inventory.models,
      });
      const fleet = await readFleet(input.name);
      const book = await readBook(fleet);
      const toTrace: PrepareRepackResult['toTrace'] = [];
      for (const processor of input.processors) {
        const models = inventory.models.filter(
          (m) => book[m.id]?.[processor]?.fingerprint !== fingerprint(input, m, processor),
        );
        if (models.length === 0) continue;
        const key = artifactKeys.run(input.runId, `to-trace-${processor}.json`);
        await artifacts.writeJson(key, { models });
        toTrace.push({ processor, key, count: models.length });
      }
      return {
        models: inventory.models.length,
        inventoryHash: inventory.sha256,
        inventoryChanged: fleet !== null && fleet.inventoryHash !== inventory.sha256,
        hasFleet: fleet !== null,
        toTrace,
      };
    },

    /**
     * Packs the inventory in stable mode against the fleet's placement (at most `maxMoves` models move),
     * decides whether to roll out, and plans which servers stay, start and go.
     */
    async packRepack(input: PackRepackInput): Promise<PackRepackResult> {
      const models = await snapshot(input.runId);
      const fleet = await readFleet(input.name);
      const ids = new Set(models.map((m) => m.id));
      const book: DemandBook = Object.fromEntries(
        Object.entries(await readBook(fleet)).filter(([id]) => ids.has(id)),
      );
      const byId = new Map(models.map((m) => [m.id, m]));
      const retraced = new Set<string>();
      for await (const batch of readTraceBatches(artifacts, input.traceBatches)) {
        for (const t of batch.traced) {
          const model = byId.get(t.modelId);
          if (!model) continue;
          retraced.add(t.modelId);
          book[t.modelId] = {
            ...book[t.modelId],
            [batch.processor]: {
              fingerprint: fingerprint(input, model, batch.processor),
              memoryGiB: t.demand.memoryGiB,
              compute: t.demand.compute,
              hostMemoryGiB: t.demand.hostMemoryGiB,
              forwardMs: t.demand.forwardMs ?? null,
              expectedRequestsPerSecond: t.demand.expectedRequestsPerSecond,
            },
          };
        }
      }
      const sortedIds = [...ids].sort();
      const demandsHash = sha(sortedIds.map((id) => [id, book[id]])).slice(0, 16);
      const demandsKey = fleetKeys.demands(input.name, demandsHash);
      if (!(await artifacts.exists(demandsKey))) await artifacts.writeJson(demandsKey, book);

      const untraced = sortedIds.filter((id) => !input.processors.some((p) => book[id]?.[p]));
      const catalog = catalogOrThisMachine(input.catalog);
      // This machine's served path, as last probed, when packing for this machine (src/capacity).
      const calibrations = input.catalog
        ? new Map<string, AppliedCalibration>()
        : await latestCalibrations(artifacts, input.processors, LOCAL_INSTANCE_TYPE);
      const previous = fleet ? await artifacts.readJson<Placement>(fleet.placementKey) : undefined;
      const problem = packingProblem({
        catalog,
        models: sortedIds
          .filter((id) => !untraced.includes(id))
          .map((id) => ({
            id,
            demands: Object.fromEntries(
              input.processors
                .filter((p) => book[id]?.[p])
                .map((p) => {
                  const d = book[id][p]!;
                  const demand = {
                    ...d,
                    expectedRequestsPerSecond: d.expectedRequestsPerSecond ?? input.expectedRatePerModel,
                  };
                  return [p, deviceDemand(demand, calibrations.get(p)?.calibration)];
                }),
            ),
          })),
        limits: input.limits,
        previous,
        maxMoves: previous ? input.maxMoves : undefined,
        timeLimitMs: input.packTimeLimitMs,
      });
      if (problem.models.length === 0) {
        throw ApplicationFailure.nonRetryable(
          'no model of the inventory could be traced',
          FailureType.TraceFailed,
        );
      }
      const { placement, placementKey } = await placeProblem(artifacts, problem, {
        reuse: false,
        solve: solveInActivity,
      });

      const typeOf = new Map(catalog.map((t) => [t.name, t]));
      const served = placement.instances.filter((i) => i.devices.some((d) => d.length > 0));
      if (served.length === 0) throw packFailed(placement.unplaced);
      const firstType = typeOf.get(served[0]?.type ?? '') ?? catalog[0];
      const previousIds = new Set(previous?.instances.flatMap((i) => i.devices.flat()) ?? []);
      const placed = placement.instances.flatMap((i) => i.devices.flat());
      const added = placed.filter((id) => !previousIds.has(id)).length;
      const removed = [...previousIds].filter((id) => !ids.has(id)).length;
      const alive = (fleet?.servers ?? []).map((s) => ({ ...s, alive: isServerAlive(s.pid) }));
      const { decision, reason } = decideRepack({
        hasFleet: fleet !== null,
        inventoryChanged: fleet !== null && (removed > 0 || added > 0 || retraced.size > 0),
        costBefore: fleet?.costPerHour ?? null,
        costAfter: placement.costPerHour,
        minSavingsFraction: input.minSavingsFraction,
        deadServers: alive.filter((s) => !s.alive).length,
      });
      const change = planFleetChange(
        alive,
        served.flatMap((i) => i.devices),
        retraced,
      );
      // A rollout may restart nothing (a cheaper type for the same device groups): the state still moves on.
      const rollsOut = decision !== 'no-change';
      const unplaced = [
        ...untraced.map((id) => ({ id, reason: 'not traced (see traceFailures)' })),
        ...placement.unplaced,
      ];
      const result: PackRepackResult = {
        decision,
        reason,
        costBefore: fleet?.costPerHour ?? null,
        costAfter: rollsOut ? placement.costPerHour : (fleet?.costPerHour ?? placement.costPerHour),
        candidateCostPerHour: placement.costPerHour,
        lowerBoundPerHour: placement.lowerBoundPerHour,
        moves: rollsOut ? (decision === 'initial' ? placed.length : (placement.moves ?? 0) + added) : 0,
        added: rollsOut ? added : 0,
        removed: rollsOut ? removed : 0,
        placementKey: rollsOut ? placementKey : (fleet?.placementKey ?? null),
        processor: (firstType?.processor ?? 'cpu') as Processor,
        instanceType: firstType?.name ?? 'unknown',
        start: rollsOut ? change.start : [],
        retire: rollsOut ? change.retire.map((s) => ({ runId: s.deploymentId, device: s.device })) : [],
        keep: rollsOut ? change.keep.length : (fleet?.servers.length ?? 0),
        unplaced: unplaced.slice(0, MAX_LISTED),
        unplacedCount: unplaced.length,
      };
      const plan: RepackPlan = {
        ...result,
        unplaced,
        name: input.name,
        inventory: input.inventory,
        demandsKey,
        keepServers: rollsOut ? change.keep : (fleet?.servers ?? []),
        previous: fleet,
      };
      await artifacts.writeJson(artifactKeys.run(input.runId, 'repack-plan.json'), plan);
      return result;
    },

    /**
     * Writes the fleet's new state (kept servers plus the ones this run started) and the run's record.
     * After "no-change" the servers and placement stay; only the inventory hash and demand book follow
     * the inventory, so an unchanged inventory is recognised next time.
     */
    async commitRepack(input: {
      runId: string;
      inventoryHash: string;
      started: { device: number; url: string; pid: number; models: string[] }[];
      result: Record<string, unknown>;
    }): Promise<{ record: string; fleetState: string }> {
      const plan = await artifacts.readJson<RepackPlan>(artifactKeys.run(input.runId, 'repack-plan.json'));
      const servers: FleetServer[] = [
        ...plan.keepServers,
        ...input.started.map((s) => ({ deploymentId: input.runId, ...s })),
      ];
      const fleetState = fleetKeys.current(plan.name);
      const changed = plan.decision !== 'no-change';
      if (changed || plan.previous) {
        const routingTableKey = changed
          ? artifactKeys.run(input.runId, 'fleet-routing.json')
          : plan.previous!.routingTableKey;
        if (changed) {
          const table: RoutingTable = {
            routes: servers.flatMap((s) => s.models.map((modelId) => ({ modelId, url: s.url }))),
          };
          await artifacts.writeJson(routingTableKey, table);
        }
        const state: FleetState = {
          name: plan.name,
          runId: changed ? input.runId : plan.previous!.runId,
          inventory: plan.inventory,
          inventoryHash: input.inventoryHash,
          placementKey: plan.placementKey!,
          costPerHour: plan.costAfter,
          processor: changed ? plan.processor : plan.previous!.processor,
          instanceType: changed ? plan.instanceType : plan.previous!.instanceType,
          demandsKey: plan.demandsKey,
          routingTableKey,
          servers,
        };
        await artifacts.writeJson(fleetState, state);
      }
      const record = artifactKeys.run(input.runId, 'repack.json');
      await artifacts.writeJson(record, { ...input.result, fleetState: changed ? fleetState : undefined });
      return { record, fleetState };
    },
  };
}
