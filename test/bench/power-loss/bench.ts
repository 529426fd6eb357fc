/**
 * Power-loss trials (a benchmark, not a test: it reports, it asserts nothing). Each trial runs the demo
 * pipeline (examples/pipeline.local.json, 24 small BERT models) on the embedded stack — `stowage dev` and
 * `stowage run` in one process group, state in a folder of its own — SIGKILLs the whole group at a seeded
 * random moment of one stage, starts the same two commands again on the same state and waits for the run.
 * Then it checks what the acceptance asks: the run completed with its report; one live model server per
 * packed device (and no other); nothing left running once `stowage dev` is stopped; and the time the
 * crash added to an uncrashed run of the same input (measured first, on the same machine).
 *
 *   test/bench/power-loss/run.sh                      # POWER_LOSS_TRIALS (default 12), POWER_LOSS_SEED (1)
 *   POWER_LOSS_STAGES=test,report test/bench/power-loss/run.sh   # only these stages
 *   POWER_LOSS_BASELINE=<results.json of an earlier run>          # reuse its uncrashed run
 *
 * Trials cycle through build, trace, pack, deploy, test and report; within its stage a trial waits a
 * random share (up to half) of that stage's duration in the uncrashed run (the report stage, a few milliseconds long,
 * is hit as the load sweep completes). Every trial starts from an empty state: nothing is cached.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { projectPaths } from '../../../src/config/paths';
import { freePort } from '../../../src/dev/ports';
import { makeTinyModels } from '../../../src/dev/tiny-models';
import type { PipelineProgress, StageName } from '../../../src/domain/pipeline';
import { rng } from '../../../src/packing/improve/random';

const paths = projectPaths();
const STAGES: StageName[] = ['build', 'trace', 'pack', 'deploy', 'test', 'report'];
const TRIALS = Number(process.env.POWER_LOSS_TRIALS ?? 12);
const SEED = Number(process.env.POWER_LOSS_SEED ?? 1);
const TARGETS = (process.env.POWER_LOSS_STAGES?.split(',') as StageName[] | undefined) ?? STAGES;
const MODELS = 24;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-power-loss-'));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Launch {
  group: ChildProcess;
  /** Resolves with the run's exit code once `stowage run` is done (the group leader is the run). */
  runExit: Promise<number | null>;
}

/** One trial's state folder, ports and input: the same for the first start and the restart. */
class Trial {
  readonly state: string;
  readonly input: string;
  private launches = 0;

  constructor(
    readonly name: string,
    readonly port: number,
    readonly uiPort: number,
    sources: string,
  ) {
    this.state = path.join(work, name);
    fs.mkdirSync(path.join(this.state, 'artifacts'), { recursive: true });
    fs.cpSync(sources, path.join(this.state, 'artifacts', 'sources'), { recursive: true });
    const example = JSON.parse(
      fs.readFileSync(path.join(paths.root, 'examples', 'pipeline.local.json'), 'utf8'),
    );
    example.models = (example.models as { id: string; source: string }[]).map((m) => ({
      ...m,
      source: path.join(this.state, 'artifacts', 'sources', path.basename(m.source)),
    }));
    this.input = path.join(this.state, 'input.json');
    fs.writeFileSync(this.input, JSON.stringify(example, null, 2));
  }

  /** `stowage dev` in the background, then `stowage run` once it is up: one process group. */
  launch(): Launch {
    const n = ++this.launches;
    const bin = path.join(paths.root, 'bin', 'stowage');
    const devLog = path.join(this.state, `dev-${n}.log`);
    const script = [
      `"${bin}" dev --port ${this.port} --ui-port ${this.uiPort} --processors cpu > "${devLog}" 2>&1 &`,
      `until grep -q 'Ctrl-C stops everything' "${devLog}"; do`,
      `  kill -0 $! 2>/dev/null || exit 90; sleep 0.2`,
      'done',
      `"${bin}" run "${this.input}" --json --temporal-address 127.0.0.1:${this.port} > "${this.state}/run-${n}.json" 2> "${this.state}/run-${n}.err"`,
    ].join('\n');
    const group = spawn('bash', ['-c', script], {
      cwd: paths.root,
      detached: true, // its own process group: the power loss takes exactly this stack
      stdio: 'ignore',
      env: { ...process.env, STOWAGE_STATE_DIR: this.state, STOWAGE_LOG_LEVEL: 'info' },
    });
    const runExit = new Promise<number | null>((resolve) => group.once('exit', (code) => resolve(code)));
    return { group, runExit };
  }

  /** The pid of `stowage dev` from its banner ("pids: stowage worker <pid>, ..."). */
  devPid(launch: number): number | undefined {
    const log = fs.readFileSync(path.join(this.state, `dev-${launch}.log`), 'utf8');
    const match = /pids: stowage worker (\d+)/.exec(log);
    return match ? Number(match[1]) : undefined;
  }

  get lastLaunch(): number {
    return this.launches;
  }

  runResult(launch: number): { workflowId: string; result: { report?: string } } | undefined {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.state, `run-${launch}.json`), 'utf8'));
    } catch {
      return undefined;
    }
  }

  runError(launch: number): string {
    try {
      return fs
        .readFileSync(path.join(this.state, `run-${launch}.err`), 'utf8')
        .trim()
        .split('\n')
        .slice(-3)
        .join(' | ');
    } catch {
      return '';
    }
  }
}

/** Pids of live processes whose command line or environment mention `needle` (the trial's state folder). */
function processesMentioning(needle: string): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const env = fs.readFileSync(`/proc/${entry}/environ`, 'utf8');
      if (cmd.includes(needle) || env.includes(needle)) found.push({ pid: Number(entry), cmd });
    } catch {
      /* gone meanwhile, or not ours to read */
    }
  }
  return found;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function connect(port: number): Promise<Client> {
  for (;;) {
    try {
      return new Client({
        connection: await Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 1000 }),
      });
    } catch {
      await sleep(300);
    }
  }
}

/** The run's progress, or undefined while it has not started or the server is away. */
async function progressOf(
  client: Client,
  workflowId: string | undefined,
): Promise<PipelineProgress | undefined> {
  if (!workflowId) return undefined;
  return client.workflow
    .getHandle(workflowId)
    .query<PipelineProgress>('progress')
    .catch(() => undefined);
}

async function findRunId(client: Client): Promise<string | undefined> {
  for await (const w of client.workflow.list({ query: "WorkflowType = 'pipeline'" })) return w.workflowId;
  return undefined;
}

async function childDone(client: Client, workflowId: string): Promise<boolean> {
  const described = await client.workflow
    .getHandle(workflowId)
    .describe()
    .catch(() => undefined);
  return described?.status.name === 'COMPLETED';
}

interface Outcome {
  trial: string;
  target: StageName | 'none';
  stageAtKill?: string;
  secondsIntoStage?: number;
  completed: boolean;
  report: boolean;
  failure?: string;
  devices: number;
  servers: number;
  leftAfterStop: number;
  seconds: number;
  stageSeconds?: Partial<Record<StageName, number>>;
}

/** Stops `stowage dev` as a user would (SIGTERM) and counts what is still running 5 s later. */
async function stopAndCount(trial: Trial, launch: Launch): Promise<number> {
  const pid = trial.devPid(trial.lastLaunch);
  if (pid) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + 30_000;
  while (groupAlive(launch.group.pid!) && Date.now() < deadline) await sleep(250);
  await sleep(5_000);
  const left = processesMentioning(trial.state);
  for (const p of left) console.log(`    left running: ${p.pid} ${p.cmd.slice(0, 160)}`);
  // Whatever is left is the harness's to clean up, so the next trial starts on an idle machine.
  if (groupAlive(launch.group.pid!)) process.kill(-launch.group.pid!, 'SIGKILL');
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  return left.length;
}

/** Live model servers of the run, by device (their spec files sit under the trial's state). */
function liveServers(trial: Trial, runId: string): number[] {
  return processesMentioning(path.join(trial.state, 'model-servers', runId))
    .filter((p) => p.cmd.includes('stowage_tracer serve'))
    .map((p) => Number(/device-(\d+)\.json/.exec(p.cmd)?.[1] ?? -1));
}

async function runTrial(
  name: string,
  sources: string,
  target: StageName | 'none',
  share: number,
  baseline?: Outcome,
): Promise<Outcome> {
  const trial = new Trial(name, await freePort(), await freePort(), sources);
  const started = Date.now();
  let launch = trial.launch();
  const client = await connect(trial.port);
  let runId: string | undefined;
  let stageAtKill: string | undefined;
  let secondsIntoStage: number | undefined;
  const entered: Partial<Record<StageName, number>> = {};
  const stageSeconds: Partial<Record<StageName, number>> = {};
  let last: string | undefined;
  let killed = false;
  const stageLength = (s: StageName) => baseline?.stageSeconds?.[s] ?? 1;
  while (!killed) {
    const exited = await Promise.race([launch.runExit.then(() => true), sleep(100).then(() => false)]);
    if (exited) break;
    runId ??= await findRunId(client).catch(() => undefined);
    const progress = await progressOf(client, runId);
    if (!progress) continue;
    const stage = progress.stage as StageName;
    if (stage !== last) {
      if (last && entered[last as StageName])
        stageSeconds[last as StageName] = (Date.now() - entered[last as StageName]!) / 1000;
      if (STAGES.includes(stage)) entered[stage] = Date.now();
      last = stage;
    }
    if (target === 'none') continue;
    const since = entered[target] !== undefined ? (Date.now() - entered[target]!) / 1000 : 0;
    let fire = false;
    let at: string = stage;
    if (target === 'report') {
      // The report stage lasts milliseconds: it is hit as the load sweep that precedes it completes.
      fire = stage === 'report' || (stage === 'test' && (await childDone(client, `${runId}-test`)));
      if (fire && stage === 'test') at = 'test→report';
    } else if (stage === target) {
      fire = since >= share * stageLength(target);
    } else {
      fire = entered[target] !== undefined; // the stage ended between two looks: the next one is hit
    }
    if (fire) {
      process.kill(-launch.group.pid!, 'SIGKILL');
      killed = true;
      stageAtKill = at;
      secondsIntoStage = stage === target ? Math.round(since * 10) / 10 : undefined;
    }
  }
  if (killed) {
    await launch.runExit;
    const gone = Date.now() + 10_000;
    while (processesMentioning(trial.state).length > 0 && Date.now() < gone) await sleep(100);
    for (const p of processesMentioning(trial.state))
      console.log(`    survived the power loss: ${p.pid} ${p.cmd.slice(0, 160)}`);
    launch = trial.launch();
  }
  const code = await launch.runExit;
  const seconds = (Date.now() - started) / 1000;
  const result = trial.runResult(trial.lastLaunch);
  runId ??= result?.workflowId;
  const reportFile = result?.result.report?.replace(/^file:\/\//, '');
  const devices = (await progressOf(client, runId))?.stages.deploy.done ?? 0;
  const servers = runId ? liveServers(trial, runId) : [];
  const unique = new Set(servers);
  await client.connection.close();
  const outcome: Outcome = {
    trial: name,
    target,
    stageAtKill,
    secondsIntoStage,
    completed: code === 0 && result !== undefined,
    report: reportFile !== undefined && fs.existsSync(reportFile),
    failure: code === 0 ? undefined : trial.runError(trial.lastLaunch),
    devices,
    servers: unique.size === servers.length ? servers.length : -servers.length,
    leftAfterStop: await stopAndCount(trial, launch),
    seconds: Math.round(seconds),
    stageSeconds: target === 'none' ? stageSeconds : undefined,
  };
  if (!process.env.POWER_LOSS_KEEP) fs.rmSync(trial.state, { recursive: true, force: true });
  return outcome;
}

function line(o: Outcome, baseline?: Outcome): string {
  const added = baseline
    ? `${o.seconds - baseline.seconds >= 0 ? '+' : ''}${o.seconds - baseline.seconds} s`
    : '';
  return [
    o.trial.padEnd(9),
    `target ${o.target.padEnd(6)}`,
    `killed in ${(o.stageAtKill ?? '-').padEnd(11)}${o.secondsIntoStage !== undefined ? ` +${o.secondsIntoStage}s` : ''}`.padEnd(
      28,
    ),
    o.completed ? 'completed' : `FAILED (${o.failure})`,
    `report ${o.report ? 'yes' : 'NO'}`,
    `servers ${o.servers}/${o.devices}`,
    `left after stop ${o.leftAfterStop}`,
    `${o.seconds} s ${added}`,
  ].join('  ');
}

async function main(): Promise<void> {
  console.log(
    `power-loss trials: ${TRIALS} trial(s), seed ${SEED}, stages ${TARGETS.join(',')}; work in ${work}`,
  );
  const sources = path.join(work, 'sources');
  await makeTinyModels(paths, { out: sources, count: MODELS });
  const rand = rng(SEED);
  const earlier = process.env.POWER_LOSS_BASELINE;
  const baseline = earlier
    ? (JSON.parse(fs.readFileSync(earlier, 'utf8')) as Outcome[]).find((o) => o.target === 'none')!
    : await runTrial('baseline', sources, 'none', 0);
  console.log(line(baseline));
  console.log(`  uncrashed stage seconds: ${JSON.stringify(baseline.stageSeconds)}`);
  const outcomes: Outcome[] = [baseline];
  for (let i = 0; i < TRIALS; i++) {
    const target = TARGETS[i % TARGETS.length];
    const outcome = await runTrial(
      `trial-${String(i + 1).padStart(2, '0')}`,
      sources,
      target,
      rand() * 0.5,
      baseline,
    );
    outcomes.push(outcome);
    console.log(line(outcome, baseline));
  }
  // A second uncrashed run at the end shows how much the machine's load moved the yardstick meanwhile.
  const second = earlier ? undefined : await runTrial('baseline2', sources, 'none', 0);
  if (second) {
    outcomes.push(second);
    console.log(line(second, baseline));
  }
  const crashed = outcomes.filter((o) => o.target !== 'none');
  const ok = crashed.filter(
    (o) =>
      o.completed &&
      o.report &&
      o.servers === o.devices &&
      o.leftAfterStop === 0 &&
      o.seconds - baseline.seconds <= 90,
  );
  console.log(
    `\n${ok.length}/${crashed.length} trials met every criterion (completed with report, one server per device, ` +
      `nothing left after stop, ≤ 90 s added); uncrashed runs: ${[baseline, second]
        .map((o) => o && `${o.seconds} s`)
        .filter(Boolean)
        .join(' and ')}`,
  );
  fs.writeFileSync(path.join(work, 'results.json'), JSON.stringify(outcomes, null, 2));
  console.log(`results: ${path.join(work, 'results.json')}`);
  if (!process.env.POWER_LOSS_KEEP) fs.rmSync(sources, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
