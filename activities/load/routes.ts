import fs from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure } from '@temporalio/activity';
import type { ArtifactStore } from '../../src/artifacts/store';
import { artifactKeys } from '../../src/artifacts/keys';
import type { RoutingTable } from '../../src/domain/load-sweep';
import { FailureType } from '../../src/domain/failures';

export interface StagedTable {
  /** Artifact key of the run's routing table (k6 reads it as a file). */
  key: string;
  models: number;
  servers: string[];
}

export interface Unreachable {
  url: string;
  reason: string;
}

/** Asks each server for /models: reachable, and serving the models the table routes to it. */
async function probe(url: string, models: string[]): Promise<Unreachable | undefined> {
  try {
    const res = await fetch(`${url}/models`, { signal: AbortSignal.timeout(5000) });
    if (res.status !== 200) return { url, reason: `GET /models answered ${res.status}` };
    const served = new Set(
      ((await res.json()) as { models: { modelId: string }[] }).models.map((m) => m.modelId),
    );
    const missing = models.filter((m) => !served.has(m));
    if (missing.length > 0) return { url, reason: `does not serve ${missing.slice(0, 5).join(', ')}` };
    const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5000) });
    return ready.status === 200 ? undefined : { url, reason: `not ready (/readyz answered ${ready.status})` };
  } catch (err) {
    const cause = (err as Error & { cause?: { code?: string } }).cause?.code;
    return { url, reason: cause ?? (err as Error).message };
  }
}

export function createRouteActivities(artifacts: ArtifactStore) {
  return {
    /** Writes the routing table as runs/<runId>/routing.json (or reads the one a URI names) and checks it. */
    async stageRoutingTable(input: {
      runId: string;
      routingTable?: RoutingTable;
      uri?: string;
    }): Promise<StagedTable> {
      let table: RoutingTable;
      if (input.routingTable) {
        table = input.routingTable;
      } else {
        try {
          table = await artifacts.readJson<RoutingTable>(artifacts.keyOf(input.uri!));
        } catch (err) {
          throw ApplicationFailure.nonRetryable(
            `cannot read the routing table ${input.uri}: ${(err as Error).message}`,
            FailureType.InvalidInput,
          );
        }
        if (!Array.isArray(table?.routes) || table.routes.length === 0) {
          throw ApplicationFailure.nonRetryable(
            `routing table ${input.uri} has no routes`,
            FailureType.InvalidInput,
          );
        }
      }
      const key = artifactKeys.run(input.runId, 'routing.json');
      await artifacts.writeJson(key, table);
      return {
        key,
        models: table.routes.length,
        servers: [...new Set(table.routes.map((r) => r.url.replace(/\/$/, '')))],
      };
    },

    /** Every server in the table, probed before any load is sent: which cannot serve its routes, and why. */
    async probeRoutes(input: { tableKey: string }): Promise<Unreachable[]> {
      const table = await artifacts.readJson<RoutingTable>(input.tableKey);
      const byServer = new Map<string, string[]>();
      for (const r of table.routes) {
        const url = r.url.replace(/\/$/, '');
        byServer.set(url, [...(byServer.get(url) ?? []), r.modelId]);
      }
      const answers = await Promise.all([...byServer].map(([url, models]) => probe(url, models)));
      return answers.filter((a): a is Unreachable => a !== undefined);
    },
  };
}

/** The local file k6 opens for an artifact key (the local store only; S3 tables are fetched first). */
export async function tableFile(artifacts: ArtifactStore, key: string): Promise<string> {
  const file = fileURLToPath(artifacts.uri(key));
  await fs.access(file);
  return file;
}
