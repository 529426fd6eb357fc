import assert from 'node:assert/strict';
import type { V1Node } from '@kubernetes/client-node';
import { isNodeReady, NODE_GROUP_LABEL, type NodeLister, waitForNodesReady } from '../../src/aws/node-groups';

function node(name: string, group: string, ready: boolean, unschedulable = false): V1Node {
  return {
    metadata: { name, labels: { [NODE_GROUP_LABEL]: group } },
    spec: { unschedulable },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

/**
 * The node list as an API server would answer it, one answer per call (the last one repeats): the
 * waiting logic alone, without a cluster. test/integration/node-group-activities.test.ts runs it inside
 * a real activity.
 */
function answers(...lists: (V1Node[] | Error)[]): NodeLister & { selectors: (string | undefined)[] } {
  const selectors: (string | undefined)[] = [];
  return {
    selectors,
    async listNode({ labelSelector }) {
      selectors.push(labelSelector);
      const next = lists.length > 1 ? lists.shift()! : lists[0];
      if (next instanceof Error) throw next;
      return { items: next };
    },
  };
}

describe('waiting for a node group’s nodes', () => {
  it('counts only Ready, schedulable nodes that are not being deleted', () => {
    assert.equal(isNodeReady(node('a', 'g', true)), true);
    assert.equal(isNodeReady(node('a', 'g', false)), false);
    assert.equal(isNodeReady(node('a', 'g', true, true)), false, 'cordoned');
    assert.equal(
      isNodeReady({ ...node('a', 'g', true), metadata: { deletionTimestamp: new Date() } }),
      false,
    );
    assert.equal(isNodeReady({ metadata: { name: 'new' } }), false, 'no status yet');
  });

  it('waits until enough nodes of the group are Ready, asking by the EKS node-group label', async () => {
    const api = answers(
      [],
      [node('g-0', 'g', false)],
      [node('g-0', 'g', true), node('g-1', 'g', false)],
      [node('g-0', 'g', true), node('g-1', 'g', true, true)],
      [node('g-0', 'g', true), node('g-1', 'g', true)],
    );
    const polls: number[] = [];
    const ready = await waitForNodesReady(api, 'g', 2, {
      timeoutMs: 30_000,
      intervalMs: 1,
      onPoll: (s) => polls.push(s.ready),
    });
    assert.equal(ready, 2);
    assert.deepEqual(polls, [0, 0, 1, 1, 2]);
    assert.ok(api.selectors.every((s) => s === `${NODE_GROUP_LABEL}=g`));
  });

  it('asks again when the API server fails, and takes the API from a function (token refresh)', async () => {
    const api = answers(new Error('connect ECONNREFUSED'), [node('g-0', 'g', true)]);
    let made = 0;
    const ready = await waitForNodesReady(
      async () => {
        made += 1;
        return api;
      },
      'g',
      1,
      { timeoutMs: 30_000, intervalMs: 1 },
    );
    assert.equal(ready, 1);
    assert.equal(made, 2);
  });

  it('fails at the deadline with how many nodes were Ready and what the API server said last', async () => {
    await assert.rejects(
      waitForNodesReady(answers([node('g-0', 'g', true), node('g-1', 'g', false)]), 'g', 3, {
        timeoutMs: 50,
        intervalMs: 5,
      }),
      /^Error: node group g has 1 of 3 node\(s\) Ready after 0 s$/,
    );
    await assert.rejects(
      waitForNodesReady(answers(new Error('connect ECONNREFUSED 127.0.0.1:6443')), 'g', 1, {
        timeoutMs: 50,
        intervalMs: 5,
      }),
      /has 0 of 1 node\(s\) Ready after 0 s; the API server last answered: connect ECONNREFUSED 127\.0\.0\.1:6443/,
    );
  });

  it('stops when its activity is cancelled', async () => {
    const controller = new AbortController();
    const waiting = waitForNodesReady(answers([]), 'g', 1, {
      timeoutMs: 60_000,
      intervalMs: 5,
      signal: controller.signal,
      onPoll: () => controller.abort(new Error('activity cancelled')),
    });
    await assert.rejects(waiting, /activity cancelled/);
  });
});
