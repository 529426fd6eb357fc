import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config/temporal';
import type { ProjectPaths } from '../config/paths';

/** Resolves a binary that setup builds into .tools/bin, with a hint when setup has not run. */
export function toolPath(paths: ProjectPaths, name: 'temporal' | 'k6'): string {
  const file = path.join(paths.toolsBin, name);
  if (!fs.existsSync(file)) {
    throw new ConfigError(
      `${name} is missing from ${paths.toolsBin}: run \`make setup\` (or scripts/setup.sh) first`,
    );
  }
  return file;
}

export function pythonPath(paths: ProjectPaths): string {
  if (!fs.existsSync(paths.python)) {
    throw new ConfigError(
      `the tracer's Python environment is missing (${paths.python}): run \`make setup\` (or scripts/setup.sh) first`,
    );
  }
  return paths.python;
}
