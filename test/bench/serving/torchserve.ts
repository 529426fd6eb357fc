/**
 * Serving benchmark against TorchServe (not a test: it measures, it asserts nothing). Both servers hold the
 * same TorchScript files and take the same load in one run: k6 open-model steps, a random model per
 * request, the knee found by the adaptive search at the workload's P90 limit, then one step at 80% of each
 * knee for its P90 and P99. Memory is the resident set of the server's whole process tree after the load;
 * ready time is from spawn until every model has answered once.
 *
 *   test/bench/serving/run.sh torchserve      (part of `make bench`)
 * TorchServe and its archiver live in a bench-only venv (torchserve-env.sh); Java must be on the PATH.
 * BENCH_STEP_SECONDS (default 6), BENCH_WORKLOADS (default tiny,bert-base).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectPaths } from '../../../src/config/paths';
import { freePort } from '../../../src/dev/ports';
import type { Slo } from '../../../src/domain/knee';
import { chooseServerSettings, serverSettingsArgs } from '../../../src/domain/server-settings';
import { adaptive, buildTracedModels, k6Steps, sequentialMs, type Target } from './harness';

const run = promisify(execFile);
const paths = projectPaths();
const STEP_SECONDS = Number(process.env.BENCH_STEP_SECONDS ?? 6);
const MAX_BATCH = 8;
const WINDOW_MS = 2;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-bench-ts-'));

interface Workload {
  name: string;
  models: string[];
  buildArgs: string[];
  slo: Slo;
}

const WORKLOADS: Workload[] = [
  {
    name: 'tiny',
    models: Array.from({ length: 16 }, (_, i) => `tiny-${i}`),
    buildArgs: ['--sequence-length', '128'],
    slo: { p90Ms: 100, maxErrorRate: 0.001 },
  },
  {
    name: 'bert-base',
    models: Array.from({ length: 4 }, (_, i) => `base-${i}`),
    buildArgs: ['--bert-base', '--sequence-length', '64'],
    slo: { p90Ms: 300, maxErrorRate: 0.001 },
  },
];

interface Row {
  workload: string;
  server: string;
  settings: string;
  kneeRps: number | null;
  kneeP90Ms: number | null;
  at80: { rate: number; p90Ms: number | null; p99Ms: number | null; errorRate: number } | null;
  rssMiB: number;
  readySeconds: number;
}

/** Resident bytes of a process and all its descendants (TorchServe is a JVM plus a Python per worker). */
function treeRss(pid: number): number {
  let total = 0;
  const pending = [pid];
  while (pending.length > 0) {
    const p = pending.pop()!;
    try {
      const status = fs.readFileSync(`/proc/${p}/status`, 'utf8');
      total += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
      for (const task of fs.readdirSync(`/proc/${p}/task`)) {
        const children = fs.readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
        if (children) pending.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      /* gone meanwhile */
    }
  }
  return total;
}

/** Waits until every model answers a prediction; the seconds since `started`. */
async function readyAfter(
  child: ChildProcess,
  url: string,
  models: string[],
  started: number,
): Promise<number> {
  const deadline = Date.now() + 900_000;
  const waiting = new Set(models);
  while (waiting.size > 0) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}), see ${work}`);
    if (Date.now() > deadline) throw new Error(`server at ${url} not ready in 900 s, see ${work}`);
    for (const m of [...waiting]) {
      const ok = await fetch(`${url}/predictions/${m}`, { signal: AbortSignal.timeout(5000) })
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok) waiting.delete(m);
    }
    if (waiting.size > 0) await new Promise((r) => setTimeout(r, 100));
  }
  return (performance.now() - started) / 1000;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(-child.pid!, 'SIGTERM');
  const t = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 15_000);
  await exited;
  clearTimeout(t);
}

interface Started {
  child: ChildProcess;
  url: string;
  settings: string;
  started: number;
}

async function startStowage(w: Workload, folders: Record<string, string>, dir: string): Promise<Started> {
  const spec = path.join(dir, 'models.json');
  fs.writeFileSync(
    spec,
    JSON.stringify({ models: w.models.map((modelId) => ({ modelId, path: folders[modelId] })) }),
  );
  // What the local runtime would choose for one device with this machine's cores and these models.
  const forwardMs = await profileForwardMs(folders[w.models[0]]);
  const settings = chooseServerSettings({
    processor: 'cpu',
    cores: os.availableParallelism(),
    heaviestForwardMs: forwardMs,
    sloP90Ms: w.slo.p90Ms,
  });
  const port = await freePort();
  const started = performance.now();
  const child = spawn(
    paths.python,
    [
      '-m',
      'stowage_tracer',
      'serve',
      '--models',
      spec,
      '--port',
      String(port),
      '--max-batch',
      String(MAX_BATCH),
      '--batch-window-ms',
      String(WINDOW_MS),
      ...serverSettingsArgs(settings),
    ],
    {
      cwd: paths.pythonTracer,
      detached: true,
      stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'server.log'), 'a')],
    },
  );
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    settings: `${settings.workers} workers × ${settings.threads} threads, batch ≤ ${MAX_BATCH}, ${WINDOW_MS} ms (forward ${forwardMs.toFixed(1)} ms)`,
    started,
  };
}

/** One model's batch-1 forward at one thread, measured here (the trace stage's profile stands in). */
async function profileForwardMs(folder: string): Promise<number> {
  const script = [
    'import sys, time, torch',
    'torch.set_num_threads(1)',
    'm = torch.jit.load(sys.argv[1] + "/model.pt").eval()',
    'ids = torch.ones(1, 16, dtype=torch.long); mask = torch.ones(1, 16, dtype=torch.long)',
    'with torch.inference_mode():',
    '    [m(ids, mask) for _ in range(3)]',
    '    t = time.perf_counter(); [m(ids, mask) for _ in range(10)]',
    'print((time.perf_counter() - t) * 100)',
  ].join('\n');
  const { stdout } = await run(paths.python, ['-c', script, folder], { cwd: paths.pythonTracer });
  return Number(stdout.trim());
}

async function startTorchServe(w: Workload, folders: Record<string, string>, dir: string): Promise<Started> {
  const { stdout } = await run(path.join(paths.root, 'test/bench/serving/torchserve-env.sh'), [], {
    maxBuffer: 16 * 2 ** 20,
  });
  const bin = path.dirname(path.resolve(paths.root, stdout.trim()));
  const store = path.join(dir, 'model-store');
  fs.mkdirSync(store, { recursive: true });
  // TorchServe's own batching with the same limits, one single-threaded worker process per model.
  const config = path.join(dir, 'model-config.yaml');
  fs.writeFileSync(
    config,
    `batchSize: ${MAX_BATCH}\nmaxBatchDelay: ${WINDOW_MS}\nminWorkers: 1\nmaxWorkers: 1\nresponseTimeout: 120\nstartupTimeout: 900\n`,
  );
  for (const m of w.models) {
    const f = folders[m];
    await run(path.join(bin, 'torch-model-archiver'), [
      '--model-name',
      m,
      '--version',
      '1.0',
      '--serialized-file',
      path.join(f, 'model.pt'),
      '--handler',
      path.join(paths.pythonTracer, 'bench', 'torchserve_handler.py'),
      '--extra-files',
      `${path.join(f, 'manifest.json')},${path.join(f, 'tokenizer')}`,
      '--config-file',
      config,
      '--export-path',
      store,
      '--archive-format',
      'no-archive',
    ]);
  }
  const [port, management, metrics] = [await freePort(), await freePort(), await freePort()];
  const properties = path.join(dir, 'config.properties');
  fs.writeFileSync(
    properties,
    [
      `inference_address=http://127.0.0.1:${port}`,
      `management_address=http://127.0.0.1:${management}`,
      `metrics_address=http://127.0.0.1:${metrics}`,
      `model_store=${store}`,
      'load_models=all',
      'default_workers_per_model=1',
      'disable_token_authorization=true',
      // 16 worker processes importing torch at once on a busy machine outlast the default 120 s.
      'default_startup_timeout=900',
      // Its host-metrics collector starts a Python process every minute: off, so it takes no CPU from the load.
      'disable_system_metrics=true',
    ].join('\n'),
  );
  const started = performance.now();
  const child = spawn(
    path.join(bin, 'torchserve'),
    ['--start', '--foreground', '--ncs', '--ts-config', properties, '--disable-token-auth'],
    {
      cwd: dir,
      detached: true,
      env: {
        ...process.env,
        PATH: `${bin}:${process.env.PATH}`,
        OMP_NUM_THREADS: '1',
        LOG_LOCATION: dir,
        METRICS_LOCATION: dir,
      },
      stdio: [
        'ignore',
        fs.openSync(path.join(dir, 'torchserve.log'), 'a'),
        fs.openSync(path.join(dir, 'torchserve.log'), 'a'),
      ],
    },
  );
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    settings: `1 worker process × 1 thread per model, batch ≤ ${MAX_BATCH}, ${WINDOW_MS} ms`,
    started,
  };
}

async function measure(
  w: Workload,
  server: string,
  start: () => Promise<Started>,
  log: (s: string) => void,
): Promise<Row> {
  log(`## ${w.name}: ${server}`);
  const s = await start();
  try {
    const readySeconds = await readyAfter(s.child, s.url, w.models, s.started);
    log(
      `  ${s.settings}; ready in ${readySeconds.toFixed(1)} s, ${((await sequentialMs({ url: s.url, models: w.models, work, stepSeconds: STEP_SECONDS })) || 0).toFixed(1)} ms one at a time`,
    );
    const target: Target = { url: s.url, models: w.models, work, stepSeconds: STEP_SECONDS };
    const found = await adaptive(target, w.slo, log);
    let at80: Row['at80'] = null;
    if (found.knee) {
      const rate = Math.max(1, Math.round(found.knee.achievedRate * 0.8 * 10) / 10);
      const [f] = await k6Steps(target, [rate]);
      at80 = { rate, p90Ms: f.p90Ms, p99Ms: f.p99Ms, errorRate: f.errorRate };
      log(
        `  at 80% of the knee (${rate} req/s): P90 ${f.p90Ms?.toFixed(1)} ms, P99 ${f.p99Ms?.toFixed(1)} ms`,
      );
    }
    const rssMiB = treeRss(s.child.pid!) / 2 ** 20;
    return {
      workload: w.name,
      server,
      settings: s.settings,
      kneeRps: found.knee?.achievedRate ?? null,
      kneeP90Ms: found.knee?.p90Ms ?? null,
      at80,
      rssMiB,
      readySeconds,
    };
  } finally {
    await stop(s.child);
  }
}

const fmt = (n: number | null | undefined, digits = 1) =>
  n === null || n === undefined ? '—' : n.toFixed(digits);

async function main(): Promise<void> {
  const lines: string[] = [];
  const log = (s: string) => {
    lines.push(s);
    console.log(s);
  };
  const wanted = (process.env.BENCH_WORKLOADS ?? 'tiny,bert-base').split(',');
  log(
    `# Stowage vs TorchServe (${new Date().toISOString()}, ${os.cpus().length} cores, ${STEP_SECONDS}s steps; load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')})`,
  );
  const rows: Row[] = [];
  for (const w of WORKLOADS.filter((x) => wanted.includes(x.name))) {
    const folders = await buildTracedModels(path.join(work, 'artifacts'), w.models, w.buildArgs);
    for (const [server, start] of [
      ['stowage', (dir: string) => startStowage(w, folders, dir)],
      ['torchserve', (dir: string) => startTorchServe(w, folders, dir)],
    ] as const) {
      const dir = fs.mkdtempSync(path.join(work, `${w.name}-${server}-`));
      try {
        rows.push(await measure(w, server, () => start(dir), log));
      } catch (err) {
        // A server that cannot start or be measured here is a finding of the run, not the end of it.
        log(`  ${server} failed: ${(err as Error).message}`);
        rows.push({
          workload: w.name,
          server,
          settings: `failed: ${(err as Error).message.split('\n')[0]}`,
          kneeRps: null,
          kneeP90Ms: null,
          at80: null,
          rssMiB: 0,
          readySeconds: 0,
        });
      }
    }
  }
  log(
    `\nload average at the end: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  log(
    '| workload | server | settings | knee req/s | P90 at knee ms | P90 / P99 at 80% of knee ms | RSS MiB | ready s |',
  );
  log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    log(
      `| ${r.workload} | ${r.server} | ${r.settings} | ${fmt(r.kneeRps)} | ${fmt(r.kneeP90Ms)} | ${fmt(r.at80?.p90Ms)} / ${fmt(r.at80?.p99Ms)} | ${fmt(r.rssMiB, 0)} | ${fmt(r.readySeconds)} |`,
    );
  }
  for (const name of new Set(rows.map((r) => r.workload))) {
    const [a, b] = [
      rows.find((r) => r.workload === name && r.server === 'stowage'),
      rows.find((r) => r.workload === name && r.server === 'torchserve'),
    ];
    if (a?.kneeRps && b?.kneeRps)
      log(`${name}: stowage / torchserve knee ${(a.kneeRps / b.kneeRps).toFixed(2)}×`);
  }
  const outDir = path.join(paths.state, 'bench');
  fs.mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, `serving-torchserve-${Date.now()}.json`);
  fs.writeFileSync(out, JSON.stringify({ stepSeconds: STEP_SECONDS, rows, log: lines }, null, 2));
  log(`figures: ${out}`);
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
