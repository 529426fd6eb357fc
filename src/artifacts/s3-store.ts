import { createHash } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  type CompletedPart,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  type Part,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type HeadObjectCommandOutput,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { assertArtifactKey, InvalidArtifactKeyError } from './keys';
import type { ArtifactStore } from './store';

export interface S3StoreOptions {
  /** An S3-compatible endpoint (default: S3ArtifactStore.endpointFromEnv()). */
  endpoint?: string;
  /** Default: the SDK's chain (AWS_REGION, ~/.aws/config), or us-east-1 with a custom endpoint. */
  region?: string;
  /** Default: the SDK's default credential chain. */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Default: true with a custom endpoint (loopback servers have no per-bucket host names). */
  forcePathStyle?: boolean;
  /** Objects at least this large go up in parts (default 16 MiB). */
  multipartThresholdBytes?: number;
  /** Default 16 MiB; S3's minimum is 5 MiB. */
  partSizeBytes?: number;
  /** Parts in flight at once (default 4): memory is bounded by queueSize × partSize on top of the data. */
  queueSize?: number;
  /** A ready client (tests observe the calls it makes); the settings above are then ignored. */
  client?: S3Client;
}

const MiB = 1024 * 1024;
/** Object metadata holding the whole object's SHA-256 (hex): a multipart object's own checksum is only a checksum of its parts. */
const SHA256_META = 'sha256';
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export class ArtifactChecksumError extends Error {
  override name = 'ArtifactChecksumError';
}

export function parseS3Root(root: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(root);
  if (!match || !BUCKET.test(match[1])) {
    throw new InvalidArtifactKeyError(`${root} is not an S3 artifact root: expected s3://bucket[/prefix]`);
  }
  const prefix = match[2].replace(/\/+$/, '');
  if (prefix !== '') assertArtifactKey(prefix);
  return { bucket: match[1], prefix };
}

/**
 * The artifact store in S3 (`s3://bucket/prefix`, docs/artifacts.md). Every object carries its
 * SHA-256 as metadata, so a write whose content is already there is skipped (re-runs are cheap) and a
 * read is checked end to end, including multipart objects whose S3 checksum only covers the parts.
 * A multipart upload that a killed writer left behind is continued when every part it holds is a part
 * of the data being written (only the missing parts go up); one holding anything else is aborted.
 */
export class S3ArtifactStore implements ArtifactStore {
  readonly root: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;
  private readonly threshold: number;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(root: string, options: S3StoreOptions = {}) {
    ({ bucket: this.bucket, prefix: this.prefix } = parseS3Root(root));
    this.root = `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
    this.partSize = Math.max(5 * MiB, options.partSizeBytes ?? 16 * MiB);
    this.threshold = Math.max(this.partSize, options.multipartThresholdBytes ?? 16 * MiB);
    this.queueSize = options.queueSize ?? 4;
    const endpoint = options.endpoint ?? S3ArtifactStore.endpointFromEnv();
    this.client =
      options.client ??
      new S3Client({
        endpoint,
        region: options.region ?? (endpoint ? (process.env.AWS_REGION ?? 'us-east-1') : undefined),
        credentials: options.credentials,
        forcePathStyle: options.forcePathStyle ?? endpoint !== undefined,
      });
  }

  /** STOWAGE_S3_ENDPOINT, else the SDK-wide AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (python-tracer reads the same). */
  static endpointFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
    return env.STOWAGE_S3_ENDPOINT || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  }

  private objectKey(key: string): string {
    assertArtifactKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  uri(key: string): string {
    return `s3://${this.bucket}/${this.objectKey(key)}`;
  }

  keyOf(uri: string): string {
    const base = `${this.root}/`;
    if (!uri.startsWith(base)) {
      throw new InvalidArtifactKeyError(`${uri} is outside the artifact root ${this.root}`);
    }
    // S3 keys are never percent-encoded here, so "%2E%2E" stays an invalid segment instead of becoming "..".
    return assertArtifactKey(uri.slice(base.length));
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(this.objectKey(key))) !== undefined;
  }

  async read(key: string): Promise<Buffer> {
    const Key = this.objectKey(key);
    const out = await this.call(key, () =>
      // ChecksumMode makes the SDK verify S3's own checksum of single-part objects as well.
      this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key, ChecksumMode: 'ENABLED' })),
    );
    const data = Buffer.from(await out.Body!.transformToByteArray());
    const expected = out.Metadata?.[SHA256_META];
    if (expected !== undefined && expected !== sha256Hex(data)) {
      throw new ArtifactChecksumError(
        `${this.uri(key)} is corrupt: its SHA-256 is ${sha256Hex(data)}, but it was written as ${expected}`,
      );
    }
    return data;
  }

  async write(key: string, data: Buffer | string): Promise<{ uri: string; sha256: string; bytes: number }> {
    const Key = this.objectKey(key);
    const body = typeof data === 'string' ? Buffer.from(data) : data;
    const digest = createHash('sha256').update(body).digest();
    const result = { uri: this.uri(key), sha256: digest.toString('hex'), bytes: body.length };
    const present = await this.head(Key);
    if (present?.Metadata?.[SHA256_META] === result.sha256 && present.ContentLength === body.length) {
      return result;
    }
    const Metadata = { [SHA256_META]: result.sha256 };
    if (body.length < this.threshold) {
      // One PUT is atomic in S3, and the precomputed checksum makes S3 reject a body damaged in transit.
      await this.call(key, () =>
        this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key,
            Body: body,
            ChecksumSHA256: digest.toString('base64'),
            Metadata,
          }),
        ),
      );
      return result;
    }
    if (await this.resumeUpload(Key, body, result.sha256)) return result;
    // Until CompleteMultipartUpload readers see the previous object (or none): never half of this one.
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key, Body: body, ChecksumAlgorithm: 'SHA256', Metadata },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    await this.call(key, () => upload.done());
    return result;
  }

  async readJson<T>(key: string): Promise<T> {
    return JSON.parse((await this.read(key)).toString('utf8')) as T;
  }

  writeJson(key: string, value: unknown) {
    return this.write(key, `${JSON.stringify(value, null, 2)}\n`);
  }

  /** Multipart uploads of this key that a killed writer never completed nor aborted (they cost storage). */
  async pendingUploads(key: string): Promise<string[]> {
    return this.listUploads(this.objectKey(key));
  }

  private async listUploads(Key: string): Promise<string[]> {
    const ids: string[] = [];
    let markers: { KeyMarker?: string; UploadIdMarker?: string } = {};
    for (;;) {
      const page = await this.client.send(
        new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: Key, ...markers }),
      );
      for (const upload of page.Uploads ?? [])
        if (upload.Key === Key && upload.UploadId) ids.push(upload.UploadId);
      if (!page.IsTruncated) return ids;
      markers = { KeyMarker: page.NextKeyMarker, UploadIdMarker: page.NextUploadIdMarker };
    }
  }

  /**
   * Continues an interrupted multipart upload of this key if its parts are parts of `body` (checked by
   * SHA-256 where S3 lists one, else by the part's MD5 ETag), uploading only the missing ones; aborts
   * every upload it cannot continue. True when the object is complete and carries `sha256`.
   */
  private async resumeUpload(Key: string, body: Buffer, sha256: string): Promise<boolean> {
    let resumed = false;
    for (const UploadId of await this.listUploads(Key)) {
      if (!resumed) {
        const parts = await this.listParts(Key, UploadId);
        const partSize = parts.find((p) => p.PartNumber === 1)?.Size ?? this.partSize;
        if (partSize >= 5 * MiB && parts.every((part) => partMatches(part, body, partSize))) {
          resumed = await this.completeUpload(Key, UploadId, body, partSize, parts, sha256);
          if (resumed) continue;
        }
      }
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId }))
        .catch((err: unknown) => {
          // Another writer finishing or aborting the same upload meanwhile is fine.
          if (!(err instanceof S3ServiceException && err.name === 'NoSuchUpload')) throw err;
        });
    }
    return resumed;
  }

  private async completeUpload(
    Key: string,
    UploadId: string,
    body: Buffer,
    partSize: number,
    present: Part[],
    sha256: string,
  ): Promise<boolean> {
    const count = Math.ceil(body.length / partSize);
    const have = new Set(present.map((p) => p.PartNumber));
    const missing = Array.from({ length: count }, (_, i) => i + 1).filter((n) => !have.has(n));
    const queue = [...missing];
    const uploadOne = async (): Promise<void> => {
      for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
        const slice = body.subarray((n - 1) * partSize, n * partSize);
        await this.client.send(
          new UploadPartCommand({
            Bucket: this.bucket,
            Key,
            UploadId,
            PartNumber: n,
            Body: slice,
            ChecksumSHA256: createHash('sha256').update(slice).digest('base64'),
          }),
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.queueSize, missing.length) }, uploadOne));
    const parts: CompletedPart[] = (await this.listParts(Key, UploadId))
      .filter((p) => p.PartNumber! <= count)
      .map((p) => ({
        PartNumber: p.PartNumber,
        ETag: p.ETag,
        ChecksumSHA256:
          p.ChecksumSHA256 ??
          createHash('sha256')
            .update(body.subarray((p.PartNumber! - 1) * partSize, p.PartNumber! * partSize))
            .digest('base64'),
      }));
    await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
    // The interrupted writer set the metadata when it began: it must name this content, or the object is
    // written afresh (its parts matched, so this only happens when another content shared every part).
    const head = await this.head(Key);
    return head?.Metadata?.[SHA256_META] === sha256 && head.ContentLength === body.length;
  }

  private async listParts(Key: string, UploadId: string): Promise<Part[]> {
    const parts: Part[] = [];
    let PartNumberMarker: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListPartsCommand({ Bucket: this.bucket, Key, UploadId, PartNumberMarker }),
      );
      parts.push(...(page.Parts ?? []));
      if (!page.IsTruncated) return parts;
      PartNumberMarker = page.NextPartNumberMarker;
    }
  }

  private async head(Key: string): Promise<HeadObjectCommandOutput | undefined> {
    try {
      return await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
    } catch (err) {
      if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) {
        if (err.name === 'NoSuchBucket') throw this.noBucket(err);
        return undefined;
      }
      throw err;
    }
  }

  /** S3 errors as the local store's: a missing object is ENOENT (callers check err.code), a missing bucket says so. */
  private async call<T>(key: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (err) {
      if (err instanceof S3ServiceException && err.name === 'NoSuchBucket') throw this.noBucket(err);
      if (err instanceof S3ServiceException && err.name === 'NoSuchKey') {
        throw Object.assign(new Error(`${this.uri(key)} does not exist`), { code: 'ENOENT', cause: err });
      }
      throw err;
    }
  }

  private noBucket(err: Error): Error {
    return Object.assign(
      new Error(
        `the bucket of the artifact root ${this.root} does not exist (or is not visible to these credentials)`,
      ),
      { code: 'NoSuchBucket', cause: err },
    );
  }
}

/** Whether a listed part holds the bytes of `body` at its position. */
function partMatches(part: Part, body: Buffer, partSize: number): boolean {
  const n = part.PartNumber;
  if (n === undefined || n < 1) return false;
  const slice = body.subarray((n - 1) * partSize, n * partSize);
  if (slice.length === 0 || slice.length !== part.Size) return false;
  if (part.ChecksumSHA256) return part.ChecksumSHA256 === createHash('sha256').update(slice).digest('base64');
  // Without a listed checksum the ETag is the part's MD5 (not under SSE-KMS: those uploads are aborted).
  return part.ETag?.replace(/"/g, '') === createHash('md5').update(slice).digest('hex');
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
