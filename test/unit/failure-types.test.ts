import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FailureType, NO_RETRY } from '../../src/domain/failures';

const ROOT = path.resolve(__dirname, '../../..');
/** The only files that may spell a failure type as a string literal. */
const HOMES = ['src/domain/failures.ts', 'python-tracer/stowage_tracer/failures.py'];
/** The code the workers, the CLI and the API run (tests may spell the wire names to pin them). */
const SCANNED = ['src', 'activities', 'workflows', 'k6', 'bin', 'python-tracer/stowage_tracer'];
const SKIPPED_DIRS = new Set(['node_modules', '.venv', '__pycache__', 'dist']);

interface Literal {
  file: string;
  line: number;
  text: string;
}

/** Every '<type>' or "<type>" literal of a failure type under `dirs`, outside the two homes. */
function failureLiterals(root: string, dirs: string[], types: readonly string[]): Literal[] {
  const pattern = new RegExp(`(['"\`])(${types.join('|')})\\1`);
  const found: Literal[] = [];
  const visit = (abs: string): void => {
    const stat = fs.statSync(abs);
    if (stat.isDirectory()) {
      if (SKIPPED_DIRS.has(path.basename(abs))) return;
      for (const entry of fs.readdirSync(abs)) visit(path.join(abs, entry));
      return;
    }
    const rel = path.relative(root, abs).split(path.sep).join('/');
    if (HOMES.includes(rel) || !/(\.(ts|js|mjs|py)|\/bin\/[^/.]+)$/.test(`/${rel}`)) return;
    fs.readFileSync(abs, 'utf8')
      .split('\n')
      .forEach((text, i) => {
        if (pattern.test(text)) found.push({ file: rel, line: i + 1, text: text.trim() });
      });
  };
  for (const dir of dirs) if (fs.existsSync(path.join(root, dir))) visit(path.join(root, dir));
  return found;
}

/** NAME = "Value" assignments of python-tracer/stowage_tracer/failures.py. */
function pythonConstants(): Map<string, string> {
  const source = fs.readFileSync(path.join(ROOT, HOMES[1]), 'utf8');
  return new Map([...source.matchAll(/^([A-Z_]+) = "(\w+)"$/gm)].map((m) => [m[1], m[2]]));
}

describe('failure types live once (src/domain/failures.ts and its Python counterpart)', () => {
  const types = Object.values(FailureType);

  it('keeps every wire name as it was: histories and clients branch on them', () => {
    // Each key is its value, and the set is the one stored histories and clients know; adding a type
    // extends this list, renaming one breaks them.
    for (const [key, value] of Object.entries(FailureType)) assert.equal(value, key);
    assert.deepEqual([...types].sort(), [
      'ArtifactAccess',
      'ArtifactChecksum',
      'ArtifactIO',
      'ArtifactNotFound',
      'BuildContextInvalid',
      'BuildahFailed',
      'EksClusterUnavailable',
      'ImageToolMissing',
      'InvalidArtifactKey',
      'InvalidImageRequest',
      'InvalidInput',
      'KubernetesError',
      'KubernetesNotConfigured',
      'KubernetesRefused',
      'KubernetesUnreachable',
      'LoadJobFailed',
      'ModelDownload',
      'ModelNotFound',
      'ModelNotTraced',
      'ModelServerLost',
      'ModelServerStartFailed',
      'NoAnswers',
      'NodeGroupAtMax',
      'NodeGroupMissing',
      'OutputMismatch',
      'PackFailed',
      'ProfileFailed',
      'RegistryRefused',
      'RolloutFailed',
      'ServersNotReady',
      'ServingEnvironmentBroken',
      'SmokeTestFailed',
      'TraceFailed',
      'UnsupportedModel',
    ]);
  });

  it('finds no failure-type string literal in the code outside the two homes', () => {
    assert.deepEqual(failureLiterals(ROOT, SCANNED, types), []);
  });

  it('the scan reports a literal failure type where one is written', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-failures-'));
    try {
      fs.mkdirSync(path.join(dir, 'activities'));
      fs.writeFileSync(
        path.join(dir, 'activities', 'x.ts'),
        "const ok = 1;\nthrow ApplicationFailure.nonRetryable('no', 'PackFailed');\n",
      );
      fs.writeFileSync(
        path.join(dir, 'activities', 'y.py'),
        'raise ApplicationError("no", type="TraceFailed")\n',
      );
      assert.deepEqual(
        failureLiterals(dir, ['activities'], types).map(({ file, line }) => `${file}:${line}`),
        ['activities/x.ts:2', 'activities/y.py:1'],
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('spells every Python failure type as the TypeScript side does', () => {
    const python = pythonConstants();
    assert.ok(python.size >= 10, `failures.py defines its types as NAME = "Value" (found ${python.size})`);
    for (const [name, value] of python) {
      assert.ok((types as string[]).includes(value), `${name} = "${value}" is not in FailureType`);
    }
  });

  it('retries exactly the tracer failures the Python side marks retryable', () => {
    const python = pythonConstants();
    const source = fs.readFileSync(path.join(ROOT, HOMES[1]), 'utf8');
    const retryable = /^RETRYABLE = frozenset\(\{([^}]*)\}\)$/m.exec(source);
    assert.ok(retryable, 'failures.py defines RETRYABLE = frozenset({...})');
    const retried = new Set(retryable[1].split(',').map((name) => python.get(name.trim())));
    const notRetried = [...python.values()].filter((v) => !retried.has(v)).sort();
    assert.deepEqual([...NO_RETRY.tracer].sort(), notRetried);
  });
});
