import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { ArtifactChecksumError, S3ArtifactStore } from '../../src/artifacts/s3-store';
import { projectPaths } from '../../src/config/paths';
import { openArtifactStore } from '../../src/artifacts/store';
import { artifactStoreContract } from '../support/artifact-store-contract';
import { moto, type Moto } from '../support/moto';

const MiB = 1024 * 1024;

/** S3 calls a store made, by command name: what "skipped" and "multipart" mean, observed on the wire. */
function recordingClient(m: Moto): { client: S3Client; calls: string[] } {
  const client = new S3Client({
    endpoint: m.endpoint,
    region: m.region,
    credentials: m.credentials,
    forcePathStyle: true,
  });
  const calls: string[] = [];
  client.middlewareStack.add(
    (next, context) => (args) => {
      calls.push(context.commandName as string);
      return next(args);
    },
    { step: 'initialize' },
  );
  return { client, calls };
}

describe('artifact store (S3, against moto: the only AWS stand-in)', function () {
  this.timeout(180_000);
  let m: Moto;
  let raw: S3Client;
  let bucket: string;
  let n = 0;
  /** A fresh prefix per test, so tests never see each other's objects. */
  const root = () => `s3://${bucket}/fleet/t${++n}`;
  const open = (r = root()) =>
    openArtifactStore(r, { endpoint: m.endpoint, region: m.region, credentials: m.credentials });

  before(async () => {
    m = await moto();
    raw = new S3Client({
      endpoint: m.endpoint,
      region: m.region,
      credentials: m.credentials,
      forcePathStyle: true,
    });
    bucket = `stowage-test-${randomBytes(4).toString('hex')}`;
    await raw.send(new CreateBucketCommand({ Bucket: bucket }));
  });

  describe('contract shared with the local store', () => {
    artifactStoreContract(async () => open());
  });

  it('parses roots and refuses ones that are not s3://bucket[/prefix]', () => {
    const store = open(`s3://${bucket}/a/b/`);
    assert.equal(store.root, `s3://${bucket}/a/b`);
    assert.equal(store.uri('models/m/cpu/k/model.pt'), `s3://${bucket}/a/b/models/m/cpu/k/model.pt`);
    assert.equal(open(`s3://${bucket}`).uri('x.json'), `s3://${bucket}/x.json`);
    assert.throws(() => open('s3://Bad_Bucket/x'), /not an S3 artifact root/);
    assert.throws(() => open(`s3://${bucket}/../x`), /invalid segment/);
  });

  it('stores the SHA-256 with the object and skips a write whose content is already there', async () => {
    const { client, calls } = recordingClient(m);
    const store = new S3ArtifactStore(root(), { client });
    const key = 'models/m0/cpu/k1/profile.json';
    const first = await store.write(key, '{"memoryGiB":0.4}');
    assert.deepEqual(calls, ['HeadObjectCommand', 'PutObjectCommand']);
    const head = await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: `${store.prefix}/${key}` }));
    assert.equal(head.Metadata?.sha256, first.sha256);

    calls.length = 0;
    assert.deepEqual(await store.write(key, '{"memoryGiB":0.4}'), first);
    assert.deepEqual(calls, ['HeadObjectCommand'], 'same content: nothing is uploaded');

    calls.length = 0;
    await store.write(key, '{"memoryGiB":0.5}');
    assert.deepEqual(calls, ['HeadObjectCommand', 'PutObjectCommand'], 'changed content is uploaded');
  });

  it('detects an object whose content no longer matches its checksum', async () => {
    const store = open() as S3ArtifactStore;
    const key = 'models/m1/cpu/k1/model.pt';
    const { sha256 } = await store.write(key, Buffer.from('the real weights'));
    // Someone else replaces the bytes behind the store's back, keeping the recorded checksum.
    await raw.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${store.prefix}/${key}`,
        Body: 'tampered weights',
        Metadata: { sha256 },
      }),
    );
    await assert.rejects(store.read(key), (err: Error) => {
      assert.ok(err instanceof ArtifactChecksumError, String(err));
      assert.match(err.message, /is corrupt: its SHA-256 is [0-9a-f]{64}, but it was written as/);
      return true;
    });
  });

  it('uploads a 20 MiB object in parts with SHA-256 checksums and reads it back intact', async () => {
    const { client, calls } = recordingClient(m);
    const store = new S3ArtifactStore(root(), {
      client,
      partSizeBytes: 8 * MiB,
      multipartThresholdBytes: 8 * MiB,
    });
    const data = randomBytes(20 * MiB);
    const key = 'models/big/cpu/k1/model.pt';
    const written = await store.write(key, data);
    assert.equal(written.sha256, createHash('sha256').update(data).digest('hex'));
    assert.equal(calls.filter((c) => c === 'UploadPartCommand').length, 3, calls.join(' '));
    assert.ok(calls.includes('CompleteMultipartUploadCommand'));
    assert.ok(!calls.includes('PutObjectCommand'));

    const object = await raw.send(
      new GetObjectCommand({ Bucket: bucket, Key: `${store.prefix}/${key}`, ChecksumMode: 'ENABLED' }),
    );
    await object.Body?.transformToByteArray();
    assert.match(object.ChecksumSHA256 ?? '', /-3$/, 'S3 holds a SHA-256 checksum of the 3 parts');
    assert.ok((await store.read(key)).equals(data));

    calls.length = 0;
    await store.write(key, data);
    assert.deepEqual(calls, ['HeadObjectCommand'], 'the large object is not uploaded twice');
  });

  describe('a multipart upload a killed writer left behind', () => {
    const data = randomBytes(12 * MiB); // parts of 5 + 5 + 2 MiB
    const part = (n: number) => data.subarray((n - 1) * 5 * MiB, n * 5 * MiB);
    const sha256 = createHash('sha256').update(data).digest('hex');

    /** What a writer killed after `parts` parts leaves: an upload S3 keeps until someone completes or aborts it. */
    async function interrupted(store: S3ArtifactStore, key: string, parts: Buffer[], metadataSha = sha256) {
      const Key = `${store.prefix}/${key}`;
      const { UploadId } = await raw.send(
        new CreateMultipartUploadCommand({
          Bucket: bucket,
          Key,
          ChecksumAlgorithm: 'SHA256',
          Metadata: { sha256: metadataSha },
        }),
      );
      for (const [i, Body] of parts.entries()) {
        await raw.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key,
            UploadId,
            PartNumber: i + 1,
            Body,
            ChecksumSHA256: createHash('sha256').update(Body).digest('base64'),
          }),
        );
      }
      return UploadId!;
    }

    const storeFor = () => {
      const { client, calls } = recordingClient(m);
      const store = new S3ArtifactStore(root(), {
        client,
        partSizeBytes: 5 * MiB,
        multipartThresholdBytes: 5 * MiB,
      });
      return { store, calls };
    };

    it('is continued: only the missing parts are uploaded', async () => {
      const { store, calls } = storeFor();
      const key = 'models/resumed/cpu/k1/model.pt';
      const uploadId = await interrupted(store, key, [part(1), part(2)]);
      assert.deepEqual(await store.pendingUploads(key), [uploadId]);
      assert.equal(await store.exists(key), false, 'an unfinished upload is no object');

      calls.length = 0;
      await store.write(key, data);
      assert.equal(calls.filter((c) => c === 'UploadPartCommand').length, 1, calls.join(' '));
      assert.ok(!calls.includes('CreateMultipartUploadCommand'), calls.join(' '));
      assert.ok(calls.includes('CompleteMultipartUploadCommand'));
      assert.deepEqual(await store.pendingUploads(key), []);
      assert.ok((await store.read(key)).equals(data));
    });

    it('is aborted when its parts hold other bytes, and the object is uploaded afresh', async () => {
      const { store, calls } = storeFor();
      const key = 'models/restarted/cpu/k1/model.pt';
      await interrupted(store, key, [part(1), randomBytes(5 * MiB)]);
      calls.length = 0;
      await store.write(key, data);
      assert.ok(calls.includes('AbortMultipartUploadCommand'), calls.join(' '));
      assert.equal(calls.filter((c) => c === 'UploadPartCommand').length, 3, calls.join(' '));
      assert.deepEqual(await store.pendingUploads(key), []);
      assert.ok((await store.read(key)).equals(data));
    });

    it('is written afresh when it was begun for other content that shared its parts', async () => {
      const { store } = storeFor();
      const key = 'models/other-content/cpu/k1/model.pt';
      await interrupted(store, key, [part(1)], 'f'.repeat(64));
      await store.write(key, data);
      const head = await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: `${store.prefix}/${key}` }));
      assert.equal(head.Metadata?.sha256, sha256);
      assert.deepEqual(await store.pendingUploads(key), []);
      assert.ok((await store.read(key)).equals(data));
    });
  });

  it('says so when the bucket does not exist', async () => {
    const store = open(`s3://stowage-missing-${randomBytes(4).toString('hex')}/x`);
    assert.equal(await store.exists('a.json'), false);
    await assert.rejects(
      store.write('a.json', '{}'),
      /artifact root s3:\/\/stowage-missing-[0-9a-f]+\/x does not exist/,
    );
  });

  it('shares objects with the Python tracer, which finds the same S3 through STOWAGE_S3_ENDPOINT', async () => {
    const store = open() as S3ArtifactStore;
    await store.write('models/shared/cpu/k1/profile.json', '{"from":"typescript"}');
    const script = [
      'import sys',
      'from stowage_tracer.artifacts import ArtifactStore',
      'store = ArtifactStore.from_uri(sys.argv[1])',
      'sys.stdout.write(store.read_bytes("models/shared/cpu/k1/profile.json").decode())',
      'store.write_bytes("models/shared/cpu/k1/model.pt", b"from python")',
    ].join('\n');
    const out = execFileSync(projectPaths().python, ['-c', script, store.root], {
      cwd: projectPaths().pythonTracer,
      env: {
        ...process.env,
        STOWAGE_S3_ENDPOINT: m.endpoint,
        AWS_ACCESS_KEY_ID: m.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: m.credentials.secretAccessKey,
        AWS_DEFAULT_REGION: m.region,
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      },
    });
    assert.equal(out.toString(), '{"from":"typescript"}');
    // Python wrote the SHA-256 metadata too, so this read is checked end to end.
    const head = await raw.send(
      new HeadObjectCommand({ Bucket: bucket, Key: `${store.prefix}/models/shared/cpu/k1/model.pt` }),
    );
    assert.equal(head.Metadata?.sha256, createHash('sha256').update('from python').digest('hex'));
    assert.equal((await store.read('models/shared/cpu/k1/model.pt')).toString(), 'from python');
  });

  it('takes its endpoint from STOWAGE_S3_ENDPOINT, else the SDK-wide variables', () => {
    assert.equal(
      S3ArtifactStore.endpointFromEnv({ STOWAGE_S3_ENDPOINT: 'http://a', AWS_ENDPOINT_URL: 'http://b' }),
      'http://a',
    );
    assert.equal(
      S3ArtifactStore.endpointFromEnv({ AWS_ENDPOINT_URL_S3: 'http://c', AWS_ENDPOINT_URL: 'http://b' }),
      'http://c',
    );
    assert.equal(S3ArtifactStore.endpointFromEnv({ AWS_ENDPOINT_URL: 'http://b' }), 'http://b');
    assert.equal(S3ArtifactStore.endpointFromEnv({}), undefined);
  });
});
