import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import Table from 'cli-table3';
import {
  pack,
  PackingInputError,
  typeKey,
  validatePackingProblem,
  type PackingProblem,
  type Placement,
} from '../../packing';

/** The post's best price per model-hour (40 inf1.6xlarge for 3,040 models). */
const POST_PRICE_PER_MODEL_HOUR = 0.015;

async function readInput(source: string): Promise<string> {
  if (source !== '-') return readFile(source, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function formatPlacement(problem: PackingProblem, placement: Placement): string {
  const types = new Map(problem.instanceTypes.map((t) => [typeKey(t), t]));
  const demand = new Map(problem.models.map((m) => [m.id, m.demands]));
  const memFrac = problem.limits?.memoryFraction ?? 0.925;
  const cpuFrac = problem.limits?.computeFraction ?? 0.83;
  const rows = new Map<
    string,
    {
      count: number;
      devices: number;
      models: number;
      mem: number;
      cpu: number;
      host: number;
      cap: [number, number, number];
    }
  >();
  for (const inst of placement.instances) {
    const key = typeKey({ name: inst.type, market: inst.market });
    const t = types.get(key)!;
    const row = rows.get(key) ?? {
      count: 0,
      devices: 0,
      models: 0,
      mem: 0,
      cpu: 0,
      host: 0,
      cap: [0, 0, 0],
    };
    row.count++;
    row.devices += inst.devices.length;
    row.cap[0] += t.device.memoryGiB * memFrac * t.devices;
    row.cap[1] += t.device.compute * cpuFrac * t.devices;
    row.cap[2] += t.hostMemoryGiB ?? 0;
    for (const ids of inst.devices) {
      for (const id of ids) {
        const d = demand.get(id)?.[t.processor];
        row.models++;
        row.mem += d?.memoryGiB ?? 0;
        row.cpu += d?.compute ?? 0;
        row.host += d?.hostMemoryGiB ?? 0;
      }
    }
    rows.set(key, row);
  }
  const pct = (a: number, b: number) => (b > 0 ? `${((100 * a) / b).toFixed(1)}%` : '-');
  const table = new Table({
    head: [
      'instance type',
      'instances',
      'devices',
      'models',
      'memory fill',
      'compute fill',
      'host fill',
      '$/hour',
    ],
    style: { head: [], border: [] },
  });
  for (const [name, r] of rows) {
    const price = types.get(name)!.pricePerHour;
    table.push([
      name,
      r.count,
      r.devices,
      r.models,
      pct(r.mem, r.cap[0]),
      pct(r.cpu, r.cap[1]),
      pct(r.host, r.cap[2]),
      (price * r.count).toFixed(3),
    ]);
  }
  const placed = placement.instances.reduce((s, i) => s + i.devices.reduce((a, d) => a + d.length, 0), 0);
  const gap =
    placement.lowerBoundPerHour > 0
      ? (100 * (placement.costPerHour - placement.lowerBoundPerHour)) / placement.lowerBoundPerHour
      : 0;
  const perModel = placed > 0 ? placement.costPerHour / placed : 0;
  const lines = [
    table.toString(),
    `cost            $${placement.costPerHour.toFixed(3)}/hour for ${placed} models`,
    `lower bound     $${placement.lowerBoundPerHour.toFixed(3)}/hour (gap ${gap.toFixed(2)}%)`,
    `per model-hour  $${perModel.toFixed(4)} (the AWS post: $${POST_PRICE_PER_MODEL_HOUR.toFixed(3)})`,
  ];
  if (placement.moves !== undefined) lines.push(`moves           ${placement.moves}`);
  if (placement.unplaced.length > 0) {
    lines.push(`unplaced        ${placement.unplaced.length}`);
    for (const u of placement.unplaced.slice(0, 10)) lines.push(`  ${u.id}: ${u.reason}`);
  }
  lines.push(`solver          ${placement.stats.algorithm} (${placement.stats.elapsedMs} ms)`);
  return lines.join('\n');
}

/** Invalid input exits 2 with every defect on stderr and nothing on stdout, so pipes never see half a result. */
export function packCommand(): Command {
  return new Command('pack')
    .description('pack models onto instances at minimum $/hour (a PackingProblem JSON file, or - for stdin)')
    .argument('<problem>', 'PackingProblem JSON file, or - to read stdin')
    .option('--json', 'print the placement as one JSON document')
    .option('--time-limit-ms <ms>', 'solver time budget in milliseconds', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1)
        throw new Error(`--time-limit-ms must be a positive integer, got "${v}"`);
      return n;
    })
    .action(async (source: string, flags: { json?: boolean; timeLimitMs?: number }) => {
      const fail = (message: string) => {
        process.stderr.write(`stowage pack: ${message}\n`);
        process.exitCode = 2;
      };
      let raw: unknown;
      try {
        raw = JSON.parse(await readInput(source));
      } catch (err) {
        return fail(
          `cannot read ${source === '-' ? 'stdin' : source}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      if (flags.timeLimitMs !== undefined && typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
        raw = { ...raw, timeLimitMs: flags.timeLimitMs };
      }
      const valid = validatePackingProblem(raw);
      if (!valid.ok) return fail(`invalid packing problem:\n  ${valid.defects.join('\n  ')}`);
      let placement: Placement;
      try {
        placement = await pack(valid.problem);
      } catch (err) {
        if (err instanceof PackingInputError) return fail(err.message);
        throw err;
      }
      process.stdout.write(
        flags.json ? `${JSON.stringify(placement)}\n` : `${formatPlacement(valid.problem, placement)}\n`,
      );
    });
}
