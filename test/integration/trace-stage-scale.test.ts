import assert from 'node:assert/strict';
import type { TraceBatchRecord } from '../../src/domain/pipeline-stages';
import { TRACE_BATCH_SIZE } from '../../workflows/trace-batches';
import { noopTrace } from '../support/noop-tracer';
import { runTraceStage } from '../support/trace-stage-harness';

/**
 * The trace stage at a moderate model count with a no-op tracer (a named stand-in: the orchestration is
 * under test, not tracing): histories stay bounded because models go in batches of child workflows, and
 * model lists travel as a manifest and batch-record references, never whole in one payload.
 */
describe('trace stage at scale: batching keeps histories and payloads bounded', function () {
  this.timeout(300_000);
  const MODELS = TRACE_BATCH_SIZE + 50;

  it(`${MODELS} models: one child per ${TRACE_BATCH_SIZE}, every model traced once, no history grows with N`, async () => {
    const { summary, histories, records } = await runTraceStage({ models: MODELS, traceModel: noopTrace });

    assert.equal(summary.traced, MODELS);
    assert.deepEqual(summary.failed, []);
    const batches = Math.ceil(MODELS / TRACE_BATCH_SIZE);
    assert.equal(summary.batches.length, batches);
    const ids = (records as TraceBatchRecord[]).flatMap((r) => r.traced.map((t) => t.modelId));
    assert.equal(new Set(ids).size, MODELS, 'every model traced exactly once');
    assert.ok((records as TraceBatchRecord[]).every((r) => r.traced.every((t) => t.graphReused === true)));

    const [parent, ...children] = histories;
    assert.equal(children.length, batches);
    // The parent's history grows with the number of batches, not of models: a handful of events per batch.
    assert.ok(parent.events < 24 + 16 * batches, `parent history: ${parent.events} events`);
    for (const child of children) {
      // A child's history is bounded by its batch: about 6 events per trace activity.
      assert.ok(child.events <= 6 * TRACE_BATCH_SIZE + 50, `${child.workflowId}: ${child.events} events`);
    }
    // Each child saves its own batch record: the parent sees keys and counts, not 250 models' results.
    assert.ok(
      parent.largestPayloadBytes < 64 * 1024,
      `parent's largest payload: ${parent.largestPayloadBytes} bytes`,
    );
    const largest = Math.max(...histories.map((h) => h.largestPayloadBytes));
    assert.ok(largest < 512 * 1024, `largest payload ${largest} bytes, far below the 2 MB limit`);
  });
});
