// Where a verb's config comes from: a file, or `-` for stdin. Stdin is read once per process and kept, so a verb
// that needs the text twice (apply: to send it and to name its type) and a pipe (`cat c.yaml | edgenet apply -f -`)
// both work.
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';

/** The name a config from `file` goes by in messages: `stdin` for `-`. */
export function sourceName(file: string): string {
  return file === '-' ? 'stdin' : file;
}

let stdinText: Promise<string> | undefined;

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** The text of `file`; `-`: all of stdin (`readStdin` replaces process.stdin, for tests). */
export function readInput(file: string, readStdin?: () => Promise<string>): Promise<string> {
  if (file !== '-') return readFile(file, 'utf8');
  if (readStdin) return readStdin();
  stdinText ??= readAll(process.stdin);
  return stdinText;
}

/** JSON for `.json` files (strictly: a trailing comma is an error), YAML for `.yaml`/`.yml`, else by the first character. */
export function contentTypeOf(file: string, text: string): string {
  const ext = extname(file).toLowerCase();
  if (ext === '.json') return 'application/json';
  if (ext === '.yaml' || ext === '.yml') return 'application/yaml';
  return /^\s*[[{]/.test(text) ? 'application/json' : 'application/yaml';
}
