import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { assertArtifactKey, InvalidArtifactKeyError } from './keys';
import type { S3StoreOptions } from './s3-store';

/**
 * Where stages keep their outputs. Writes are atomic and keys content-addressed where possible, so a
 * stage that finds its output present skips the work: that is what makes re-runs resumable.
 */
export interface ArtifactStore {
  /** The root as a URI (file:///… or s3://bucket/prefix). */
  readonly root: string;
  uri(key: string): string;
  exists(key: string): Promise<boolean>;
  read(key: string): Promise<Buffer>;
  write(key: string, data: Buffer | string): Promise<{ uri: string; sha256: string; bytes: number }>;
  readJson<T>(key: string): Promise<T>;
  writeJson(key: string, value: unknown): Promise<{ uri: string; sha256: string; bytes: number }>;
  /** The key of a URI inside this root; rejects URIs outside it (a reference must not escape the root). */
  keyOf(uri: string): string;
}

/** A local folder (path or file:// URI) or `s3://bucket/prefix`; options apply to S3 only. */
export function openArtifactStore(root: string, options?: S3StoreOptions): ArtifactStore {
  if (root.startsWith('s3://')) {
    // Loaded on demand: the AWS SDK adds ~0.3 s to every process that imports this module, S3 or not.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { S3ArtifactStore } = require('./s3-store') as typeof import('./s3-store');
    return new S3ArtifactStore(root, options);
  }
  const dir = root.startsWith('file://') ? fileURLToPath(root) : path.resolve(root);
  return new LocalArtifactStore(dir);
}

class LocalArtifactStore implements ArtifactStore {
  readonly root: string;

  constructor(private readonly dir: string) {
    this.root = pathToFileURL(dir).href;
  }

  private file(key: string): string {
    return path.join(this.dir, ...assertArtifactKey(key).split('/'));
  }

  uri(key: string): string {
    return pathToFileURL(this.file(key)).href;
  }

  async exists(key: string): Promise<boolean> {
    return fs.access(this.file(key)).then(
      () => true,
      () => false,
    );
  }

  read(key: string): Promise<Buffer> {
    return fs.readFile(this.file(key));
  }

  async write(key: string, data: Buffer | string) {
    const file = this.file(key);
    await fs.mkdir(path.dirname(file), { recursive: true });
    // Rename is atomic on one filesystem: readers never see half a file, and a crashed writer leaves none.
    const temp = `${file}.${randomUUID()}.tmp`;
    await fs.writeFile(temp, data);
    await fs.rename(temp, file);
    const buffer = typeof data === 'string' ? Buffer.from(data) : data;
    return {
      uri: this.uri(key),
      sha256: createHash('sha256').update(buffer).digest('hex'),
      bytes: buffer.length,
    };
  }

  async readJson<T>(key: string): Promise<T> {
    return JSON.parse((await this.read(key)).toString('utf8')) as T;
  }

  writeJson(key: string, value: unknown) {
    return this.write(key, `${JSON.stringify(value, null, 2)}\n`);
  }

  keyOf(uri: string): string {
    const prefix = `${this.root.replace(/\/$/, '')}/`;
    if (!uri.startsWith(prefix)) {
      throw new InvalidArtifactKeyError(`${uri} is outside the artifact root ${this.root}`);
    }
    return assertArtifactKey(decodeURIComponent(uri.slice(prefix.length)));
  }
}
