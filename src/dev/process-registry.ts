import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config/temporal';

/**
 * Records the processes a dev stack started, so that a later start can reap what a killed
 * `stowage dev` left behind. A pid is only trusted while its command line still names the program.
 */
export interface ProcessRecord {
  pid: number;
  role: string;
  /** A fragment of the command line that identifies the program (guards against pid reuse). */
  marker: string;
  /**
   * The process that started it, and when that process started (clock ticks since boot, from
   * /proc/<pid>/stat): while the owner lives, the process is in use, not left over. Absent in records
   * written before owners were recorded: those are treated as orphans.
   */
  owner?: { pid: number; startTicks: number };
}

/**
 * Another live process owns the recorded processes: a second stack must not start on the same state
 * (reaping them would kill a run in progress). A configuration error: the CLI says it in one line.
 */
export class RegistryInUseError extends ConfigError {
  constructor(
    readonly file: string,
    readonly records: ProcessRecord[],
  ) {
    const owner = records[0].owner!.pid;
    super(
      `${path.dirname(file)} is in use by a running stowage (pid ${owner}, which started ` +
        records.map((r) => `${r.role} pid ${r.pid}`).join(', ') +
        `): stop it first, or give this run its own state folder (STOWAGE_STATE_DIR) and ports`,
    );
    this.name = 'RegistryInUseError';
  }
}

export class ProcessRegistry {
  constructor(private readonly file: string) {}

  /** Records a process as this process's own. */
  add(record: Omit<ProcessRecord, 'owner'>): void {
    const owner = { pid: process.pid, startTicks: startTicksOf(process.pid) ?? 0 };
    this.write([...this.read().filter((r) => r.pid !== record.pid), { ...record, owner }]);
  }

  remove(pid: number): void {
    this.write(this.read().filter((r) => r.pid !== pid));
  }

  /**
   * Kills every recorded process that is still alive, still the recorded program, and whose owner is
   * gone. Throws RegistryInUseError, killing nothing, when another live process owns any of them.
   */
  reap(): ProcessRecord[] {
    const records = this.read();
    const inUse = records.filter((r) => isAlive(r) && ownerLives(r));
    if (inUse.length > 0) throw new RegistryInUseError(this.file, inUse);
    const reaped = records.filter((r) => isAlive(r) && tryKill(r.pid));
    this.write([]);
    return reaped;
  }

  private read(): ProcessRecord[] {
    try {
      return JSON.parse(fs.readFileSync(this.file, 'utf8')) as ProcessRecord[];
    } catch {
      return [];
    }
  }

  /** Written whole and renamed into place: a process killed mid-write leaves the old list, not half a file. */
  private write(records: ProcessRecord[]): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const partial = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(partial, JSON.stringify(records, null, 2));
    fs.renameSync(partial, this.file);
  }
}

function isAlive(record: ProcessRecord): boolean {
  try {
    return fs.readFileSync(`/proc/${record.pid}/cmdline`, 'utf8').includes(record.marker);
  } catch {
    return false;
  }
}

/** The owner is another process that still runs: same pid and the same start time (pids are reused). */
function ownerLives(record: ProcessRecord): boolean {
  const owner = record.owner;
  if (!owner || owner.pid === process.pid) return false;
  return startTicksOf(owner.pid) === owner.startTicks;
}

/** A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat); undefined if gone. */
function startTicksOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[22 - 3]);
  } catch {
    return undefined;
  }
}

function tryKill(pid: number): boolean {
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}
