import path from 'node:path';

/** Folders of a checkout. Everything is relative to the project root, never to the caller's cwd. */
export interface ProjectPaths {
  root: string;
  /** Binaries built by setup from the Go module proxy: temporal, k6. */
  toolsBin: string;
  /** Local state: the dev server's SQLite file, logs, process records. */
  state: string;
  /** The artifact store's root: a folder (default .stowage/artifacts) or s3://bucket/prefix. */
  artifacts: string;
  pythonTracer: string;
  python: string;
}

// Compiled files live in dist/src/config; sources in src/config: the root is where package.json is.
const defaultRoot = path.resolve(
  __dirname,
  __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..',
);

export function projectPaths(root = process.env.STOWAGE_ROOT ?? defaultRoot): ProjectPaths {
  const state = process.env.STOWAGE_STATE_DIR ?? path.join(root, '.stowage');
  const pythonTracer = path.join(root, 'python-tracer');
  return {
    root,
    toolsBin: path.join(root, '.tools', 'bin'),
    state,
    artifacts: process.env.STOWAGE_ARTIFACTS ?? path.join(state, 'artifacts'),
    pythonTracer,
    python: path.join(pythonTracer, '.venv', 'bin', 'python'),
  };
}
