import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** A child process whose output goes to a log file, with a graceful stop that escalates to SIGKILL. */
export class ManagedChild {
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
    readonly logFile: string,
    private readonly logOffset: number,
  ) {
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? null : 0);
        resolve(this.exitCode);
      });
    });
  }

  static spawn(
    name: string,
    command: string,
    args: string[],
    options: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
  ): ManagedChild {
    fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
    const log = fs.openSync(options.logFile, 'a');
    const logOffset = fs.fstatSync(log).size;
    try {
      const proc = spawn(command, args, {
        cwd: options.cwd,
        env: options.env ?? process.env,
        stdio: ['ignore', log, log],
      });
      return new ManagedChild(name, proc, options.logFile, logOffset);
    } finally {
      fs.closeSync(log);
    }
  }

  get pid(): number {
    if (this.proc.pid === undefined) throw new Error(`${this.name} did not start`);
    return this.proc.pid;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** SIGTERM, then SIGKILL after graceMs. Resolves once the process is gone. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.running) this.proc.kill('SIGKILL');
  }

  /** What this run of the process has written (the log file may hold earlier runs too). */
  ownLog(): string {
    try {
      const fd = fs.openSync(this.logFile, 'r');
      try {
        const size = fs.fstatSync(fd).size - this.logOffset;
        const buffer = Buffer.alloc(Math.max(0, size));
        fs.readSync(fd, buffer, 0, buffer.length, this.logOffset);
        return buffer.toString('utf8');
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return '';
    }
  }

  /** The last lines of this run's log, for error messages. */
  logTail(lines = 15): string {
    return this.ownLog().trimEnd().split('\n').slice(-lines).join('\n');
  }
}

/** Polls until check() resolves true, the child dies, or the deadline passes. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  options: { timeoutMs: number; child?: ManagedChild; intervalMs?: number },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (options.child && !options.child.running) {
      throw new Error(
        `${options.child.name} exited before ${what}; its log (${options.child.logFile}) ends with:\n${options.child.logTail()}`,
      );
    }
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 200));
  }
}
