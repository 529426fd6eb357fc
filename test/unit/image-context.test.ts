import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BuildContextError,
  copySources,
  resolveBuildContext,
  stageBuildContext,
} from '../../src/images/context';

const CONTAINERFILE = [
  '# a comment',
  'ARG BASE',
  'FROM ${BASE}',
  'COPY --chown=0:0 pkg/ /opt/pkg/',
  'COPY ["run.sh", "/usr/local/bin/"]',
  'COPY --from=builder /out /out',
  'ENV A=1 \\',
  '    B=2',
  'ENTRYPOINT ["run.sh"]',
].join('\n');

function writeTree(root: string, files: Record<string, string>, order: string[] = Object.keys(files)): void {
  for (const rel of order) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), files[rel]);
  }
}

describe('image build context', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-context-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const fresh = () => fs.mkdtempSync(path.join(dir, `t${n++}-`));

  const files = {
    'pkg/__init__.py': '',
    'pkg/a.py': 'A = 1\n',
    'pkg/sub/b.py': 'B = 2\n',
    'run.sh': '#!/bin/sh\n',
    'unrelated.txt': 'not copied\n',
  };

  function context(root: string, extra: Partial<Parameters<typeof resolveBuildContext>[0]> = {}) {
    const containerfile = path.join(root, 'Containerfile');
    if (!fs.existsSync(containerfile)) fs.writeFileSync(containerfile, CONTAINERFILE);
    return resolveBuildContext({ containerfile, root, base: 'registry.test/base:1', ...extra });
  }

  it('names the sources of context COPYs only (flags, JSON form, continuations; --from copies skipped)', () => {
    assert.deepEqual(copySources(CONTAINERFILE), ['pkg', 'run.sh']);
    assert.deepEqual(copySources('FROM x\nADD ./a/b/ \\\n  ./c /d/\ncopy /e f'), ['a/b', 'c', 'e']);
  });

  for (const [bad, reason] of [
    ['COPY *.py /app/', /glob/],
    ['COPY ../secret /app/', /outside the build context/],
    ['ADD https://example.com/x.tgz /x', /remote/],
    ['COPY <<EOF /x\nhi\nEOF', /heredoc/],
    ['COPY onlyone', /source and a destination/],
  ] as const) {
    it(`refuses ${JSON.stringify(bad.split('\n')[0])}`, () => {
      assert.throws(
        () => copySources(`FROM x\n${bad}`),
        (err: Error) => err instanceof BuildContextError && reason.test(err.message),
      );
    });
  }

  it('holds exactly the copied files, without bytecode caches', () => {
    const root = fresh();
    writeTree(root, { ...files, 'pkg/__pycache__/a.cpython-311.pyc': 'x', 'pkg/c.pyc': 'y' });
    assert.deepEqual(
      context(root).files.map((f) => f.path),
      ['pkg/__init__.py', 'pkg/a.py', 'pkg/sub/b.py', 'run.sh'],
    );
  });

  it('gives the same tag whatever the mtimes and the order files were created in', () => {
    const a = fresh();
    const b = fresh();
    writeTree(a, files);
    writeTree(b, files, Object.keys(files).reverse());
    fs.utimesSync(path.join(b, 'pkg/a.py'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    const tag = context(a).tag;
    assert.match(tag, /^sha-[0-9a-f]{16}$/);
    assert.equal(context(b).tag, tag);
  });

  it('changes the tag when a copied file, an exec bit, the Containerfile, the base or a build arg changes', () => {
    const root = fresh();
    writeTree(root, files);
    const tags = new Set([context(root).tag]);
    fs.writeFileSync(path.join(root, 'unrelated.txt'), 'still not copied');
    assert.equal(tags.has(context(root).tag), true, 'a file outside the COPY sources does not count');
    fs.writeFileSync(path.join(root, 'pkg/sub/b.py'), 'B = 3\n');
    tags.add(context(root).tag);
    fs.chmodSync(path.join(root, 'run.sh'), 0o755);
    tags.add(context(root).tag);
    fs.writeFileSync(path.join(root, 'pkg/sub/new.py'), '');
    tags.add(context(root).tag);
    tags.add(context(root, { base: 'registry.test/base:2' }).tag);
    tags.add(context(root, { buildArgs: { PROCESSOR: 'gpu' } }).tag);
    fs.appendFileSync(path.join(root, 'Containerfile'), 'USER 1\n');
    tags.add(context(root).tag);
    assert.equal(tags.size, 7);
  });

  it('names a missing COPY source and refuses symbolic links', () => {
    const root = fresh();
    writeTree(root, { 'pkg/a.py': '' });
    assert.throws(() => context(root), /run\.sh is copied by the Containerfile but does not exist/);
    fs.symlinkSync('/etc/hostname', path.join(root, 'run.sh'));
    assert.throws(() => context(root), /run\.sh is a symbolic link/);
  });

  it('stages exactly the hashed files with normalised modes and mtimes, the Containerfile outside', () => {
    const root = fresh();
    writeTree(root, files);
    fs.chmodSync(path.join(root, 'run.sh'), 0o700);
    const ctx = context(root);
    const staged = stageBuildContext(ctx, path.join(fresh(), 'stage'));
    const list = (d: string, prefix = ''): string[] =>
      fs
        .readdirSync(d, { withFileTypes: true })
        .flatMap((e) =>
          e.isDirectory() ? list(path.join(d, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
        )
        .sort();
    assert.deepEqual(
      list(staged.contextDir),
      ctx.files.map((f) => f.path),
    );
    assert.equal(fs.statSync(path.join(staged.contextDir, 'run.sh')).mode & 0o777, 0o755);
    assert.equal(fs.statSync(path.join(staged.contextDir, 'pkg/a.py')).mode & 0o777, 0o644);
    assert.equal(fs.statSync(path.join(staged.contextDir, 'pkg/a.py')).mtimeMs, 0);
    assert.equal(fs.readFileSync(staged.containerfile, 'utf8'), CONTAINERFILE);
    assert.equal(path.dirname(staged.containerfile), path.dirname(staged.contextDir));
  });

  it('refuses to stage a file that changed after hashing', () => {
    const root = fresh();
    writeTree(root, files);
    const ctx = context(root);
    fs.writeFileSync(path.join(root, 'pkg/a.py'), 'A = 2\n');
    assert.throws(
      () => stageBuildContext(ctx, path.join(fresh(), 'stage')),
      /changed while the image was being prepared/,
    );
  });

  it('hashes the real model-server context: the stowage_tracer package, no caches', () => {
    const root = path.resolve(__dirname, '../../..');
    const ctx = resolveBuildContext({
      containerfile: path.join(root, 'images/server/Containerfile'),
      root: path.join(root, 'python-tracer'),
      base: 'registry.test/base:1',
    });
    assert.ok(ctx.files.some((f) => f.path === 'stowage_tracer/__main__.py'));
    assert.ok(
      ctx.files.every((f) => f.path.startsWith('stowage_tracer/') && !f.path.includes('__pycache__')),
    );
  });
});
