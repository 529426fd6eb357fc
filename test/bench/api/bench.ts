/**
 * The API under packing load and hostile input (a benchmark, not a test: it prints figures). Starts an
 * embedded Temporal server and a real `bin/stowage api` process, then
 *   1. /healthz latency alone, and while 8 maximum-size packs (5,000 models × 200 instance types,
 *      timeLimitMs at the cap) are sent at once: P50/P99/max, and how many packs got 200 and 429;
 *   2. the hostile requests of the hardening probe, each with its status, time and reply size, and a
 *      body sent one byte every 5 s (with and without a token) against the default timeouts;
 * and the API's peak RSS throughout.
 *   npx tsc && node dist/test/bench/api/bench.js
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { projectPaths } from '../../../src/config/paths';
import { freePort } from '../../../src/dev/ports';
import { startEmbeddedServer } from '../../../src/dev/temporal-server';

const CONCURRENT_PACKS = 8;
const HEALTH_INTERVAL_MS = 20;

interface Answer {
  status: number;
  ms: number;
  bytes: number;
  contentType: string;
}

function send(port: number, method: string, url: string, token?: string, body?: string): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const req = http.request({ host: '127.0.0.1', port, method, path: url, headers, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          ms: performance.now() - started,
          bytes,
          contentType: String(res.headers['content-type'] ?? ''),
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Deterministic pseudo-random numbers, so every run packs the same problem. */
function lcg(seed: number) {
  let s = seed;
  return () => (s = (s * 1664525 + 1013904223) % 2 ** 32) / 2 ** 32;
}

/** The largest problem POST /v1/pack takes by default: 5,000 models on 200 instance types. */
function maximumProblem(): string {
  const rnd = lcg(7);
  const processors = ['cpu', 'gpu', 'inf'];
  const instanceTypes = Array.from({ length: 200 }, (_, i) => ({
    name: `type-${i}`,
    processor: processors[i % 3],
    pricePerHour: Math.round((0.2 + rnd() * 30) * 1000) / 1000,
    devices: [1, 2, 4, 8, 16, 64][i % 6],
    device: { memoryGiB: [8, 16, 24, 32][i % 4], compute: 1 },
  }));
  const models = Array.from({ length: 5000 }, (_, i) => ({
    id: `m${i}`,
    demands: {
      cpu: { memoryGiB: Math.round((0.2 + rnd() * 3) * 100) / 100, compute: Math.round(rnd() * 60) / 100 },
      inf: { memoryGiB: Math.round((0.2 + rnd() * 2) * 100) / 100, compute: Math.round(rnd() * 40) / 100 },
    },
  }));
  return JSON.stringify({ instanceTypes, models, timeLimitMs: 10_000 });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function latencySummary(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const f = (v: number) => v.toFixed(1);
  return `n=${sorted.length} P50 ${f(percentile(sorted, 50))} ms, P99 ${f(percentile(sorted, 99))} ms, max ${f(sorted[sorted.length - 1])} ms`;
}

interface Probes {
  /** /healthz: the event loop and a round trip to Temporal. */
  health: number[];
  /** An unknown path with a token: the event loop alone (auth, routing, a 404). */
  loop: number[];
  /** /healthz answers other than 200 "reachable". */
  bad: number;
}

async function probeWhile(port: number, token: string, until: () => boolean, minMs = 0): Promise<Probes> {
  const probes: Probes = { health: [], loop: [], bad: 0 };
  const started = Date.now();
  while (!until() || Date.now() - started < minMs) {
    const health = await send(port, 'GET', '/healthz');
    probes.health.push(health.ms);
    if (health.status !== 200) probes.bad++;
    probes.loop.push((await send(port, 'GET', '/v1/no-such-route', token)).ms);
    await new Promise((r) => setTimeout(r, HEALTH_INTERVAL_MS));
  }
  return probes;
}

function printProbes(what: string, probes: Probes): void {
  console.log(`${what}: /healthz ${latencySummary(probes.health)}, non-200: ${probes.bad}`);
  console.log(`${' '.repeat(what.length)}  404 route ${latencySummary(probes.loop)}`);
}

/** A body that promises 1,000 bytes and sends one every 5 s: when does the server hang up, saying what? */
function slowLoris(port: number, token?: string): Promise<{ status: string; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (c: Buffer) => (answer += c.toString()));
    socket.on('error', () => undefined);
    const drip = setInterval(() => socket.write(' '), 5000);
    socket.on('close', () => {
      clearInterval(drip);
      resolve({
        status: answer.split('\r\n')[0] || '(nothing)',
        seconds: (performance.now() - started) / 1000,
      });
    });
    socket.write(
      'POST /v1/pack HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n' +
        (token ? `Authorization: Bearer ${token}\r\n` : '') +
        '\r\n{',
    );
  });
}

function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function startApi(
  temporalAddress: string,
  token: string,
): Promise<{ child: ChildProcess; port: number }> {
  const root = path.resolve(__dirname, '../../../..');
  const child = spawn(
    process.execPath,
    [path.join(root, 'bin/stowage'), 'api', '--port', '0', '--json', '--temporal-address', temporalAddress],
    {
      env: { ...process.env, STOWAGE_API_TOKENS: `bench read ${token}` },
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.once('exit', (code) => reject(new Error(`stowage api exited (${code})`)));
  });
  return { child, port: Number(new URL((JSON.parse(line) as { url: string }).url).port) };
}

/** The requests of the hardening probe: each must answer 4xx problem+json at once. */
function hostileRequests(): { name: string; body: string }[] {
  const type = (devices: number) => ({
    name: 't',
    processor: 'cpu',
    pricePerHour: 1,
    devices,
    device: { memoryGiB: 1, compute: 1 },
  });
  const model = { id: 'm', demands: { cpu: { memoryGiB: 0.5, compute: 0.5 } } };
  const demands: Record<string, unknown> = {};
  for (let i = 0; i < 24_000; i++) demands[`p${i}`] = { memoryGiB: 0.1, compute: 0.1 };
  const amplifier = {
    instanceTypes: Array.from({ length: 200 }, (_, i) => ({
      ...type(1),
      name: `t${i}`,
      processor: `proc-${i}`,
    })),
    models: [{ id: 'm', demands }],
  };
  return [
    {
      name: 'devices 1e8',
      body: JSON.stringify({ instanceTypes: [type(1e8)], models: [model], timeLimitMs: 1000 }),
    },
    {
      name: 'devices 1e7',
      body: JSON.stringify({ instanceTypes: [type(1e7)], models: [model], timeLimitMs: 1000 }),
    },
    { name: '24,000 unknown demand keys (0.9 MB)', body: JSON.stringify(amplifier) },
  ];
}

async function main(): Promise<void> {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-api-bench-'));
  const temporalPort = await freePort();
  const server = await startEmbeddedServer(projectPaths(), {
    port: temporalPort,
    uiPort: await freePort(),
    dbFile: path.join(state, 'temporal.db'),
    namespace: 'default',
    headless: true,
    logFile: path.join(state, 'temporal.log'),
  });
  // A bench cut short (Ctrl-C, a closed pipe) takes its server and its API down with it.
  process.once('exit', () => server.proc.kill('SIGKILL'));
  const token = randomBytes(32).toString('base64url');
  const { child, port } = await startApi(`127.0.0.1:${temporalPort}`, token);
  process.once('exit', () => child.kill('SIGKILL'));
  process.once('SIGINT', () => process.exit(130));
  process.stdout.on('error', () => process.exit(1));
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMiB(child.pid!))), 50);
  try {
    console.log(`API bench on ${os.cpus().length} CPU(s), load average ${os.loadavg()[0].toFixed(2)}`);
    printProbes('alone              ', await probeWhile(port, token, () => true, 3000));

    const problem = maximumProblem();
    let outstanding = CONCURRENT_PACKS;
    const packs = Array.from({ length: CONCURRENT_PACKS }, () =>
      send(port, 'POST', '/v1/pack', token, problem).finally(() => outstanding--),
    );
    const loaded = await probeWhile(port, token, () => outstanding === 0);
    const answers = await Promise.all(packs);
    const count = (status: number) => answers.filter((a) => a.status === status).length;
    printProbes(`during ${CONCURRENT_PACKS} packs     `, loaded);
    console.log(
      `packs (${(problem.length / 1024).toFixed(0)} KiB each): ${count(200)} × 200, ${count(429)} × 429, ` +
        `${answers.length - count(200) - count(429)} other; status/wall ms ${answers.map((a) => `${a.status}/${a.ms.toFixed(0)}`).join(' ')}`,
    );

    for (const hostile of hostileRequests()) {
      const answer = await send(port, 'POST', '/v1/pack', token, hostile.body);
      console.log(
        `hostile: ${hostile.name.padEnd(38)} ${answer.status} ${answer.contentType.split(';')[0]} in ` +
          `${answer.ms.toFixed(0)} ms, ${answer.bytes} B reply to ${hostile.body.length} B`,
      );
    }
    const amplifier = hostileRequests()[2].body;
    const six = await Promise.all(
      Array.from({ length: 6 }, () => send(port, 'POST', '/v1/pack', token, amplifier)),
    );
    console.log(
      `6 × the 0.9 MB body at once: statuses ${six.map((a) => a.status).join(' ')}, ` +
        `${six.reduce((s, a) => s + a.bytes, 0)} B sent back in all, slowest ${Math.max(...six.map((a) => a.ms)).toFixed(0)} ms`,
    );
    const loris = await Promise.all([slowLoris(port, token), slowLoris(port)]);
    console.log(
      `slow body (1 byte / 5 s): with a token "${loris[0].status}" after ${loris[0].seconds.toFixed(1)} s, ` +
        `without "${loris[1].status}" after ${loris[1].seconds.toFixed(1)} s`,
    );
    console.log(`API peak RSS: ${peakRss.toFixed(0)} MiB`);
  } finally {
    clearInterval(sampler);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await server.stop();
    fs.rmSync(state, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
