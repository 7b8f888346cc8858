// A `.json` config file is JSON, strictly: a trailing comma or a comment is an error naming its line and column, not
// a silent fallback to YAML (which would accept `{"a": 1,}` and read something else than the author meant).
import { ConfigError, errorMessage } from '../errors.ts';

export function isJsonFileName(source: string): boolean {
  return /\.json$/i.test(source);
}

/** Line and column (from 1) of a character offset. */
function lineCol(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, col: offset - before.lastIndexOf('\n') };
}

/** Offset of the first comma (outside strings) followed only by blanks and then `}` or `]`; -1 when there is none. */
export function trailingComma(text: string): number {
  let inString = false;
  let comma = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      comma = -1;
    } else if (c === ',') comma = i;
    else if ((c === '}' || c === ']') && comma >= 0) return comma;
    else if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') comma = -1;
  }
  return -1;
}

/** JSON.parse, with V8's message given a line and column; throws ConfigError naming `source`. */
export function parseStrictJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    // V8 names a position for some errors only ("… in JSON at position 45"); a trailing comma is found here
    const message = errorMessage(err).split('\n')[0] ?? '';
    const comma = trailingComma(text);
    const at = /at position (\d+)/.exec(message);
    const pos = comma >= 0 ? comma : at?.[1] === undefined ? -1 : Number(at[1]);
    const where = pos < 0 ? '' : ((p) => ` at line ${p.line} col ${p.col}`)(lineCol(text, pos));
    const what = comma >= 0 ? 'a trailing comma (JSON allows none)' : message.replace(/, ".*$/, '');
    throw new ConfigError([{ path: '', message: `not valid JSON: ${what}${where}` }], source);
  }
}
