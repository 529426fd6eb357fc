import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { PACK_THREAD_FLAG, type PackJobLimits, type PackOutcome, type ThreadMessage } from './job';

export interface PackPoolOptions {
  /** Packs running at once, one thread each. */
  threads: number;
  /** Packs waiting for a thread; beyond these a pack is refused at once. */
  queue: number;
  /** How long past its time limit (counted from the thread's first look at the body) a pack may take. */
  graceMs: number;
  /** V8 heap of one pack thread; a pack that needs more is stopped, not the API. */
  maxHeapMiB: number;
}

/** Every thread runs and `queue` packs wait: retry after the soonest running pack is due. */
export class PackerBusyError extends Error {
  override name = 'PackerBusyError';
  constructor(readonly retryAfterSeconds: number) {
    super('the packer is busy');
  }
}

/** The pack outgrew its time limit (plus grace) or its heap, and its thread was stopped. */
export class PackingLimitError extends Error {
  override name = 'PackingLimitError';
}

/**
 * The threads `POST /v1/pack` packs in. The API's event loop only moves the request's JSON text to a
 * thread and the placement's JSON text back, so /healthz and every other route answer while packs run.
 * A pack past its deadline or its heap loses its thread (HiGHS threads it started go with it); the pool
 * starts another on demand.
 */
export class PackPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Set<Worker>();
  private readonly waiting: (() => void)[] = [];
  /** When each running pack is due, for Retry-After. */
  private readonly due = new Map<Worker, number>();
  private running = 0;
  private closed = false;

  constructor(private readonly options: PackPoolOptions) {}

  /** Packs the JSON text of a PackingProblem; throws PackerBusyError at once when the pool is full. */
  async pack(text: string, limits: PackJobLimits): Promise<PackOutcome> {
    await this.acquire(limits);
    try {
      return await this.runOn(this.idle.pop() ?? this.spawn(), text, limits);
    } finally {
      this.release();
    }
  }

  /** Stops every thread, running packs included. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.idle, ...this.busy];
    this.idle.length = 0;
    await Promise.all(all.map((w) => w.terminate()));
  }

  private acquire(limits: PackJobLimits): Promise<void> | void {
    if (this.closed) throw new PackerBusyError(1);
    if (this.running < this.options.threads) {
      this.running++;
      return;
    }
    if (this.waiting.length >= this.options.queue) throw new PackerBusyError(this.retryAfter(limits));
    // The slot is handed over by release(), already counted, so no newcomer can take it in between.
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }

  private retryAfter(limits: PackJobLimits): number {
    const soonest = Math.min(...this.due.values(), Date.now() + limits.maxTimeLimitMs + this.options.graceMs);
    return Math.max(1, Math.ceil((soonest - Date.now()) / 1000));
  }

  private spawn(): Worker {
    const worker = new Worker(path.join(__dirname, 'job.js'), {
      workerData: { flag: PACK_THREAD_FLAG },
      resourceLimits: { maxOldGenerationSizeMb: this.options.maxHeapMiB },
    });
    // An idle pack thread never keeps the process alive.
    worker.unref();
    return worker;
  }

  private runOn(worker: Worker, text: string, limits: PackJobLimits): Promise<PackOutcome> {
    this.busy.add(worker);
    return new Promise<PackOutcome>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const arm = (ms: number, why: string) => {
        clearTimeout(timer);
        this.due.set(worker, Date.now() + ms);
        timer = setTimeout(() => settle(() => reject(new PackingLimitError(why)), false), ms);
      };
      const settle = (done: () => void, reusable: boolean) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        this.busy.delete(worker);
        this.due.delete(worker);
        if (reusable && !this.closed) this.idle.push(worker);
        else void worker.terminate();
        done();
      };
      const posted = Date.now();
      const onMessage = (message: ThreadMessage) => {
        if ('started' in message) {
          arm(
            posted + message.started + this.options.graceMs - Date.now(),
            `packing did not finish within its time limit of ${message.started} ms (and ${this.options.graceMs} ms of grace); it was stopped`,
          );
        } else if ('outcome' in message) settle(() => resolve(message.outcome), true);
        else settle(() => reject(new Error(`packing failed: ${message.failed}`)), false);
      };
      const onError = (err: Error & { code?: string }) =>
        settle(
          () =>
            reject(
              err.code === 'ERR_WORKER_OUT_OF_MEMORY'
                ? new PackingLimitError(
                    `packing needed more than its ${this.options.maxHeapMiB} MiB of memory; it was stopped`,
                  )
                : err,
            ),
          false,
        );
      const onExit = (code: number) =>
        settle(
          () => reject(this.closed ? new PackerBusyError(1) : new Error(`the pack thread exited (${code})`)),
          false,
        );
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      // Parsing and validating a body of the largest size take well under a second; the budget covers them.
      arm(
        limits.maxTimeLimitMs + this.options.graceMs,
        `packing did not finish within ${limits.maxTimeLimitMs} ms (and ${this.options.graceMs} ms of grace); it was stopped`,
      );
      worker.postMessage({ text, limits });
    });
  }
}
