import { z } from 'zod';

/**
 * Ids that may become file paths, artifact keys, Kubernetes names or workflow ids: one strict pattern
 * (a DNS label), checked at every edge, so nothing user-supplied is ever interpreted.
 */
export const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const ID_RULE =
  'lowercase letters, digits and "-", starting with a letter or digit, at most 63 characters';

/**
 * Free text that names something (a model source: a path, an s3:// URI, a Hugging Face name) ends up in
 * terminals, logs, the Temporal UI and file systems. Control characters rewrite a terminal or a log line,
 * bidi controls make it read differently from what it is, and a lone surrogate is not Unicode at all (it
 * cannot be encoded as UTF-8). The same rule is python-tracer/stowage_tracer/wire.py's `unsafe_character`.
 */
export const SAFE_TEXT_RULE = 'no control characters, bidi controls, line separators or lone surrogates';

const BIDI_NAMES: Record<number, string> = {
  0x061c: 'ARABIC LETTER MARK',
  0x200e: 'LEFT-TO-RIGHT MARK',
  0x200f: 'RIGHT-TO-LEFT MARK',
  0x202a: 'LEFT-TO-RIGHT EMBEDDING',
  0x202b: 'RIGHT-TO-LEFT EMBEDDING',
  0x202c: 'POP DIRECTIONAL FORMATTING',
  0x202d: 'LEFT-TO-RIGHT OVERRIDE',
  0x202e: 'RIGHT-TO-LEFT OVERRIDE',
  0x2066: 'LEFT-TO-RIGHT ISOLATE',
  0x2067: 'RIGHT-TO-LEFT ISOLATE',
  0x2068: 'FIRST STRONG ISOLATE',
  0x2069: 'POP DIRECTIONAL ISOLATE',
};

function kindOf(codePoint: number): string | undefined {
  if (codePoint <= 0x1f || (codePoint >= 0x7f && codePoint <= 0x9f)) return 'a control character';
  if (codePoint === 0x2028 || codePoint === 0x2029) return 'a line separator';
  if (BIDI_NAMES[codePoint]) return `a bidi control (${BIDI_NAMES[codePoint]})`;
  // The string iterator yields a well-formed pair as one code point above 0xFFFF, so these are lone.
  if (codePoint >= 0xd800 && codePoint <= 0xdfff) return 'a lone surrogate';
  return undefined;
}

const hex = (codePoint: number) => `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * What is wrong with `text` by SAFE_TEXT_RULE, or undefined. The character is named by its code point,
 * never echoed, and its position counts characters (code points) from 1, as the Python side counts.
 */
export function unsafeCharacter(text: string): string | undefined {
  let position = 0;
  let first: string | undefined;
  let count = 0;
  for (const char of text) {
    position += 1;
    const codePoint = char.codePointAt(0) ?? 0;
    const kind = kindOf(codePoint);
    if (kind === undefined) continue;
    count += 1;
    first ??= `${hex(codePoint)} (${kind}) at character ${position}`;
  }
  if (first === undefined) return undefined;
  return `${first}${count > 1 ? ` and ${count - 1} more` : ''}: must hold ${SAFE_TEXT_RULE}`;
}

/** A string schema with the rule added; `base` keeps its own bounds (min, max). */
export function safeText(base: z.ZodString) {
  return base.describe(`text with ${SAFE_TEXT_RULE}`).superRefine((text, ctx) => {
    const problem = unsafeCharacter(text);
    if (problem !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
  });
}
