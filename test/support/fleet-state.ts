import fs from 'node:fs';
import path from 'node:path';
import { isAlive } from './processes';

/** What a run left on disk: model servers in `<state>/model-servers.json`, traces under the artifact root. */

export interface RecordedServer {
  runId: string;
  device: number;
  pid: number;
  url: string;
  models: string[];
}

/** The model servers recorded for one run (a pipeline run's workflow id owns its servers). */
export function recordedServers(stateDir: string, runId: string): RecordedServer[] {
  const file = path.join(stateDir, 'model-servers.json');
  if (!fs.existsSync(file)) return [];
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as RecordedServer[]).filter((r) => r.runId === runId);
}

/** Stops model servers a test left running (their pids come from the registry; each is checked first). */
export function killServers(servers: RecordedServer[]): void {
  for (const s of servers) if (isAlive(s.pid)) process.kill(s.pid, 'SIGKILL');
}

/** The trace folders of one model: models/<id>/<processor>/<traceKey>/, one per distinct trace. */
export function traceFolders(artifactsRoot: string, modelId: string, processor = 'cpu'): string[] {
  const dir = path.join(artifactsRoot, 'models', modelId, processor);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => path.join(dir, d.name));
}

/** Polls until `check` holds; the caller's mocha timeout bounds it. */
export async function waitFor(check: () => Promise<boolean> | boolean, intervalMs = 200): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, intervalMs));
}
