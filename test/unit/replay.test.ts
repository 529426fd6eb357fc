import assert from 'node:assert/strict';
import { replayStoredHistories, storedHistories } from '../support/histories';

describe('determinism guard: stored histories replay against the current workflows', function () {
  this.timeout(120_000);

  it('has stored histories to replay', () => {
    assert.ok(storedHistories().length > 0, 'test/histories holds at least one history');
  });

  it('replays every stored history without a determinism error', async () => {
    assert.deepEqual(await replayStoredHistories(), []);
  });
});
