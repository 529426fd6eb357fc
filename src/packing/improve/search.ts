import type { HighsSolver } from '../highs-worker';
import type { Packing } from '../state';
import { downgrade } from './downgrade';
import { Eliminator } from './eliminate';
import { lnsStep } from './lns';
import { rng } from './random';

const SLICE_MS = 25;
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface SearchReport {
  eliminated: number;
  lnsImprovements: number;
}

/**
 * Improves a packing until `deadline` or until it meets the lower bound: bin elimination while it
 * finds anything, MIP windows once it is exhausted. Works in short slices so the event loop stays live.
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
  const report: SearchReport = { eliminated: 0, lnsImprovements: 0 };
  let lnsFailures = 0;
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
    } else if (await lnsStep(pk, solver, random, deadline, maxMoves)) {
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
