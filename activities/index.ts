import { describeWorker } from './doctor';

/** Clients and settings that activities need; each environment (production, tests) passes its own. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ActivityDeps {}

/** The activities of the `stowage` task queue. */
export function createActivities(_deps: ActivityDeps = {}) {
  return { describeWorker };
}
