import { serverName } from './names';

/**
 * Which servers a rollout touches. A server is unchanged when a server of that name (same fleet, same
 * model set, same device type) already runs with the same spec hash: applying it again would be a no-op,
 * so the rollout leaves it alone and its resourceVersion stays as it was. Pure and workflow-safe.
 */
export interface ServerState {
  name: string;
  /** Absent for a live object that carries no hash (made by hand, or by an older Stowage). */
  specHash?: string;
}

export interface ServerDiff {
  /** Same name, same spec: never touched. */
  unchanged: string[];
  /** To apply: new names, and existing names whose spec changed (listed in `respecced` too). */
  changed: string[];
  respecced: string[];
  /** Running now, absent from the new placement: deleted once the new servers are ready. */
  retired: string[];
}

export function diffServers(previous: readonly ServerState[], next: readonly ServerState[]): ServerDiff {
  const before = new Map(previous.map((s) => [s.name, s.specHash]));
  const after = new Set(next.map((s) => s.name));
  const diff: ServerDiff = { unchanged: [], changed: [], respecced: [], retired: [] };
  for (const s of next) {
    if (!before.has(s.name)) diff.changed.push(s.name);
    else if (s.specHash !== undefined && before.get(s.name) === s.specHash) diff.unchanged.push(s.name);
    else {
      diff.changed.push(s.name);
      diff.respecced.push(s.name);
    }
  }
  diff.retired = previous.map((s) => s.name).filter((name) => !after.has(name));
  return diff;
}

interface Layout {
  instances: { type: string; devices: string[][] }[];
}

function layoutServers(fleet: string, layout: Layout | undefined): ServerState[] {
  return (layout?.instances ?? []).flatMap((i) =>
    i.devices.filter((d) => d.length > 0).map((models) => ({ name: serverName(fleet, i.type, models) })),
  );
}

/**
 * The diff of two placements by model sets alone (same image and settings assumed): what the rollout of
 * `next` would do to a fleet running `previous`.
 */
export function diffPlacements(fleet: string, previous: Layout | undefined, next: Layout): ServerDiff {
  const withHash = (s: ServerState) => ({ ...s, specHash: s.name });
  return diffServers(layoutServers(fleet, previous).map(withHash), layoutServers(fleet, next).map(withHash));
}

/** Waves of at most `maxUnavailable` servers, in order. */
export function waves<T>(items: readonly T[], maxUnavailable: number): T[][] {
  const size = Math.max(1, Math.floor(maxUnavailable));
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
