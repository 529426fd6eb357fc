import { unsafeCharacter } from '../../src/domain/ids';

/**
 * The hostile strings of the security probe, and a few of the same families: each is refused with the
 * code point and its position, and the message never carries the character itself.
 */
export const HOSTILE_SOURCES: { name: string; text: string; says: RegExp }[] = [
  {
    name: 'NUL and terminal escapes',
    text: 'models/\u0000\u001b[2J\u001b]0;owned\u0007',
    says: /U\+0000 \(a control character\) at character 8 and 3 more/,
  },
  { name: 'a lone surrogate', text: 'models/\ud800x', says: /U\+D800 \(a lone surrogate\) at character 8/ },
  {
    name: 'newline and right-to-left override',
    text: 'models/a\n\u202egpj.pt',
    says: /U\+000A \(a control character\) at character 9 and 1 more/,
  },
  {
    name: 'a right-to-left override alone',
    text: 'models/\u202egpj.pt',
    says: /U\+202E \(a bidi control \(RIGHT-TO-LEFT OVERRIDE\)\) at character 8/,
  },
  {
    name: 'a C1 control (CSI)',
    text: 'models/\u009b31m',
    says: /U\+009B \(a control character\) at character 8/,
  },
  { name: 'DEL', text: 'models/a\u007f', says: /U\+007F \(a control character\) at character 9/ },
  { name: 'a line separator', text: 'a\u2028b', says: /U\+2028 \(a line separator\) at character 2/ },
  {
    name: 'a lone low surrogate after an emoji',
    text: '😀\udc00',
    says: /U\+DC00 \(a lone surrogate\) at character 2/,
  },
];

/** Characters of `text` the rule refuses: a message must have none (it names them, never echoes them). */
export function unsafeIn(text: string): string[] {
  return [...text].filter((c) => unsafeCharacter(c) !== undefined);
}
