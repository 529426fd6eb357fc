import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CreateClusterCommand, CreateNodegroupCommand, EKSClient } from '@aws-sdk/client-eks';
import { CoreV1Api, type V1Node } from '@kubernetes/client-node';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import {
  createNodeGroupActivities,
  type ScaleNodeGroupsResult,
} from '../../activities/kubernetes/node-groups';
import { describeNodeGroups, NODE_GROUP_LABEL, type NodeGroupScaling } from '../../src/aws/node-groups';
import { connectWorker } from '../../src/temporal/connect';
import type { DevStack } from '../../src/dev/stack';
import { testKube } from '../support/kube';
import { moto, type Moto } from '../support/moto';
import { testStack } from '../support/stack';

const ROLE = 'arn:aws:iam::123456789012:role/stowage-test';
const SUBNETS = ['subnet-0a1b2c3d'];
/** Longer than the test workflow's 8 s heartbeat timeout: only heartbeats keep the activity alive meanwhile. */
const JOIN_MS = 20_000;

/**
 * The nodes of the cluster as the test's stand-in for what EKS does after a desired-size change: an
 * instance per missing node joins NotReady and turns Ready JOIN_MS later, labelled with its group as
 * EKS labels them. (The KUBE helper's harness does the same with kwok against a real API server.)
 */
class JoiningNodes {
  private readonly nodes: { group: string; readyAt: number }[] = [];

  add(group: string, count: number, readyAt = Date.now()): void {
    for (let i = 0; i < count; i++) this.nodes.push({ group, readyAt });
  }

  async afterScale(target: NodeGroupScaling): Promise<void> {
    const have = this.nodes.filter((n) => n.group === target.group).length;
    this.add(target.group, Math.max(0, target.desiredSize - have), Date.now() + JOIN_MS);
  }

  async listNode({ labelSelector }: { labelSelector?: string }): Promise<{ items: V1Node[] }> {
    return {
      items: this.nodes
        .filter((n) => labelSelector === `${NODE_GROUP_LABEL}=${n.group}`)
        .map((n, i) => ({
          metadata: { name: `${n.group}-${i}`, labels: { [NODE_GROUP_LABEL]: n.group } },
          status: { conditions: [{ type: 'Ready', status: Date.now() >= n.readyAt ? 'True' : 'False' }] },
        })),
    };
  }
}

describe('node group activities in a real worker (Temporal dev server, moto EKS)', function () {
  this.timeout(300_000);
  let m: Moto;
  let eks: EKSClient;
  let stack: DevStack;
  let connection: NativeConnection;
  let worker: Worker;
  let running: Promise<void>;
  let clusterName: string;
  const nodes = new JoiningNodes();
  const taskQueue = `node-groups-test-${randomBytes(4).toString('hex')}`;

  before(async () => {
    [m, stack] = await Promise.all([moto(), testStack()]);
    eks = new EKSClient({ endpoint: m.endpoint, region: m.region, credentials: m.credentials });
    clusterName = `stowage-${randomBytes(4).toString('hex')}`;
    await eks.send(
      new CreateClusterCommand({
        name: clusterName,
        roleArn: ROLE,
        resourcesVpcConfig: { subnetIds: SUBNETS },
      }),
    );
    for (const [name, type, max] of [
      ['cpu-c5', 'c5.xlarge', 4],
      ['inf-a', 'inf1.6xlarge', 2],
    ] as const) {
      await eks.send(
        new CreateNodegroupCommand({
          clusterName,
          nodegroupName: name,
          nodeRole: ROLE,
          subnets: SUBNETS,
          instanceTypes: [type],
          scalingConfig: { minSize: 1, maxSize: max, desiredSize: 1 },
        }),
      );
      nodes.add(name, 1);
    }
    connection = await connectWorker(stack.temporal);
    worker = await Worker.create({
      connection,
      namespace: stack.temporal.namespace,
      taskQueue,
      workflowsPath: require.resolve('../support/node-group-workflow'),
      activities: createNodeGroupActivities({
        eks,
        kubeApi: () => nodes,
        afterScale: (target) => nodes.afterScale(target),
      }),
    });
    running = worker.run();
  });

  after(async () => {
    worker?.shutdown();
    await running;
    await connection?.close();
  });

  it('scales up, then heartbeats while it waits for the new nodes to be Ready', async () => {
    const handle = await stack.client.workflow.start('scaleNodeGroupsOnce', {
      taskQueue,
      workflowId: `scale-up-${clusterName}`,
      args: [{ clusterName, instances: { 'c5.xlarge': 3, 'inf1.6xlarge': 2 }, direction: 'up' }],
    });
    // While it waits, the pending activity carries the wait's progress as its heartbeat details.
    let seen: { group: string; ready: number; wanted: number } | undefined;
    for (let i = 0; i < 120 && !seen; i++) {
      const pending = (await handle.describe()).raw.pendingActivities?.[0];
      const details = pending?.heartbeatDetails?.payloads?.[0];
      if (details) seen = defaultPayloadConverter.fromPayload(details);
      else await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.deepEqual(seen, { group: 'cpu-c5', ready: 1, wanted: 3 });

    const result: ScaleNodeGroupsResult = await handle.result();
    assert.deepEqual(result.changed, ['cpu-c5', 'inf-a']);
    const groups = await describeNodeGroups(eks, clusterName);
    assert.deepEqual(
      groups.map((g) => [g.name, g.desiredSize]),
      [
        ['cpu-c5', 3],
        ['inf-a', 2],
      ],
    );
    for (const group of ['cpu-c5', 'inf-a']) {
      const { items } = await nodes.listNode({ labelSelector: `${NODE_GROUP_LABEL}=${group}` });
      assert.ok(
        items.every((n) => n.status?.conditions?.[0].status === 'True'),
        `${group} is Ready`,
      );
    }
  });

  it('fails the workflow with a non-retryable NodeGroupAtMax and changes nothing', async () => {
    const before = await describeNodeGroups(eks, clusterName);
    const run = stack.client.workflow.execute('scaleNodeGroupsOnce', {
      taskQueue,
      workflowId: `scale-too-far-${clusterName}`,
      args: [{ clusterName, instances: { 'c5.xlarge': 9 }, direction: 'up' }],
    });
    await assert.rejects(run, (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.ok(err.cause instanceof ActivityFailure);
      const cause = err.cause.cause;
      assert.ok(cause instanceof ApplicationFailure);
      assert.equal(cause.type, 'NodeGroupAtMax');
      assert.equal(cause.nonRetryable, true);
      assert.equal(cause.message, 'node group cpu-c5 is at its max size 4, the placement needs 9');
      return true;
    });
    assert.deepEqual(await describeNodeGroups(eks, clusterName), before);
  });
});

/**
 * The same activity against the test cluster's real kube-apiserver, whose nodes kwok simulates with the
 * labels EKS gives a managed group's nodes: the node count follows moto's desired size asynchronously,
 * as EKS's autoscaling group would, and the activity waits on the real API's Ready conditions.
 */
describe('node group activities against a real API server (kwok nodes, moto EKS)', function () {
  this.timeout(600_000);
  let m: Moto;
  let eks: EKSClient;
  let stack: DevStack;
  let connection: NativeConnection;
  let worker: Worker;
  let running: Promise<void>;
  let clusterName: string;
  const joining: Promise<void>[] = [];
  const group = 'ng-eks-c5';
  const taskQueue = `node-groups-kube-${randomBytes(4).toString('hex')}`;

  before(async () => {
    const [aws, devStack, kube] = await Promise.all([moto(), testStack(), testKube()]);
    [m, stack] = [aws, devStack];
    eks = new EKSClient({ endpoint: m.endpoint, region: m.region, credentials: m.credentials });
    clusterName = `stowage-${randomBytes(4).toString('hex')}`;
    await eks.send(
      new CreateClusterCommand({
        name: clusterName,
        roleArn: ROLE,
        resourcesVpcConfig: { subnetIds: SUBNETS },
      }),
    );
    await eks.send(
      new CreateNodegroupCommand({
        clusterName,
        nodegroupName: group,
        nodeRole: ROLE,
        subnets: SUBNETS,
        instanceTypes: ['c5.xlarge'],
        scalingConfig: { minSize: 0, maxSize: 3, desiredSize: 1 },
      }),
    );
    await kube.addNodeGroup({
      name: group,
      instanceType: 'c5.xlarge',
      count: 1,
      allocatable: { cpu: '3920m', memory: '6900Mi', pods: 58 },
    });
    const core = kube.kubeConfig().makeApiClient(CoreV1Api);
    connection = await connectWorker(stack.temporal);
    worker = await Worker.create({
      connection,
      namespace: stack.temporal.namespace,
      taskQueue,
      workflowsPath: require.resolve('../support/node-group-workflow'),
      activities: createNodeGroupActivities({
        eks,
        kubeApi: () => core,
        // Not awaited, as EKS answers UpdateNodegroupConfig before any instance has joined.
        afterScale: async (target) =>
          void joining.push(kube.scaleNodeGroup(target.group, target.desiredSize)),
      }),
    });
    running = worker.run();
  });

  after(async () => {
    await Promise.allSettled(joining);
    worker?.shutdown();
    await running;
    await connection?.close();
  });

  it('scales the group up and returns once the API server reports its nodes Ready', async () => {
    const result: ScaleNodeGroupsResult = await stack.client.workflow.execute('scaleNodeGroupsOnce', {
      taskQueue,
      workflowId: `scale-kube-${clusterName}`,
      args: [{ clusterName, instances: { 'c5.xlarge': 3 }, direction: 'up', readyTimeoutMs: 300_000 }],
    });
    assert.deepEqual(result.changed, [group]);
    assert.deepEqual(
      result.plan.targets.map((t) => [t.group, t.currentSize, t.desiredSize]),
      [[group, 1, 3]],
    );
    const core = (await testKube()).kubeConfig().makeApiClient(CoreV1Api);
    const { items } = await core.listNode({ labelSelector: `${NODE_GROUP_LABEL}=${group}` });
    assert.equal(items.length, 3);
    assert.ok(
      items.every((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')),
    );
    await Promise.all(joining);
  });
});
