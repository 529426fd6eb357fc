import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../domain/failures';

/** How many unplaced models the failure names; the rest are counted. */
const NAMED = 5;

/**
 * The pack stage's failure when no model fits any instance type: it names the models and why, because
 * the demand behind a misfit is only known from the trace, so this is where a user learns that the
 * catalog cannot hold them. Pure: `pipeline` raises it from workflow code, `repack` from its activity.
 */
export function packFailed(unplaced: { id: string; reason: string }[]): ApplicationFailure {
  const named = unplaced
    .slice(0, NAMED)
    .map((u) => `${u.id}: ${u.reason}`)
    .join('; ');
  const more = unplaced.length > NAMED ? ` (and ${unplaced.length - NAMED} more)` : '';
  return ApplicationFailure.nonRetryable(
    `no model could be placed on any instance type of the catalog: ${named}${more}`,
    FailureType.PackFailed,
  );
}
