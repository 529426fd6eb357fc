import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CreateClusterCommand, CreateNodegroupCommand, EKSClient } from '@aws-sdk/client-eks';
import { ApplicationFailure } from '@temporalio/common';
import { createNodeGroupActivities } from '../../activities/kubernetes/node-groups';
import { eksTokenUrl } from '../../src/aws/eks-token';
import { eksKubeConfig, eksKubeConfigSource } from '../../src/aws/kubeconfig';
import {
  applyNodeGroupPlan,
  describeNodeGroups,
  instancesPerType,
  type NodeGroup,
  planNodeGroupSizes,
} from '../../src/aws/node-groups';
import { moto, type Moto } from '../support/moto';

const ROLE = 'arn:aws:iam::123456789012:role/stowage-test';
const SUBNETS = ['subnet-0a1b2c3d', 'subnet-4e5f6a7b'];
const CATALOG = ['c5.xlarge', 'inf1.6xlarge', 'g4dn.xlarge'];

/** A cluster of the test's own in moto's EKS (the only AWS stand-in), with node groups of given limits. */
async function createCluster(
  eks: EKSClient,
  groups: { name: string; instanceTypes: string[]; min: number; max: number; desired: number }[],
): Promise<string> {
  const clusterName = `stowage-${randomBytes(4).toString('hex')}`;
  await eks.send(
    new CreateClusterCommand({
      name: clusterName,
      roleArn: ROLE,
      resourcesVpcConfig: { subnetIds: SUBNETS },
    }),
  );
  for (const g of groups) {
    await eks.send(
      new CreateNodegroupCommand({
        clusterName,
        nodegroupName: g.name,
        nodeRole: ROLE,
        subnets: SUBNETS,
        instanceTypes: g.instanceTypes,
        scalingConfig: { minSize: g.min, maxSize: g.max, desiredSize: g.desired },
      }),
    );
  }
  return clusterName;
}

const FLEET = [
  { name: 'cpu-c5', instanceTypes: ['c5.xlarge'], min: 0, max: 4, desired: 1 },
  { name: 'inf-a', instanceTypes: ['inf1.6xlarge'], min: 1, max: 2, desired: 1 },
  { name: 'inf-b', instanceTypes: ['inf1.6xlarge'], min: 0, max: 3, desired: 0 },
  { name: 'gpu-mixed', instanceTypes: ['g4dn.xlarge', 'g4dn.2xlarge'], min: 0, max: 2, desired: 0 },
  { name: 'system', instanceTypes: ['m5.large'], min: 2, max: 3, desired: 2 },
];

const sizes = (groups: NodeGroup[]) => Object.fromEntries(groups.map((g) => [g.name, g.desiredSize]));

async function rejectsWith(promise: Promise<unknown>, type: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, type);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, message);
    return true;
  });
}

describe('EKS node groups (against moto, the only AWS stand-in)', function () {
  this.timeout(180_000);
  let m: Moto;
  let eks: EKSClient;

  before(async () => {
    m = await moto();
    eks = new EKSClient({ endpoint: m.endpoint, region: m.region, credentials: m.credentials });
  });

  it('describes the node groups with their instance types and limits', async () => {
    const cluster = await createCluster(eks, FLEET);
    const groups = await describeNodeGroups(eks, cluster);
    assert.deepEqual(
      groups.map((g) => [g.name, g.instanceTypes, g.minSize, g.maxSize, g.desiredSize]),
      [
        ['cpu-c5', ['c5.xlarge'], 0, 4, 1],
        ['gpu-mixed', ['g4dn.xlarge', 'g4dn.2xlarge'], 0, 2, 0],
        ['inf-a', ['inf1.6xlarge'], 1, 2, 1],
        ['inf-b', ['inf1.6xlarge'], 0, 3, 0],
        ['system', ['m5.large'], 2, 3, 2],
      ],
    );
  });

  it('scales up to what the placement needs, spilling over groups of one type, within min/max', async () => {
    const cluster = await createCluster(eks, FLEET);
    const placement = {
      instances: [
        ...Array.from({ length: 3 }, () => ({ type: 'c5.xlarge' })),
        ...Array.from({ length: 4 }, () => ({ type: 'inf1.6xlarge' })),
      ],
    };
    const instances = instancesPerType(placement);
    assert.deepEqual(instances, { 'c5.xlarge': 3, 'inf1.6xlarge': 4 });
    const plan = planNodeGroupSizes(await describeNodeGroups(eks, cluster), {
      clusterName: cluster,
      instances,
      catalogTypes: CATALOG,
      direction: 'up',
    });
    assert.deepEqual(
      plan.targets.map((t) => [t.group, t.instanceType, t.currentSize, t.desiredSize]),
      [
        ['cpu-c5', 'c5.xlarge', 1, 3],
        ['inf-a', 'inf1.6xlarge', 1, 2],
        ['inf-b', 'inf1.6xlarge', 0, 2],
      ],
      'the mixed and the non-catalog groups are not Stowage’s to size',
    );
    assert.deepEqual(await applyNodeGroupPlan(eks, plan), ['cpu-c5', 'inf-a', 'inf-b']);
    assert.deepEqual(sizes(await describeNodeGroups(eks, cluster)), {
      'cpu-c5': 3,
      'gpu-mixed': 0,
      'inf-a': 2,
      'inf-b': 2,
      system: 2,
    });
    assert.deepEqual(
      await applyNodeGroupPlan(eks, plan),
      ['cpu-c5', 'inf-a', 'inf-b'],
      'plans are not re-read',
    );
    const again = planNodeGroupSizes(await describeNodeGroups(eks, cluster), {
      clusterName: cluster,
      instances,
      catalogTypes: CATALOG,
      direction: 'up',
    });
    assert.deepEqual(await applyNodeGroupPlan(eks, again), [], 'a second scale-up changes nothing');
  });

  it('never scales down on the way up; scales down to the need (not below min) only when asked', async () => {
    const cluster = await createCluster(eks, FLEET);
    const activities = createNodeGroupActivities({ eks });
    const input = { clusterName: cluster, instances: { 'c5.xlarge': 4 }, catalogTypes: CATALOG };
    // 'down' sets exactly the need: here it raises cpu-c5 to 4 (and, not scaling up, waits for no nodes).
    await activities.scaleNodeGroups({ ...input, direction: 'down' });
    assert.equal(sizes(await describeNodeGroups(eks, cluster))['cpu-c5'], 4);

    const smaller = { ...input, instances: { 'c5.xlarge': 2 } };
    const up = await activities.planNodeGroups({ ...smaller, direction: 'up' });
    assert.deepEqual(
      up.targets.map((t) => [t.group, t.desiredSize]),
      [
        ['cpu-c5', 4],
        ['inf-a', 1],
        ['inf-b', 0],
      ],
    );
    const down = await activities.scaleNodeGroups({ ...smaller, direction: 'down' });
    assert.deepEqual(down.changed, ['cpu-c5']);
    assert.deepEqual(sizes(await describeNodeGroups(eks, cluster)), {
      'cpu-c5': 2,
      'gpu-mixed': 0,
      'inf-a': 1,
      'inf-b': 0,
      system: 2,
    });
  });

  it('refuses an instance type with no node group of its own, naming it, and scales nothing', async () => {
    const cluster = await createCluster(eks, FLEET);
    const before = sizes(await describeNodeGroups(eks, cluster));
    const activities = createNodeGroupActivities({ eks });
    const input = {
      clusterName: cluster,
      instances: { 'c5.xlarge': 2, 'g4dn.xlarge': 1, 'p3.2xlarge': 1 },
      catalogTypes: CATALOG,
    };
    const message =
      /instance types g4dn\.xlarge, p3\.2xlarge have no node group in EKS cluster stowage-[0-9a-f]+ \(node groups: cpu-c5 \[c5\.xlarge\], gpu-mixed \[g4dn\.xlarge, g4dn\.2xlarge\].*a group of several instance types cannot be sized/;
    await rejectsWith(activities.planNodeGroups({ ...input, direction: 'up' }), 'NodeGroupMissing', message);
    await rejectsWith(activities.scaleNodeGroups({ ...input, direction: 'up' }), 'NodeGroupMissing', message);
    assert.deepEqual(sizes(await describeNodeGroups(eks, cluster)), before, 'not even cpu-c5 was scaled');
  });

  it('refuses a need above a node group’s max size, and scales nothing', async () => {
    const cluster = await createCluster(eks, FLEET);
    const before = sizes(await describeNodeGroups(eks, cluster));
    const activities = createNodeGroupActivities({ eks });
    const input = { clusterName: cluster, catalogTypes: CATALOG, direction: 'up' as const };
    await rejectsWith(
      activities.scaleNodeGroups({ ...input, instances: { 'c5.xlarge': 5, 'inf1.6xlarge': 1 } }),
      'NodeGroupAtMax',
      /^node group cpu-c5 is at its max size 4, the placement needs 5$/,
    );
    await rejectsWith(
      activities.planNodeGroups({ ...input, instances: { 'inf1.6xlarge': 6 } }),
      'NodeGroupAtMax',
      /^node groups inf-a, inf-b \(inf1\.6xlarge\) are at their max sizes 2 \+ 3 = 5, the placement needs 6$/,
    );
    assert.deepEqual(sizes(await describeNodeGroups(eks, cluster)), before);
  });

  it('refuses bad input and an unknown cluster before touching anything', async () => {
    const activities = createNodeGroupActivities({ eks });
    await rejectsWith(
      activities.planNodeGroups({ clusterName: 'x', instances: { 'c5.xlarge': -1 }, direction: 'up' }),
      'InvalidInput',
      /\/instances\/c5\.xlarge: Number must be greater than or equal to 0/,
    );
    await rejectsWith(
      activities.planNodeGroups({ clusterName: 'no-such-cluster', instances: {}, direction: 'up' }),
      'EksClusterUnavailable',
      /EKS cluster no-such-cluster does not exist in us-east-1/,
    );
  });

  it('makes a kubeconfig from DescribeCluster: endpoint, CA and a token signed by the EKS client', async () => {
    const cluster = await createCluster(eks, []);
    const { kubeConfig, expiresAt } = await eksKubeConfig({ eks, clusterName: cluster });
    const current = kubeConfig.getCurrentCluster()!;
    assert.match(current.server, /^https:\/\/[^/]+\.eks\.amazonaws\.com\/?$/);
    assert.ok(current.caData && current.caData.length > 100);
    const token = kubeConfig.getCurrentUser()!.token!;
    const url = eksTokenUrl(token);
    assert.equal(url.hostname, 'sts.us-east-1.amazonaws.com');
    assert.match(url.searchParams.get('X-Amz-Credential')!, /^test\/\d{8}\/us-east-1\/sts\/aws4_request$/);
    assert.ok(expiresAt.getTime() > Date.now() + 13 * 60_000);
  });

  it('keeps one kubeconfig until its token is a minute from expiry, then makes a new one', async () => {
    const clusterName = await createCluster(eks, []);
    let clock = Date.parse('2024-05-01T12:00:00Z');
    const source = eksKubeConfigSource({ eks, clusterName, now: () => clock });
    const first = await source();
    clock += 12 * 60_000;
    assert.equal(await source(), first, 'the token still has 2 minutes');
    clock += 60_000 + 1;
    const second = await source();
    assert.notEqual(second, first);
    const signedAt = (k: typeof first) =>
      eksTokenUrl(k.getCurrentUser()!.token!).searchParams.get('X-Amz-Date');
    assert.equal(signedAt(first), '20240501T120000Z');
    assert.equal(signedAt(second), '20240501T121300Z');
  });
});
