import type { TracerDescribeInput, TracerDescription } from './doctor';
import type { ProfileModelInput, ProfileModelResult, TraceModelInput, TraceModelResult } from './tracing';

/**
 * Activities implemented by the Python tracer worker, called by name across task queues.
 * Only the types live here: the implementation is python-tracer/stowage_tracer/activities.
 */
export interface TracerActivities {
  describeTracer(input: TracerDescribeInput): Promise<TracerDescription>;
  traceModel(input: TraceModelInput): Promise<TraceModelResult>;
  profileModel(input: ProfileModelInput): Promise<ProfileModelResult>;
}
