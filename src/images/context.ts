import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * A build context is exactly the files that the Containerfile's COPY/ADD instructions name, read from a
 * root folder. Its tag is a hash of their paths, contents and exec bits, the Containerfile itself, the
 * base image reference and the build args: the same inputs give the same tag on any machine, whatever
 * the files' mtimes or the order a directory lists them in, so an image that exists under its tag never
 * needs to be built again. Builds run from a staged copy of exactly these files, so what was hashed is
 * what was built (an edit between hashing and building cannot slip in) and a large root (a venv next
 * to the sources) is never scanned by the builder.
 */
export interface ContextFile {
  /** Slash-separated path relative to the context root (and to the staged folder). */
  path: string;
  /** Absolute path of the original. */
  source: string;
  /** Normalised: 0o755 when any exec bit is set, 0o644 otherwise (umasks differ between machines). */
  mode: number;
  sha256: string;
  size: number;
}

export interface BuildContext {
  root: string;
  containerfile: string;
  files: ContextFile[];
  /** Directories that COPY names but that hold no files after ignoring: staged empty, hashed by name. */
  emptyDirs: string[];
  base: string;
  buildArgs: Record<string, string>;
  /** `sha-<16 hex>`. */
  tag: string;
  /** The full sha256 the tag is cut from. */
  hash: string;
}

export class BuildContextError extends Error {
  override name = 'BuildContextError';
}

/** Never part of an image: bytecode caches and editor/test debris that differ from machine to machine. */
const IGNORED_NAMES = new Set(['__pycache__', '.pytest_cache', '.ruff_cache', '.mypy_cache', '.DS_Store']);
const IGNORED_SUFFIXES = ['.pyc', '.pyo'];

function ignored(name: string): boolean {
  return IGNORED_NAMES.has(name) || IGNORED_SUFFIXES.some((suffix) => name.endsWith(suffix));
}

/** Joins backslash continuations and drops comments and blank lines: one entry per instruction. */
function instructions(containerfile: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const raw of containerfile.split(/\r?\n/)) {
    const line = raw.trim();
    if (!current && (line === '' || line.startsWith('#'))) continue;
    if (current && line.startsWith('#')) continue; // comments inside a continued instruction
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    out.push((current + line).trim());
    current = '';
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

function splitArguments(rest: string): string[] {
  const trimmed = rest.trim();
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new BuildContextError(`cannot parse the JSON form of ${JSON.stringify(rest)}`);
    }
    if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === 'string')) {
      throw new BuildContextError(`the JSON form must be an array of strings: ${rest}`);
    }
    return parsed;
  }
  return trimmed.split(/\s+/).filter(Boolean);
}

/**
 * The context-relative sources of every COPY/ADD that reads the build context (a `--from` copy reads
 * another stage or image and is not part of the context). Globs, URLs, heredocs and paths that climb out
 * of the context are refused: each would make "exactly the copied files" ambiguous.
 */
export function copySources(containerfile: string): string[] {
  const sources: string[] = [];
  for (const instruction of instructions(containerfile)) {
    const match = /^(COPY|ADD)\s+(.*)$/i.exec(instruction);
    if (!match) continue;
    let rest = match[2];
    let fromOtherStage = false;
    for (;;) {
      const flag = /^--([a-z-]+)(=\S*)?\s+/i.exec(rest);
      if (!flag) break;
      if (flag[1].toLowerCase() === 'from') fromOtherStage = true;
      rest = rest.slice(flag[0].length);
    }
    if (fromOtherStage) continue;
    if (rest.includes('<<')) throw new BuildContextError(`heredocs are not supported: ${instruction}`);
    const args = splitArguments(rest);
    if (args.length < 2)
      throw new BuildContextError(`${match[1]} needs a source and a destination: ${instruction}`);
    for (const source of args.slice(0, -1)) {
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
        throw new BuildContextError(`remote sources are not part of a hashable context: ${source}`);
      }
      if (/[*?[\]]/.test(source)) {
        throw new BuildContextError(`glob sources are not supported (name files or folders): ${source}`);
      }
      const normalised = path.posix.normalize(source.replace(/^\/+/, '')).replace(/\/+$/, '');
      if (normalised === '..' || normalised.startsWith('../')) {
        throw new BuildContextError(`${source} is outside the build context`);
      }
      sources.push(normalised === '' ? '.' : normalised);
    }
  }
  return [...new Set(sources)];
}

function sha256File(file: string): { sha256: string; size: number } {
  const content = fs.readFileSync(file);
  return { sha256: createHash('sha256').update(content).digest('hex'), size: content.length };
}

function collect(root: string, rel: string, files: Map<string, ContextFile>, emptyDirs: Set<string>): void {
  const abs = path.join(root, rel);
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(abs);
  } catch {
    throw new BuildContextError(`${rel} is copied by the Containerfile but does not exist under ${root}`);
  }
  if (stat.isSymbolicLink()) {
    // Builders disagree on following links; the hash would not say which content went in.
    throw new BuildContextError(`${rel} is a symbolic link; the build context holds regular files only`);
  }
  if (stat.isDirectory()) {
    const names = fs.readdirSync(abs).filter((name) => !ignored(name));
    if (names.length === 0) emptyDirs.add(rel);
    for (const name of names) collect(root, rel === '.' ? name : `${rel}/${name}`, files, emptyDirs);
    return;
  }
  if (!stat.isFile()) throw new BuildContextError(`${rel} is neither a file nor a folder`);
  files.set(rel, { path: rel, source: abs, mode: stat.mode & 0o111 ? 0o755 : 0o644, ...sha256File(abs) });
}

export function contextHash(parts: {
  containerfile: string;
  files: Pick<ContextFile, 'path' | 'mode' | 'sha256'>[];
  emptyDirs: string[];
  base: string;
  buildArgs: Record<string, string>;
}): string {
  const canonical = JSON.stringify({
    v: 1,
    containerfile: createHash('sha256').update(parts.containerfile).digest('hex'),
    base: parts.base,
    buildArgs: Object.entries(parts.buildArgs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    files: parts.files
      .map((f) => [f.path, f.mode.toString(8), f.sha256])
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    emptyDirs: [...parts.emptyDirs].sort(),
  });
  return createHash('sha256').update(canonical).digest('hex');
}

export function tagOf(hash: string): string {
  return `sha-${hash.slice(0, 16)}`;
}

/**
 * Reads the context that `containerfile` (a path) copies from `root`. `base` is what the BASE build arg
 * is set to; pin it by digest in production (`...@sha256:...`) so that a moved base tag gives a new tag.
 */
export function resolveBuildContext(options: {
  containerfile: string;
  root: string;
  base: string;
  buildArgs?: Record<string, string>;
}): BuildContext {
  const containerfile = fs.readFileSync(options.containerfile, 'utf8');
  const root = path.resolve(options.root);
  const files = new Map<string, ContextFile>();
  const emptyDirs = new Set<string>();
  for (const source of copySources(containerfile)) collect(root, source, files, emptyDirs);
  const buildArgs = { ...options.buildArgs, BASE: options.base };
  const sorted = [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const hash = contextHash({
    containerfile,
    files: sorted,
    emptyDirs: [...emptyDirs],
    base: options.base,
    buildArgs,
  });
  return {
    root,
    containerfile,
    files: sorted,
    emptyDirs: [...emptyDirs].sort(),
    base: options.base,
    buildArgs,
    tag: tagOf(hash),
    hash,
  };
}

/**
 * Copies exactly the context's files into `<dir>/context` (`dir` must be empty or absent), each re-checked
 * against its hash, with normalised modes and a fixed mtime, and the Containerfile next to that folder
 * (outside it, so a `COPY . ...` cannot pick it up).
 */
export function stageBuildContext(
  context: BuildContext,
  dir: string,
): { contextDir: string; containerfile: string } {
  fs.mkdirSync(dir, { recursive: true });
  if (fs.readdirSync(dir).length > 0) throw new BuildContextError(`staging folder ${dir} is not empty`);
  const contextDir = path.join(dir, 'context');
  fs.mkdirSync(contextDir);
  const epoch = new Date(0);
  for (const rel of context.emptyDirs) fs.mkdirSync(path.join(contextDir, rel), { recursive: true });
  for (const file of context.files) {
    const content = fs.readFileSync(file.source);
    if (createHash('sha256').update(content).digest('hex') !== file.sha256) {
      throw new BuildContextError(`${file.path} changed while the image was being prepared; try again`);
    }
    const target = path.join(contextDir, file.path);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, content, { mode: file.mode });
    fs.chmodSync(target, file.mode);
    fs.utimesSync(target, epoch, epoch);
  }
  const containerfile = path.join(dir, 'Containerfile');
  fs.writeFileSync(containerfile, context.containerfile);
  return { contextDir, containerfile };
}
