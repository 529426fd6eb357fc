import type { ArtifactStore } from '../../src/artifacts/store';
import type { ProjectPaths } from '../../src/config/paths';
import { createMeasureActivities } from './measure';
import { createReportActivities } from './report';
import { createRouteActivities } from './routes';
import { createServerActivities } from './servers';
import { thisMachine } from '../../src/fleet/catalog';

/** Activities of the local runtime and the load tests: servers, routes, k6 steps, the report. */
export function createLoadActivities(paths: ProjectPaths, artifacts: ArtifactStore) {
  return {
    ...createServerActivities(paths, artifacts),
    ...createRouteActivities(artifacts),
    ...createMeasureActivities(paths, artifacts),
    ...createReportActivities(artifacts),
    /** This machine as a packing instance type (src/domain/local-catalog.ts). */
    async describeLocalMachine() {
      return thisMachine();
    },
  };
}
