import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

/** A linear model in HiGHS' sparse column-wise form; integrality present makes it a MIP. */
export interface LinearModel {
  numCols: number;
  numRows: number;
  colCost: Float64Array;
  colLower: Float64Array;
  colUpper: Float64Array;
  rowLower: Float64Array;
  rowUpper: Float64Array;
  starts: Int32Array;
  indices: Int32Array;
  values: Float64Array;
  integrality?: Int32Array;
}

export interface SolveRequest {
  model: LinearModel;
  timeLimitSec: number;
  /** MIP cutoff: solutions above it are pruned, so 'infeasible' proves nothing cheaper exists. */
  cutoff?: number;
}

export interface SolveResult {
  /** HiGHS model status code (7 optimal, 8 infeasible, 13 time limit, …). */
  status: number;
  objective: number;
  /** The solution, only when HiGHS reports a feasible primal one. */
  colValue?: Float64Array;
  /** For a MIP: the proven lower bound on the objective. */
  dualBound?: number;
  /** For an LP: the row duals, only when HiGHS reports a feasible dual solution. */
  rowDual?: Float64Array;
  error?: string;
}

/** Columns appended to a kept LP, in the same sparse column-wise form as LinearModel. */
export interface ColumnBlock {
  cost: Float64Array;
  lower: Float64Array;
  upper: Float64Array;
  starts: Int32Array;
  indices: Int32Array;
  values: Float64Array;
}

/** An LP kept in the worker (`HighsSolver.openLp`): each solve may first append columns. */
export interface LpSession {
  solve(addColumns: ColumnBlock | undefined, timeLimitSec: number): Promise<SolveResult>;
  close(): Promise<void>;
}

/** Operations on an LP kept in the worker between solves (column generation's master). */
type LpMessage =
  | { session: number; open: LinearModel }
  | { session: number; addColumns?: ColumnBlock; timeLimitSec: number }
  | { session: number; close: true };

export const OPTIMAL = 7;
export const INFEASIBLE = 8;

const WORKER_FLAG = 'stowage-highs-worker';

/**
 * HiGHS (WebAssembly, synchronous) in a worker thread, so a MIP that runs for seconds never blocks the
 * event loop of the CLI, the API server or a Temporal worker. One worker per solver; requests queue.
 */
export class HighsSolver {
  private worker: Worker | undefined;
  private next = 0;
  private readonly pending = new Map<
    number,
    { resolve: (r: SolveResult) => void; reject: (e: Error) => void }
  >();

  solve(request: SolveRequest): Promise<SolveResult> {
    return this.post({ request });
  }

  /**
   * An LP that stays in the worker: every solve appends columns and restarts simplex from the last
   * basis, where rebuilding the model would start from scratch. Close it to free its memory.
   */
  async openLp(model: LinearModel): Promise<LpSession> {
    const session = this.next++;
    const opened = await this.post({ lp: { session, open: model } });
    if (opened.error) throw new Error(`HiGHS could not load the LP: ${opened.error}`);
    return {
      solve: (addColumns, timeLimitSec) => this.post({ lp: { session, addColumns, timeLimitSec } }),
      close: async () => {
        if (this.worker) await this.post({ lp: { session, close: true } });
      },
    };
  }

  private post(message: { request: SolveRequest } | { lp: LpMessage }): Promise<SolveResult> {
    const worker = this.start();
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, ...message });
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(__filename, { workerData: { flag: WORKER_FLAG } });
    worker.unref();
    worker.on('message', (msg: { id: number; result: SolveResult }) => {
      const waiter = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      waiter?.resolve(msg.result);
    });
    const fail = (err: Error) => {
      for (const w of this.pending.values()) w.reject(err);
      this.pending.clear();
      this.worker = undefined;
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (this.pending.size > 0) fail(new Error(`HiGHS worker exited with code ${code}`));
    });
    this.worker = worker;
    return worker;
  }
}

type Highs = import('highs').Highs;

type Model = ReturnType<Highs['createModel']>;

function createModel(highs: Highs, m: LinearModel): Model {
  const model = highs.createModel({
    numCols: m.numCols,
    numRows: m.numRows,
    colCost: m.colCost,
    colLower: m.colLower,
    colUpper: m.colUpper,
    rowLower: m.rowLower,
    rowUpper: m.rowUpper,
    matrix: {
      format: 'csc',
      numRows: m.numRows,
      numCols: m.numCols,
      starts: m.starts,
      indices: m.indices,
      values: m.values,
    },
    ...(m.integrality ? { integrality: m.integrality } : {}),
  });
  model.options.set({ output_flag: false });
  if (m.integrality) model.options.set({ mip_rel_gap: 1e-6 });
  // The relaxations here are sparse and already reduced; presolve costs more than it saves.
  else model.options.set({ presolve: 'off' });
  return model;
}

function run(model: Model, timeLimitSec: number, mip: boolean, cutoff?: number): SolveResult {
  model.options.set({ time_limit: Math.max(0.01, timeLimitSec) });
  if (cutoff !== undefined) model.options.set({ objective_bound: cutoff });
  model.run();
  const status = model.getModelStatus() as number;
  const feasible = Number(model.info.get('primal_solution_status')) === 2;
  const result: SolveResult = { status, objective: model.getObjectiveValue() };
  if (feasible) result.colValue = model.getSolution().colValue;
  if (!mip && Number(model.info.get('dual_solution_status')) === 2)
    result.rowDual = model.getSolution().rowDual;
  if (mip) {
    const bound = Number(model.info.get('mip_dual_bound'));
    if (Number.isFinite(bound)) result.dualBound = bound;
  }
  return result;
}

function solveIn(highs: Highs, request: SolveRequest): SolveResult {
  const model = createModel(highs, request.model);
  try {
    return run(model, request.timeLimitSec, request.model.integrality !== undefined, request.cutoff);
  } finally {
    model.dispose();
  }
}

/** Kept LPs of this worker by session id. */
const sessions = new Map<number, Model>();

function lpIn(highs: Highs, msg: LpMessage): SolveResult {
  if ('open' in msg) {
    sessions.set(msg.session, createModel(highs, msg.open));
    return { status: 0, objective: NaN };
  }
  const model = sessions.get(msg.session);
  if (!model) return { status: -1, objective: NaN, error: `no LP session ${msg.session}` };
  if ('close' in msg) {
    model.dispose();
    sessions.delete(msg.session);
    return { status: 0, objective: NaN };
  }
  const cols = msg.addColumns;
  if (cols && cols.cost.length > 0) {
    const numRows = model.getDimensions().numRows;
    model.addCols({
      cost: cols.cost,
      lower: cols.lower,
      upper: cols.upper,
      matrix: {
        format: 'csc',
        numRows,
        numCols: cols.cost.length,
        starts: cols.starts,
        indices: cols.indices,
        values: cols.values,
      },
    });
  }
  // HiGHS measures time_limit on the model's clock, which keeps running across solves.
  model.zeroAllClocks();
  return run(model, msg.timeLimitSec, false);
}

if (!isMainThread && (workerData as { flag?: string } | undefined)?.flag === WORKER_FLAG) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const load = require('highs') as () => Promise<Highs>;
  const ready = load();
  parentPort!.on('message', (msg: { id: number; request?: SolveRequest; lp?: LpMessage }) => {
    void ready.then((highs) => {
      let result: SolveResult;
      try {
        result = msg.lp ? lpIn(highs, msg.lp) : solveIn(highs, msg.request!);
      } catch (err) {
        result = { status: -1, objective: NaN, error: err instanceof Error ? err.message : String(err) };
      }
      parentPort!.postMessage({ id: msg.id, result });
    });
  });
}
