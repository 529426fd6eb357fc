import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { Command } from 'commander';
import Table from 'cli-table3';
import {
  backfillSchedule,
  createRepackSchedule,
  DEFAULT_INVENTORY_KEY,
  deleteSchedule,
  describeSchedule,
  listSchedules,
  parseRepackScheduleSpec,
  pauseSchedule,
  type RepackScheduleSpecJson,
  ScheduleExistsError,
  ScheduleNotFoundError,
  type ScheduleSummary,
  triggerSchedule,
  unpauseSchedule,
} from '../../client/schedules';
import { ConfigError } from '../../config/temporal';
import { DEFAULT_FLEET_NAME } from '../../domain/repack';
import { connectClient } from '../../temporal/connect';
import { addTemporalFlags, temporalOptionsFromFlags, type TemporalFlags } from '../temporal-flags';

/** `stowage schedule …`: Temporal Schedules that run `repack` (src/client/schedules.ts). */

interface JsonFlags extends TemporalFlags {
  json?: boolean;
}

/** Connects, runs, closes; schedule errors a user can act on become one-line messages (exit 1). */
async function withClient(flags: TemporalFlags, body: (client: Client) => Promise<void>): Promise<void> {
  const client = await connectClient(temporalOptionsFromFlags(flags));
  try {
    await body(client);
  } catch (err) {
    if (err instanceof ScheduleNotFoundError || err instanceof ScheduleExistsError) {
      throw new ConfigError(err.message);
    }
    throw err;
  } finally {
    await client.connection.close();
  }
}

function sub(name: string, description: string): Command {
  return addTemporalFlags(new Command(name))
    .description(description)
    .option('--json', 'print one JSON document');
}

function formatSummaries(list: ScheduleSummary[]): string {
  if (list.length === 0) return 'no repack schedule yet: stowage schedule create --every 6h';
  const table = new Table({ head: ['id', 'every', 'state', 'next run', 'last run'] });
  for (const s of list) {
    table.push([
      s.id,
      s.every,
      s.paused ? `paused${s.note ? ` (${s.note})` : ''}` : 'active',
      s.nextRunAt ?? '-',
      s.recentRuns[0] ? `${s.recentRuns[0].workflowId} at ${s.recentRuns[0].startedAt}` : '-',
    ]);
  }
  return table.toString();
}

function done(flags: JsonFlags, json: unknown, text: string): void {
  process.stdout.write(flags.json ? `${JSON.stringify(json)}\n` : `${text}\n`);
}

function parseTime(value: string, flag: string): Date {
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) {
    throw new ConfigError(
      `${flag} ${JSON.stringify(value)} is not a time (use ISO 8601, e.g. 2026-01-31T06:00:00Z)`,
    );
  }
  return time;
}

/** A repack input file: its fields become the schedule's (the spec checks them all). */
function readRepackInput(file: string): Record<string, unknown> & { inventory?: string } {
  const resolved = path.resolve(file);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(resolved, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read the repack input ${resolved}: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`the repack input ${resolved} must be one JSON object`);
  }
  return raw as Record<string, unknown>;
}

interface CreateFlags extends JsonFlags {
  input?: string;
  every: string;
  id?: string;
  name?: string;
  inventory?: string;
  minSavings?: number;
  maxMoves?: number;
  catchupWindow?: string;
  paused?: boolean;
}

export function scheduleCommand(): Command {
  const schedule = new Command('schedule').description(
    'Temporal Schedules that re-pack the fleet as models come and go (workflow type repack)',
  );
  schedule.addCommand(
    sub('create', 'create a schedule that runs repack at a fixed interval (overlapping runs are skipped)')
      .requiredOption('--every <interval>', 'interval: 30s, 5m, 6h, 1d …')
      .option('--id <id>', 'schedule id (default: the fleet name)')
      .option('--name <fleet>', `fleet the runs keep current (default ${DEFAULT_FLEET_NAME})`)
      .option('--inventory <key>', `artifact key of the model inventory (default ${DEFAULT_INVENTORY_KEY})`)
      .option(
        '--min-savings <fraction>',
        'roll out for savings of at least this share (default 0.05)',
        Number,
      )
      .option('--max-moves <n>', 'at most this many placed models change device per run', Number)
      .option(
        '--catchup-window <interval>',
        'how late a run missed during an outage may still start (default 10m)',
      )
      .option('--paused', 'create it paused')
      .option('--input <file>', 'a repack input JSON (examples/repack.local.json) for every run; flags win')
      .action(async (flags: CreateFlags) => {
        const base = flags.input ? readRepackInput(flags.input) : {};
        const spec: RepackScheduleSpecJson = {
          ...base,
          id: flags.id ?? flags.name ?? (typeof base.name === 'string' ? base.name : DEFAULT_FLEET_NAME),
          every: flags.every,
          ...(flags.inventory !== undefined ? { inventory: flags.inventory } : {}),
          ...(flags.catchupWindow !== undefined ? { catchupWindow: flags.catchupWindow } : {}),
          ...(flags.name !== undefined ? { name: flags.name } : {}),
          ...(flags.minSavings !== undefined ? { minSavingsFraction: flags.minSavings } : {}),
          ...(flags.maxMoves !== undefined ? { maxMoves: flags.maxMoves } : {}),
          ...(flags.paused ? { paused: true } : {}),
        };
        parseRepackScheduleSpec(spec); // a typo is reported before any connection is tried
        await withClient(flags, async (client) => {
          const created = await createRepackSchedule(client, spec);
          done(flags, created, `created schedule ${created.id}: repack every ${created.every}`);
        });
      }),
  );
  schedule.addCommand(
    sub('list', 'list the repack schedules').action(async (flags: JsonFlags) => {
      await withClient(flags, async (client) => {
        const list = await listSchedules(client);
        done(flags, list, formatSummaries(list));
      });
    }),
  );
  schedule.addCommand(
    sub('describe', 'one schedule: state, next run, recent runs')
      .argument('<id>', 'schedule id')
      .action(async (id: string, flags: JsonFlags) => {
        await withClient(flags, async (client) => {
          const summary = await describeSchedule(client, id);
          done(flags, summary, formatSummaries([summary]));
        });
      }),
  );
  for (const [name, description, run] of [
    ['pause', 'pause a schedule (no run starts until unpaused)', pauseSchedule],
    ['unpause', 'unpause a schedule', unpauseSchedule],
  ] as const) {
    schedule.addCommand(
      sub(name, description)
        .argument('<id>', 'schedule id')
        .option('--note <text>', 'why (shown by list and in the Temporal UI)')
        .action(async (id: string, flags: JsonFlags & { note?: string }) => {
          await withClient(flags, async (client) => {
            await run(client, id, flags.note);
            done(flags, { id, [`${name}d`]: true }, `${name}d ${id}`);
          });
        }),
    );
  }
  schedule.addCommand(
    sub('trigger', 'run repack now (after the running one, if one is running)')
      .argument('<id>', 'schedule id')
      .action(async (id: string, flags: JsonFlags) => {
        await withClient(flags, async (client) => {
          await triggerSchedule(client, id);
          done(flags, { id, triggered: true }, `triggered ${id}`);
        });
      }),
  );
  schedule.addCommand(
    sub('delete', 'delete a schedule (runs already started go on)')
      .argument('<id>', 'schedule id')
      .action(async (id: string, flags: JsonFlags) => {
        await withClient(flags, async (client) => {
          await deleteSchedule(client, id);
          done(flags, { id, deleted: true }, `deleted ${id}`);
        });
      }),
  );
  schedule.addCommand(
    sub('backfill', 'take the runs the schedule would have taken between two times, now')
      .argument('<id>', 'schedule id')
      .requiredOption('--from <time>', 'start of the range (ISO 8601)')
      .requiredOption('--to <time>', 'end of the range (ISO 8601)')
      .action(async (id: string, flags: JsonFlags & { from: string; to: string }) => {
        const from = parseTime(flags.from, '--from');
        const to = parseTime(flags.to, '--to');
        await withClient(flags, async (client) => {
          await backfillSchedule(client, id, from, to);
          done(
            flags,
            { id, backfilled: { from: from.toISOString(), to: to.toISOString() } },
            `backfilled ${id} from ${from.toISOString()} to ${to.toISOString()}`,
          );
        });
      }),
  );
  return schedule;
}
