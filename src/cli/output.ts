// `-o json|yaml|wide` and `--no-headers`, the output conventions of status, apply and validate (as kubectl's).
import { Option } from 'commander';

export type OutputFormat = 'json' | 'yaml' | 'wide';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['json', 'yaml', 'wide'];

export const outputOption = (what: string): Option => new Option('-o, --output <format>', `json or yaml: ${what}; wide: the table with more columns`).choices(OUTPUT_FORMATS);

export const noHeadersOption = (): Option => new Option('--no-headers', 'tables without titles and header rows (each row starts with its kind), for scripts');

/** `--json` is the older spelling of `-o json`. */
export function outputOf(o: { output?: OutputFormat; json?: boolean }): OutputFormat | undefined {
  return o.output ?? (o.json ? 'json' : undefined);
}

/** A document as JSON (2-space indent) or YAML; the YAML library is loaded only when asked for. */
export async function serialize(value: unknown, format: 'json' | 'yaml'): Promise<string> {
  if (format === 'json') return `${JSON.stringify(value, null, 2)}\n`;
  const { stringify } = await import('yaml');
  return stringify(value, { lineWidth: 0 });
}
