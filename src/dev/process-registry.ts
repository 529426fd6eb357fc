import fs from 'node:fs';
import path from 'node:path';

/**
 * Records the processes a dev stack started, so that a later start can reap what a killed
 * `stowage dev` left behind. A pid is only trusted while its command line still names the program.
 */
export interface ProcessRecord {
  pid: number;
  role: string;
  /** A fragment of the command line that identifies the program (guards against pid reuse). */
  marker: string;
}

export class ProcessRegistry {
  constructor(private readonly file: string) {}

  add(record: ProcessRecord): void {
    this.write([...this.read().filter((r) => r.pid !== record.pid), record]);
  }

  remove(pid: number): void {
    this.write(this.read().filter((r) => r.pid !== pid));
  }

  /** Kills every recorded process that is still alive and still the recorded program. */
  reap(): ProcessRecord[] {
    const reaped = this.read().filter((r) => isAlive(r) && tryKill(r.pid));
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

  private write(records: ProcessRecord[]): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    fs.writeFileSync(this.file, JSON.stringify(records, null, 2));
  }
}

function isAlive(record: ProcessRecord): boolean {
  try {
    return fs.readFileSync(`/proc/${record.pid}/cmdline`, 'utf8').includes(record.marker);
  } catch {
    return false;
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
