import type { HighsSolver } from '../highs/worker';
import type { Packing } from '../state';
import { downgrade } from './downgrade';
import { Eliminator } from './eliminate';
import { lnsStep } from './lns';
import { patternWindowStep } from './pattern-window';
import { recreateStep } from './recreate';
import { rng } from './random';

const SLICE_MS = 25;
/** Ruin-and-recreate steps per round, and fruitless rounds before the MIP windows take over. */
const RECREATE_STEPS = 50;
const RECREATE_ROUNDS = 20;
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface SearchReport {
  eliminated: number;
  recreated: number;
  lnsImprovements: number;
}

/**
 * Improves a packing until `deadline` or until it meets the lower bound: bin elimination while it
 * finds anything, then ruin and recreate, then MIP windows (set covering where devices hold few models,
 * the assignment MIP otherwise). Works in short slices so the event loop stays live.
 */
export async function improve(
  pk: Packing,
  bound: number,
  deadline: number,
  solver: HighsSolver,
  maxMoves = Infinity,
): Promise<SearchReport> {
  const random = rng(0x5eed);
  const elim = new Eliminator(pk, random, maxMoves);
  const report: SearchReport = { eliminated: 0, recreated: 0, lnsImprovements: 0 };
  let lnsFailures = 0;
  let recreateFailures = 0;
  const windows = { covering: true };
  const done = () => Date.now() >= deadline || pk.cost() <= bound + 1e-9;
  let stuck = false;
  while (!done()) {
    if (!stuck) {
      const outcome = elim.sweep(Math.min(deadline, Date.now() + SLICE_MS));
      if (outcome === 'improved') {
        report.eliminated++;
        downgrade(pk, maxMoves);
      } else if (outcome === 'exhausted') {
        stuck = true;
      }
    } else if (recreateFailures < RECREATE_ROUNDS) {
      // Ruin and recreate first: cheap, and on large packings it finds what the MIP windows are too
      // small to see. The MIP windows take over once it stops paying.
      if (recreateRound(pk, random, deadline, maxMoves)) {
        report.recreated++;
        downgrade(pk, maxMoves);
        stuck = false;
        recreateFailures = 0;
      } else recreateFailures++;
    } else if (await windowStep(pk, solver, random, deadline, maxMoves, windows)) {
      report.lnsImprovements++;
      downgrade(pk, maxMoves);
      stuck = false;
      lnsFailures = 0;
    } else if (++lnsFailures > 200) {
      break;
    }
    await yieldToLoop();
  }
  pk.dropEmpty();
  return report;
}

/**
 * A set-covering window while they apply, the assignment MIP window otherwise. Whether they apply is the
 * catalog's and the models' shapes (too many device sets), not one window's, so the first refusal ends
 * them for the run instead of paying the enumeration again on every step.
 */
async function windowStep(
  pk: Packing,
  solver: HighsSolver,
  random: () => number,
  deadline: number,
  maxMoves: number,
  windows: { covering: boolean },
): Promise<boolean> {
  if (windows.covering) {
    const covered = await patternWindowStep(pk, solver, random, deadline, maxMoves);
    if (covered !== undefined) return covered;
    windows.covering = false;
  }
  return lnsStep(pk, solver, random, deadline, maxMoves);
}

/** A round of ruin-and-recreate steps; true as soon as one saves money. */
function recreateRound(pk: Packing, random: () => number, deadline: number, maxMoves: number): boolean {
  for (let k = 0; k < RECREATE_STEPS && Date.now() < deadline; k++)
    if (recreateStep(pk, random, maxMoves)) return true;
  return false;
}
