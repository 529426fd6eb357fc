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
    const worker = this.start();
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, request });
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

function solveIn(highs: Highs, request: SolveRequest): SolveResult {
  const m = request.model;
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
  try {
    model.options.set({ output_flag: false, time_limit: Math.max(0.01, request.timeLimitSec) });
    if (m.integrality) model.options.set({ mip_rel_gap: 1e-6 });
    // The relaxations here are sparse and already reduced; presolve costs more than it saves.
    else model.options.set({ presolve: 'off' });
    if (request.cutoff !== undefined) model.options.set({ objective_bound: request.cutoff });
    model.run();
    const status = model.getModelStatus() as number;
    const feasible = Number(model.info.get('primal_solution_status')) === 2;
    const result: SolveResult = { status, objective: model.getObjectiveValue() };
    if (feasible) result.colValue = model.getSolution().colValue;
    if (!m.integrality && Number(model.info.get('dual_solution_status')) === 2)
      result.rowDual = model.getSolution().rowDual;
    if (m.integrality) {
      const bound = Number(model.info.get('mip_dual_bound'));
      if (Number.isFinite(bound)) result.dualBound = bound;
    }
    return result;
  } finally {
    model.dispose();
  }
}

if (!isMainThread && (workerData as { flag?: string } | undefined)?.flag === WORKER_FLAG) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const load = require('highs') as () => Promise<Highs>;
  const ready = load();
  parentPort!.on('message', (msg: { id: number; request: SolveRequest }) => {
    void ready.then((highs) => {
      let result: SolveResult;
      try {
        result = solveIn(highs, msg.request);
      } catch (err) {
        result = { status: -1, objective: NaN, error: err instanceof Error ? err.message : String(err) };
      }
      parentPort!.postMessage({ id: msg.id, result });
    });
  });
}
