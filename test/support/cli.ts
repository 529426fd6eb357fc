import { spawn } from 'node:child_process';
import path from 'node:path';
import { projectPaths } from '../../src/config/paths';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const STOWAGE_BIN = path.join(projectPaths().root, 'bin', 'stowage');

/** Runs the real `stowage` CLI as a user would, in its own process. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [STOWAGE_BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
