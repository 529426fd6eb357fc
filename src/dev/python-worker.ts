import type { ProjectPaths } from '../config/paths';
import type { TemporalOptions } from '../config/temporal';
import type { Processor } from '../domain/task-queues';
import { ManagedChild, waitUntil } from './child';
import { pythonPath } from './tools';

export interface PythonWorkerOptions {
  temporal: TemporalOptions;
  /** 'auto' lets the worker serve cpu plus whatever accelerators it detects. */
  processors: Processor[] | 'auto';
  logFile: string;
  /** Extra environment, applied last (an S3 artifact root's endpoint and credentials, for instance). */
  env?: NodeJS.ProcessEnv;
}

export const PYTHON_WORKER_MARKER = 'stowage_tracer';

/** Starts the Python tracer worker and resolves once it polls its task queues. */
export async function startPythonWorker(
  paths: ProjectPaths,
  options: PythonWorkerOptions,
): Promise<ManagedChild> {
  const python = pythonPath(paths);
  const { temporal } = options;
  // Credentials travel by environment, never on the command line where `ps` would show them.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PYTHONUNBUFFERED: '1',
    // The tracer runs from the project root, so sources like ./.stowage/artifacts/sources/x (the examples)
    // resolve the same for every worker; the package itself comes from python-tracer/.
    PYTHONPATH: [paths.pythonTracer, process.env.PYTHONPATH].filter(Boolean).join(':'),
    STOWAGE_ARTIFACTS: paths.artifacts,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    TEMPORAL_TLS: temporal.tls ? 'true' : '',
    TEMPORAL_TLS_CERT: temporal.tlsCertPath ?? '',
    TEMPORAL_TLS_KEY: temporal.tlsKeyPath ?? '',
    TEMPORAL_TLS_CA: temporal.tlsCaPath ?? '',
    TEMPORAL_TLS_SERVER_NAME: temporal.tlsServerName ?? '',
    TEMPORAL_API_KEY: temporal.apiKey ?? '',
    ...options.env,
  };
  const processors = options.processors === 'auto' ? 'auto' : options.processors.join(',');
  const child = ManagedChild.spawn(
    'python tracer worker',
    python,
    ['-m', PYTHON_WORKER_MARKER, 'worker', '--processors', processors, '--exit-with-parent'],
    { logFile: options.logFile, env, cwd: paths.root },
  );
  try {
    await waitUntil(
      'the python tracer worker to poll',
      async () => /"event": ?"worker_ready"/.test(child.ownLog()),
      {
        timeoutMs: 120_000,
        child,
        intervalMs: 250,
      },
    );
  } catch (err) {
    await child.stop(2000);
    throw err;
  }
  return child;
}
