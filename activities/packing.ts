import { ApplicationFailure } from '@temporalio/activity';
import { FailureType } from '../src/domain/failures';
import { pack, PackingInputError, type PackingProblem, type Placement } from '../src/packing';
import { heartbeating } from './heartbeat';

/**
 * The packer as the pack stages of `pipeline` and `repack` run it: heartbeating while it searches, and a
 * problem it rejects as input is non-retryable (every attempt would be rejected the same way).
 */
export async function solveInActivity(problem: PackingProblem): Promise<Placement> {
  try {
    return await heartbeating(() => pack(problem), { models: problem.models.length });
  } catch (err) {
    if (err instanceof PackingInputError)
      throw ApplicationFailure.nonRetryable(err.message, FailureType.InvalidInput);
    throw err;
  }
}
