/**
 * How a model server uses its device: inference workers (threads that each run one forward pass at a
 * time) and torch intra-op threads per worker, plus the batching it does (python-tracer/stowage_tracer/
 * serving/batching.py).
 *
 * On a CPU device a small model's pass is too short to spread over several cores (the per-layer
 * synchronisation costs more than the layer), so one thread per pass and one pass per core serves the
 * most. A large model's single-thread pass can outlast the latency budget by itself; then each pass gets
 * as many threads as bring it under a quarter of the SLO (leaving the rest for queueing and batching), and
 * the cores are shared among fewer workers. An accelerator runs one pass at a time: one worker.
 */
export interface ServerSettings {
  workers: number;
  /** Torch intra-op threads of each worker. */
  threads: number;
}

/** A forward pass may take this share of the P90 budget; the rest is queueing and batching. */
const FORWARD_SHARE_OF_SLO = 0.25;

export interface ServerSettingsBasis {
  processor: string;
  /** Cores the device's server may use. */
  cores: number;
  /** The slowest of the device's models: its profiled batch-1 forward time; null when unmeasured. */
  heaviestForwardMs: number | null;
  sloP90Ms: number;
}

export function chooseServerSettings(basis: ServerSettingsBasis): ServerSettings {
  const cores = Math.max(1, Math.floor(basis.cores));
  if (basis.processor !== 'cpu') return { workers: 1, threads: 1 };
  const budget = basis.sloP90Ms * FORWARD_SHARE_OF_SLO;
  const forward = basis.heaviestForwardMs;
  const threads = forward && forward > budget ? Math.min(cores, Math.ceil(forward / budget)) : 1;
  return { workers: Math.max(1, Math.floor(cores / threads)), threads };
}

/** The model server's command-line arguments for these settings. */
export function serverSettingsArgs(settings: ServerSettings): string[] {
  return ['--workers', String(settings.workers), '--threads', String(settings.threads)];
}
