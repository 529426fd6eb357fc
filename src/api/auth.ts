import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import { ConfigError } from '../config/temporal';
import { MIN_SECRET_LENGTH } from '../domain/issue-text';
import { ApiProblem } from './problems';

/**
 * Bearer tokens with two scopes: `read` (GET routes) and `write` (everything that starts, steers or
 * changes work; it implies read). A token is only ever held as its SHA-256 digest: requests are hashed
 * and compared against every digest in constant time, so neither a timing difference nor a log line,
 * a workflow input or a history can give a token away. The token's NAME is what the API records.
 */
export type Scope = 'read' | 'write';

export interface Caller {
  name: string;
  scope: Scope;
}

interface StoredToken extends Caller {
  digest: Buffer;
}

export class TokenSet {
  private constructor(private readonly tokens: readonly StoredToken[]) {}

  get size(): number {
    return this.tokens.length;
  }

  get names(): string[] {
    return this.tokens.map((t) => t.name);
  }

  static fromEntries(entries: readonly { name: string; scope: Scope; token: string }[]): TokenSet {
    return new TokenSet(entries.map((e) => ({ name: e.name, scope: e.scope, digest: digest(e.token) })));
  }

  /** Every stored digest is compared, match or not: how long this takes does not depend on which matched. */
  match(presented: string): Caller | undefined {
    const candidate = digest(presented);
    let found: StoredToken | undefined;
    for (const token of this.tokens) {
      if (timingSafeEqual(candidate, token.digest) && !found) found = token;
    }
    return found && { name: found.name, scope: found.scope };
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** Printable ASCII without spaces or quotes: safe in a header and in a shell variable. */
const TOKEN = new RegExp(`^[A-Za-z0-9._~+/=-]{${MIN_SECRET_LENGTH},512}$`);
export const TOKEN_RULE = `${MIN_SECRET_LENGTH} to 512 characters of A-Z a-z 0-9 . _ ~ + / = -`;

/**
 * One token per line: `<name> <scope> <token>`; blank lines and `#` comments are skipped. Problems name
 * the line, never echo it: the line holds a secret.
 */
export function parseTokens(text: string, source: string): TokenSet {
  const entries: { name: string; scope: Scope; token: string }[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${source} line ${index + 1}`;
    const fields = line.split(/\s+/);
    if (fields.length !== 3) {
      problems.push(`${where}: expected "<name> <scope> <token>" (3 fields), found ${fields.length}`);
      return;
    }
    const [name, scope, token] = fields;
    if (!NAME.test(name)) problems.push(`${where}: the name must match ${NAME.source}`);
    else if (scope !== 'read' && scope !== 'write')
      problems.push(`${where}: the scope must be read or write`);
    else if (!TOKEN.test(token)) problems.push(`${where}: the token must be ${TOKEN_RULE}`);
    else if (entries.some((e) => e.name === name)) problems.push(`${where}: the name ${name} is used twice`);
    else if (entries.some((e) => e.token === token)) problems.push(`${where}: the same token appears twice`);
    else entries.push({ name, scope, token });
  });
  if (problems.length > 0) throw new ConfigError(`bad API tokens:\n${problems.join('\n')}`);
  if (entries.length === 0) throw new ConfigError(`${source} holds no API token`);
  return TokenSet.fromEntries(entries);
}

/**
 * `--tokens-file` wins over STOWAGE_API_TOKENS (same format; lines may also be separated by ";"), so a
 * deployment can keep tokens in a mounted secret file and out of the process environment.
 */
export function loadTokens(options: { file?: string; env?: NodeJS.ProcessEnv }): TokenSet {
  if (options.file) {
    let text: string;
    try {
      text = fs.readFileSync(options.file, 'utf8');
    } catch {
      throw new ConfigError(`cannot read the tokens file ${options.file}`);
    }
    return parseTokens(text, options.file);
  }
  const fromEnv = (options.env ?? process.env).STOWAGE_API_TOKENS;
  if (fromEnv) return parseTokens(fromEnv.replace(/;/g, '\n'), 'STOWAGE_API_TOKENS');
  throw new ConfigError('no API tokens: pass --tokens-file <file> or set STOWAGE_API_TOKENS');
}

const BEARER = /^Bearer ([^\s]+)$/i;

/** Resolves the caller of a request or throws the 401/403 that says why not. */
export function authorize(tokens: TokenSet, header: string | string[] | undefined, needed: Scope): Caller {
  const challenge = { 'WWW-Authenticate': 'Bearer realm="stowage"' };
  if (header === undefined || header === '') {
    throw new ApiProblem('unauthorized', 'send "Authorization: Bearer <token>"', undefined, challenge);
  }
  const match = typeof header === 'string' ? BEARER.exec(header.trim()) : null;
  if (!match) {
    throw new ApiProblem(
      'unauthorized',
      'the Authorization header must be "Bearer <token>"',
      undefined,
      challenge,
    );
  }
  const caller = tokens.match(match[1]);
  if (!caller) {
    throw new ApiProblem('unauthorized', 'the bearer token is not valid', undefined, {
      'WWW-Authenticate': 'Bearer realm="stowage", error="invalid_token"',
    });
  }
  if (needed === 'write' && caller.scope !== 'write') {
    throw new ApiProblem(
      'forbidden',
      `token "${caller.name}" has scope read; this route needs write`,
      undefined,
      { 'WWW-Authenticate': 'Bearer realm="stowage", error="insufficient_scope", scope="write"' },
    );
  }
  return caller;
}
