import assert from 'node:assert/strict';
import {
  DNS_1035_LABEL,
  diffPlacements,
  type KubeObject,
  diffServers,
  type FleetSpec,
  ManifestError,
  MAX_SERVER_NAME,
  memoryQuantity,
  renderFleet,
  routingConfigMapName,
  serverName,
  type ServedModel,
  stableHash,
  waves,
} from '../../src/kubernetes';

const SPEC: FleetSpec = {
  fleet: 'demo',
  namespace: 'stowage',
  placementId: '0123456789abcdef',
  images: { inf: 'registry.local/stowage/server-inf:abc', cpu: 'registry.local/stowage/server-cpu:def' },
  nodeGroups: [
    { name: 'inf1-group', instanceType: 'inf1.6xlarge', processor: 'inf' },
    { name: 'c5-group', instanceType: 'c5.xlarge', processor: 'cpu' },
  ],
  progressDeadlineSeconds: 600,
  artifactsRoot: 's3://bucket/stowage',
};

function models(ids: string[]): Map<string, ServedModel> {
  return new Map(
    ids.map((id) => [id, { id, uri: `s3://bucket/stowage/models/${id}/inf/k/`, memoryGiB: 0.75 }]),
  );
}

const ALL = models(['a', 'b', 'c', 'd', 'e']);

interface Container {
  image: string;
  args: string[];
  resources: { requests: Record<string, string | undefined>; limits: Record<string, string | undefined> };
  readinessProbe: { httpGet: unknown };
}
interface DeploymentShape {
  kind: string;
  spec: {
    progressDeadlineSeconds: number;
    strategy: { type: string };
    selector: { matchLabels: Record<string, string> };
    template: {
      spec: {
        nodeSelector: Record<string, string>;
        containers: Container[];
        initContainers: { name: string }[];
      };
    };
  };
}
/** The rendered objects as the shapes these tests read. */
const shape = <T>(object: KubeObject) => object as unknown as T;

describe('kubernetes names', () => {
  it('names a server by fleet, device type and model set, whatever the order of the models', () => {
    assert.equal(
      serverName('demo', 'inf1.6xlarge', ['b', 'a']),
      serverName('demo', 'inf1.6xlarge', ['a', 'b']),
    );
    assert.notEqual(
      serverName('demo', 'inf1.6xlarge', ['a', 'b']),
      serverName('demo', 'inf1.2xlarge', ['a', 'b']),
    );
    assert.notEqual(
      serverName('demo', 'inf1.6xlarge', ['a', 'b']),
      serverName('demo', 'inf1.6xlarge', ['a', 'c']),
    );
    assert.notEqual(serverName('demo', 'inf1.6xlarge', ['a']), serverName('other', 'inf1.6xlarge', ['a']));
    assert.match(serverName('demo', 'inf1.6xlarge', ['a', 'b']), /^demo-inf1-6xlarge-a-[a-z0-9]{10}$/);
  });

  it('bounds long names and keeps them distinct through the hash suffix', () => {
    const long = 'x'.repeat(200);
    const one = serverName('a-fleet-with-a-long-name', 'inf1.24xlarge', [`${long}1`, 'z']);
    const two = serverName('a-fleet-with-a-long-name', 'inf1.24xlarge', [`${long}1`, 'y']);
    for (const name of [one, two]) {
      assert.ok(name.length <= MAX_SERVER_NAME, name);
      assert.match(name, DNS_1035_LABEL);
    }
    assert.notEqual(one, two);
    assert.match(
      serverName('9fleet', 'c5.xlarge', ['0-model']),
      /^s-9fleet/,
      'a Service name starts with a letter',
    );
    assert.ok(routingConfigMapName('demo').length <= 63);
  });

  it('hashes stably (FNV-1a: known value, same across runs)', () => {
    assert.equal(stableHash(''), stableHash(''));
    assert.notEqual(stableHash('a'), stableHash('b'));
    assert.equal(stableHash('', 13), 0xcbf29ce484222325n.toString(36).padStart(13, '0'));
  });
});

describe('kubernetes manifests', () => {
  const layout = {
    instances: [
      { type: 'inf1.6xlarge', devices: [['a', 'b'], ['c']] },
      { type: 'c5.xlarge', devices: [['d']] },
    ],
  };

  it('renders one Deployment and one Service per device in use, pinned to its node group', () => {
    const fleet = renderFleet(SPEC, layout, ALL);
    assert.equal(fleet.servers.length, 3);
    const [first, , cpu] = fleet.servers;
    const deployment = shape<DeploymentShape>(first.deployment);
    assert.equal(deployment.kind, 'Deployment');
    assert.deepEqual(deployment.spec.template.spec.nodeSelector, {
      'eks.amazonaws.com/nodegroup': 'inf1-group',
      'node.kubernetes.io/instance-type': 'inf1.6xlarge',
    });
    const container = deployment.spec.template.spec.containers[0];
    assert.equal(container.image, 'registry.local/stowage/server-inf:abc');
    assert.equal(container.resources.requests['aws.amazon.com/neuron'], '1');
    assert.equal(container.resources.limits['aws.amazon.com/neuron'], '1');
    assert.equal(container.resources.requests.memory, memoryQuantity(0.75 * 2 + 0.5));
    assert.equal(container.resources.requests.memory, '2048Mi');
    assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: 'http' });
    assert.equal(deployment.spec.progressDeadlineSeconds, 600);
    assert.equal(deployment.spec.strategy.type, 'RollingUpdate');
    // One worker per requested core, one torch thread each (the pod requests one core by default).
    assert.deepEqual(container.args, [
      '--models',
      '/etc/stowage/models.json',
      '--workers',
      '1',
      '--threads',
      '1',
    ]);
    const data = shape<{ data: Record<string, string> }>(first.config).data;
    assert.deepEqual(JSON.parse(data['models.json']), {
      models: [
        { modelId: 'a', path: '/var/stowage/models/a' },
        { modelId: 'b', path: '/var/stowage/models/b' },
      ],
    });
    assert.equal(
      data['artifacts.tsv'],
      'a s3://bucket/stowage/models/a/inf/k/\nb s3://bucket/stowage/models/b/inf/k/\n',
    );
    assert.equal(deployment.spec.template.spec.initContainers[0].name, 'fetch-models');
    for (const object of [first.config, first.deployment, first.service, fleet.routingConfigMap]) {
      assert.equal(object.metadata.labels?.['app.kubernetes.io/managed-by'], 'stowage');
      assert.equal(object.metadata.labels?.['stowage.dev/placement'], SPEC.placementId);
      assert.equal(object.metadata.namespace, 'stowage');
    }
    const cpuContainer = shape<DeploymentShape>(cpu.deployment).spec.template.spec.containers[0];
    assert.equal(cpuContainer.image, 'registry.local/stowage/server-cpu:def');
    assert.equal(cpuContainer.resources.requests['nvidia.com/gpu'], undefined);
    assert.equal(cpuContainer.resources.requests['aws.amazon.com/neuron'], undefined);
    assert.deepEqual(
      shape<{ spec: { selector: unknown } }>(first.service).spec.selector,
      deployment.spec.selector.matchLabels,
    );
  });

  it('publishes the routing table of every model through its Service', () => {
    const fleet = renderFleet(SPEC, layout, ALL);
    assert.deepEqual(
      fleet.routingTable.routes.map((r) => r.modelId),
      ['a', 'b', 'c', 'd'],
    );
    assert.match(
      fleet.routingTable.routes[0].url,
      /^http:\/\/demo-inf1-6xlarge-a-[a-z0-9]+\.stowage\.svc\.cluster\.local:8080$/,
    );
    const data = shape<{ data: Record<string, string> }>(fleet.routingConfigMap).data;
    assert.deepEqual(JSON.parse(data['routing.json']), fleet.routingTable);
    assert.equal(JSON.parse(data['placement.json']).placementId, SPEC.placementId);
  });

  it('renders byte-identical servers for the same models whatever the placement id', () => {
    const one = renderFleet(SPEC, layout, ALL).servers[0];
    const two = renderFleet({ ...SPEC, placementId: 'ffffffffffffffff' }, layout, ALL).servers[0];
    assert.equal(one.name, two.name);
    assert.equal(one.specHash, two.specHash);
    const newImage = renderFleet(
      { ...SPEC, images: { ...SPEC.images, inf: 'registry.local/x:new' } },
      layout,
      ALL,
    );
    assert.equal(newImage.servers[0].name, one.name);
    assert.notEqual(newImage.servers[0].specHash, one.specHash, 'a new image changes the spec');
  });

  it('refuses, before anything is applied, a type without a node group, a model without artifact, a processor without image', () => {
    assert.throws(
      () => renderFleet(SPEC, { instances: [{ type: 'g4dn.xlarge', devices: [['a']] }] }, ALL),
      (err: Error) =>
        err instanceof ManifestError && /instance type g4dn.xlarge has no node group/.test(err.message),
    );
    assert.throws(
      () => renderFleet(SPEC, { instances: [{ type: 'inf1.6xlarge', devices: [['a', 'zz']] }] }, ALL),
      /no traced artifact for model\(s\) zz/,
    );
    assert.throws(
      () =>
        renderFleet(
          { ...SPEC, images: { cpu: 'x:y' } },
          { instances: [{ type: 'inf1.6xlarge', devices: [['a']] }] },
          ALL,
        ),
      /no model-server image was built for processor inf/,
    );
  });
});

describe('kubernetes placement diff', () => {
  const before = { instances: [{ type: 'inf1.6xlarge', devices: [['a', 'b'], ['c']] }] };

  it('changes only the devices whose model set changed; a model added touches one server', () => {
    const after = {
      instances: [
        {
          type: 'inf1.6xlarge',
          devices: [
            ['a', 'b'],
            ['c', 'e'],
          ],
        },
      ],
    };
    const diff = diffPlacements('demo', before, after);
    assert.deepEqual(diff.unchanged, [serverName('demo', 'inf1.6xlarge', ['a', 'b'])]);
    assert.deepEqual(diff.changed, [serverName('demo', 'inf1.6xlarge', ['c', 'e'])]);
    assert.deepEqual(diff.retired, [serverName('demo', 'inf1.6xlarge', ['c'])]);
  });

  it('treats the same models on another device type as a new server, and device order as irrelevant', () => {
    const moved = {
      instances: [
        { type: 'inf1.2xlarge', devices: [['c']] },
        { type: 'inf1.6xlarge', devices: [['b', 'a']] },
      ],
    };
    const diff = diffPlacements('demo', before, moved);
    assert.equal(diff.unchanged.length, 1);
    assert.deepEqual(diff.changed, [serverName('demo', 'inf1.2xlarge', ['c'])]);
    assert.equal(diff.retired.length, 1);
  });

  it('re-applies a server whose spec changed under the same name, and one without a hash', () => {
    const diff = diffServers(
      [
        { name: 's1', specHash: 'h1' },
        { name: 's2', specHash: 'h2' },
        { name: 's3' },
        { name: 'old', specHash: 'x' },
      ],
      [
        { name: 's1', specHash: 'h1' },
        { name: 's2', specHash: 'h2-new' },
        { name: 's3', specHash: 'h3' },
        { name: 'new', specHash: 'n' },
      ],
    );
    assert.deepEqual(diff.unchanged, ['s1']);
    assert.deepEqual(diff.changed, ['s2', 's3', 'new']);
    assert.deepEqual(diff.respecced, ['s2', 's3']);
    assert.deepEqual(diff.retired, ['old']);
  });

  it('cuts the changed servers into waves of at most maxUnavailable', () => {
    assert.deepEqual(waves([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
    assert.deepEqual(waves([1, 2], 0), [[1], [2]]);
    assert.deepEqual(waves([], 3), []);
  });
});
