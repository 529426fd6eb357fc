import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { projectPaths } from '../../src/config/paths';
import { toolPath } from '../../src/dev/tools';

/** Committed histories of representative runs; replaying them guards workflow determinism. */
export const HISTORIES_DIR = path.join(projectPaths().root, 'test', 'histories');

/**
 * Set STOWAGE_RECORD_HISTORIES=1 to (re)write the histories that tests record. The official CLI writes
 * them, in the same JSON form the Temporal UI downloads (the SDK's own serializer cannot, at this pin).
 */
export function recordHistory(handle: WorkflowHandle, address: string, name: string): void {
  if (process.env.STOWAGE_RECORD_HISTORIES !== '1') return;
  const json = execFileSync(toolPath(projectPaths(), 'temporal'), [
    'workflow',
    'show',
    '--workflow-id',
    handle.workflowId,
    '--address',
    address,
    '--output',
    'json',
  ]);
  // The workflow id travels with the history: workflows that derive child ids from it replay only under it.
  // Stack traces name this checkout's folder: stored histories keep paths relative to the project root.
  const portable = json
    .toString()
    .split(`${projectPaths().root}/`)
    .join('')
    .split(`${os.homedir()}/`)
    .join('~/');
  const withId = { workflowId: handle.workflowId, ...(JSON.parse(portable) as object) };
  fs.writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), `${JSON.stringify(withId, null, 2)}\n`);
}

export interface StoredHistory {
  name: string;
  workflowId: string;
  history: ReturnType<typeof historyFromJSON>;
}

export function storedHistories(): StoredHistory[] {
  return fs
    .readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const { workflowId, ...history } = JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, f), 'utf8')) as {
        workflowId?: string;
      };
      return { name: f, workflowId: workflowId ?? f, history: historyFromJSON(history) };
    });
}

/** Replays every stored history against the current workflow bundle; returns the failures. */
export async function replayStoredHistories(): Promise<{ name: string; error: string }[]> {
  const failures: { name: string; error: string }[] = [];
  const results = Worker.runReplayHistories(
    { workflowsPath: require.resolve('../../workflows') },
    storedHistories().map((s) => ({ workflowId: s.workflowId, history: s.history })),
  );
  for await (const result of results) {
    if (result.error) failures.push({ name: result.workflowId, error: String(result.error) });
  }
  return failures;
}
