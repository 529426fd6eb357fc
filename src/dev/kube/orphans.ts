import fs from 'node:fs';
import path from 'node:path';
import { ProcessRegistry, type ProcessRecord } from '../process-registry';

/**
 * One record file per owning process and cluster (kube-<owner pid>-<n>.json): several test runs may
 * share a registry folder at once, and only the clusters of owners that are gone may be reaped.
 */
let clusters = 0;

export function registryFile(dir: string): string {
  return path.join(dir, `kube-${process.pid}-${clusters++}.json`);
}

export function reapOrphans(dir: string): ProcessRecord[] {
  let files: string[];
  try {
    files = fs.readdirSync(dir).filter((f) => /^kube-\d+-\d+\.json$/.test(f));
  } catch {
    return [];
  }
  const reaped: ProcessRecord[] = [];
  for (const file of files) {
    const owner = Number(file.split('-')[1]);
    if (owner === process.pid || isAlive(owner)) continue;
    reaped.push(...new ProcessRegistry(path.join(dir, file)).reap());
    fs.rmSync(path.join(dir, file), { force: true });
  }
  return reaped;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
