import { readFile } from 'node:fs/promises';
import { LineCounter, parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import { ConfigError, errorMessage } from '../errors.ts';
import type { ConfigIssue } from '../errors.ts';
import { checkPortAddresses, crossCheck } from './config-checks.ts';
import { checkLimits, resolveLimits, type ConfigLimits } from './config-limits.ts';
import { configSchema } from './config-schema.ts';
import { checkRouteGateways } from './ni-services-checks.ts';
import { isJsonFileName, parseStrictJson } from './strict-json.ts';
import type { Config } from './config-schema.ts';

export interface ValidateOptions {
  /** The kernel's addresses of an interface: when given, local NI subnets are checked against the ports' addresses. */
  addressesOf?: (ifname: string) => { address: string; prefixlen: number }[];
  /** caps on networks, local networks and app interfaces (config-limits.ts; defaults when absent) */
  limits?: Partial<ConfigLimits>;
}

type ZodIssue = z.ZodError['issues'][number];

/** Parses one YAML or JSON document and validates it; throws ConfigError. */
export function parseConfigText(text: string, source?: string, options?: ValidateOptions): Config {
  return validateConfig(parseDocumentText(text, source), source, options);
}

export async function loadConfigFile(path: string, options?: ValidateOptions): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path: '', message: `cannot read config file: ${errorMessage(err)}` }], path);
  }
  return parseConfigText(text, path, options);
}

/** Schema, then cross-checks (then the ports' kernel addresses, when the caller supplies them); throws ConfigError. */
export function validateConfig(input: unknown, source?: string, options?: ValidateOptions): Config {
  if (input === null || input === undefined) {
    throw new ConfigError([{ path: '', message: 'the config is empty: expected a document with ports, networks and apps' }], source);
  }
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError([{ path: '', message: `the config must be a mapping with ports, networks and apps, got ${describe(input)}` }], source);
  }
  const over = checkLimits(input, resolveLimits(options?.limits));
  if (over.length > 0) throw new ConfigError(over, source);
  const parsed = configSchema.safeParse(input, { reportInput: true, error: defaultMessage });
  if (!parsed.success) throw new ConfigError(parsed.error.issues.flatMap(toConfigIssues), source);
  const issues = crossCheck(parsed.data);
  if (issues.length === 0 && options?.addressesOf) {
    issues.push(...checkPortAddresses(parsed.data, options.addressesOf), ...checkRouteGateways(parsed.data, options.addressesOf));
  }
  if (issues.length > 0) throw new ConfigError(issues, source);
  return parsed.data;
}

/** YAML 1.2 (JSON is a subset); exactly one document. A `.json` file is JSON only (strict-json.ts). */
function parseDocumentText(text: string, source?: string): unknown {
  if (source !== undefined && isJsonFileName(source)) return parseStrictJson(text, source);
  // Plain JSON takes the fast, exact path; anything else (or broken JSON) is reported by the YAML parser with a position.
  if (/^\s*[[{]/.test(text)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // fall through to YAML, whose error names line and column
    }
  }
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    const err = doc.errors[0];
    if (err) {
      const { line, col } = lineCounter.linePos(err.pos[0]);
      throw new ConfigError([{ path: '', message: `not valid YAML/JSON: ${err.message} at line ${line} col ${col}` }], source);
    }
  }
  if (list.length > 1) {
    throw new ConfigError([{ path: '', message: `expected one YAML document, found ${list.length} (separated by ---)` }], source);
  }
  return list[0]?.toJS({ maxAliasCount: 100 }) as unknown;
}

/** Zod path to `networks[1].port`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, i) => {
      if (typeof key === 'number') return `[${key}]`;
      const name = String(key);
      return /^[A-Za-z_$][\w$]*$/.test(name) ? `${i === 0 ? '' : '.'}${name}` : `[${JSON.stringify(name)}]`;
    })
    .join('');
}

// Messages for issues the schema leaves to zod's defaults ("Invalid input: expected array, received string").
function defaultMessage(issue: { code?: string; expected?: unknown }): string | undefined {
  if (issue.code !== 'invalid_type') return undefined;
  const words: Record<string, string> = { object: 'a mapping', array: 'a list', number: 'a number', string: 'a string', boolean: 'true or false' };
  const expected = typeof issue.expected === 'string' ? issue.expected : '';
  return `must be ${words[expected] ?? expected}`;
}

// Fields a switch NI lacks, with why: the message tells the user what to do instead of only that it is wrong.
const SWITCH_ONLY_HINT: Record<string, string> = {
  subnet: 'switch networks have no subnet',
  gateway: 'switch networks have no gateway',
  dhcpRange: 'switch networks have no IP services',
  dns: 'switch networks have no IP services',
  dhcp: 'switch networks have no IP services',
  routes: 'switch networks have no IP services',
};

function toConfigIssues(issue: ZodIssue): ConfigIssue[] {
  const path = formatPath(issue.path);
  const input: unknown = issue.input;
  if (issue.code === 'unrecognized_keys') {
    const isSwitchNi = /^networks\[\d+\]$/.test(path) && isRecord(input) && input['type'] === 'switch';
    // an ACL rule's match says which match types there are
    if (/\.acls\[\d+\]\.match$/.test(path)) return issue.keys.map((key) => ({ path, message: issue.message.replace(/"[^"]*"(, "[^"]*")*/, `"${key}"`) }));
    return issue.keys.map((key) => {
      const hint = isSwitchNi ? SWITCH_ONLY_HINT[key] : undefined;
      return { path, message: `unknown field "${key}"${hint ? ` (${hint})` : ''}` };
    });
  }
  if (issue.code === 'invalid_type' && input === undefined) return [{ path, message: 'is required' }];
  if (!isPrimitive(input)) return [{ path, message: issue.message }];
  const quoteHint = issue.code === 'invalid_type' && issue.expected === 'string' && typeof input !== 'string' && input !== null ? ' (quote it in YAML)' : '';
  return [{ path, message: `${issue.message}, got ${JSON.stringify(input)}${quoteHint}` }];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPrimitive(v: unknown): v is string | number | boolean | null {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'string' ? `the text ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}` : `${typeof v} ${String(v)}`;
}
