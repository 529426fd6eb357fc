import assert from 'node:assert/strict';
import { parsePipelineInput } from '../../src/pipeline/input';

const CATALOG = [
  {
    name: 'inf1.6xlarge',
    processor: 'inf',
    pricePerHour: 1.18,
    devices: 4,
    device: { memoryGiB: 8, compute: 1 },
  },
  {
    name: 'c5.xlarge',
    processor: 'cpu',
    pricePerHour: 0.17,
    devices: 1,
    device: { memoryGiB: 8, compute: 1 },
  },
];

const KUBERNETES = {
  cluster: 'stowage-prod',
  registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com',
  baseImages: { inf: 'public.ecr.aws/neuron/base:1', cpu: 'docker.io/library/python:3.11-slim' },
  nodeGroups: [
    { name: 'inf1-group', instanceType: 'inf1.6xlarge' },
    { name: 'c5-group', instanceType: 'c5.xlarge' },
  ],
  artifactsRoot: 's3://stowage-artifacts/prod',
};

function input(overrides: Record<string, unknown> = {}) {
  return {
    models: [{ id: 'bert-0', source: './models/bert-0' }],
    processors: ['inf', 'cpu'],
    catalog: CATALOG,
    runtime: 'kubernetes',
    kubernetes: KUBERNETES,
    ...overrides,
  };
}

function problems(raw: unknown): string[] {
  const parsed = parsePipelineInput(raw);
  assert.equal(parsed.ok, false, 'the input must be rejected');
  return parsed.ok ? [] : parsed.problems;
}

describe('pipeline input: runtime kubernetes', () => {
  it('accepts the settings and fills their defaults', () => {
    const parsed = parsePipelineInput(input());
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.problems.join('\n'));
    const k = parsed.input.kubernetes!;
    assert.equal(parsed.input.runtime, 'kubernetes');
    assert.equal(k.namespace, 'stowage');
    assert.equal(k.repository, 'stowage/model-server');
    assert.equal(k.maxUnavailable, 1);
    assert.equal(k.progressDeadlineSeconds, 600);
    assert.equal(k.smokeTest, 'k6');
  });

  it('checks names against DNS-1123 and the artifact root, registry and images by shape', () => {
    const found = problems(
      input({
        kubernetes: {
          ...KUBERNETES,
          namespace: 'Prod_NS',
          fleet: '-fleet',
          registry: 'https://ecr',
          artifactsRoot: '/var/artifacts',
          nodeGroups: [{ name: 'Inf1 Group', instanceType: 'inf1.6xlarge' }, KUBERNETES.nodeGroups[1]],
          baseImages: { inf: 'base image; rm -rf /', cpu: KUBERNETES.baseImages.cpu },
          maxUnavailable: 0,
        },
      }),
    );
    for (const pointer of [
      '/kubernetes/namespace:',
      '/kubernetes/fleet:',
      '/kubernetes/registry:',
      '/kubernetes/artifactsRoot:',
      '/kubernetes/nodeGroups/0/name:',
      '/kubernetes/baseImages/inf:',
      '/kubernetes/maxUnavailable:',
    ]) {
      assert.ok(
        found.some((p) => p.startsWith(pointer)),
        `${pointer} is reported:\n${found.join('\n')}`,
      );
    }
  });

  it('refuses an instance type with no node group, a node group for a type not in the catalog, and duplicates', () => {
    const found = problems(
      input({
        kubernetes: {
          ...KUBERNETES,
          nodeGroups: [
            { name: 'inf1-group', instanceType: 'inf1.6xlarge' },
            { name: 'inf1-group', instanceType: 'g4dn.xlarge' },
          ],
        },
      }),
    );
    assert.ok(
      found.includes('/catalog/1: instance type c5.xlarge has no node group in kubernetes.nodeGroups'),
      found.join('\n'),
    );
    assert.ok(
      found.includes('/kubernetes/nodeGroups/1/instanceType: g4dn.xlarge is not in the catalog'),
      found.join('\n'),
    );
    assert.ok(
      found.some((p) => p.startsWith('/kubernetes/nodeGroups/1/name: duplicate')),
      found.join('\n'),
    );
  });

  it('needs the settings, a catalog and a base image per processor; the settings need the runtime', () => {
    assert.ok(
      problems(input({ kubernetes: undefined })).includes(
        '/kubernetes: runtime "kubernetes" needs the kubernetes settings',
      ),
    );
    assert.ok(
      problems(input({ catalog: undefined })).some((p) => p.startsWith('/catalog: runtime "kubernetes"')),
    );
    assert.ok(
      problems(
        input({ kubernetes: { ...KUBERNETES, baseImages: { inf: KUBERNETES.baseImages.inf } } }),
      ).includes('/processors/1: kubernetes.baseImages has no base image for processor "cpu"'),
    );
    assert.ok(
      problems(input({ runtime: 'local' })).includes('/kubernetes: only used with runtime "kubernetes"'),
    );
    assert.ok(problems(input({ runtime: 'docker' })).some((p) => p.startsWith('/runtime:')));
  });
});
