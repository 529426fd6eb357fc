import type { ZodIssue } from 'zod';

/** No secret this project accepts (an API token) is shorter: a shorter name a client sent is no secret. */
export const MIN_SECRET_LENGTH = 24;

function echoable(name: string): boolean {
  return name.length < MIN_SECRET_LENGTH && /^[A-Za-z0-9._-]*$/.test(name);
}

/**
 * A zod issue in words, without what the client sent: an unknown key or an enum value can be a token
 * pasted in the wrong place, and a reply, a log line or a workflow failure must never carry it.
 */
export function issueText(issue: ZodIssue): string {
  switch (issue.code) {
    case 'invalid_enum_value':
      return `Invalid enum value. Expected ${issue.options.map((o) => `'${String(o)}'`).join(' | ')}`;
    case 'unrecognized_keys': {
      const named = issue.keys.filter(echoable);
      const unnamed = issue.keys.length - named.length;
      const list = named.map((k) => `'${k}'`).join(', ');
      if (unnamed === 0) return `Unrecognized key(s) in object: ${list}`;
      const others = `${unnamed} key(s) not repeated here (too long or unusual: it could be a secret)`;
      return `Unrecognized key(s) in object: ${list ? `${list} and ` : ''}${others}`;
    }
    case 'invalid_literal':
      return `Invalid literal value, expected ${JSON.stringify(issue.expected)}`;
    default:
      return issue.message;
  }
}
