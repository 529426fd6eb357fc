import type { TraceModelInput, TraceModelResult } from '../../src/domain/tracing';

/**
 * A stand-in for the Python tracer's traceModel, for measuring orchestration alone (histories, payloads,
 * batching): it returns at once a result of the real one's shape and size, artifact URIs included.
 */
export async function noopTrace(input: TraceModelInput): Promise<TraceModelResult> {
  const prefix = `file:///stowage/artifacts/models/${input.modelId}/cpu/0123456789abcdef0123`;
  return {
    artifact: {
      modelId: input.modelId,
      processor: 'cpu',
      traceKey: '0123456789abcdef0123',
      prefix,
      modelUri: `${prefix}/model.pt`,
      manifestUri: `${prefix}/manifest.json`,
      profileUri: `${prefix}/profile.json`,
    },
    cached: false,
    attempt: 1,
    resumedFrom: null,
    traceSeconds: 0,
    outputCheck: { maxAbsDiff: 0, tolerance: 1e-4, passed: true },
    demand: {
      processor: 'cpu',
      expectedRequestsPerSecond: 1,
      memoryGiB: 0.1,
      compute: 0.01,
      hostMemoryGiB: 0.1,
    },
    graph: {
      key: '0123456789abcdef0123',
      reused: true,
      from: { modelId: 'm-0', traceKey: '0' },
      fallback: null,
    },
  };
}
