// Where the EVE format meets the CLI, the daemon and the API: pick the format, convert, validate, describe findings.
import { readFile } from 'node:fs/promises';
import type { EdgenetLogger as Logger } from '../util/logger.ts';
import { loadConfigFile, parseConfigText, validateConfig } from '../config/config-load.ts';
import type { ValidateOptions } from '../config/config-load.ts';
import { ConfigError, errorMessage } from '../errors.ts';
import { convertEveConfig, isEveDocument, toEveConfigError } from './eve-convert.ts';
import { convertObjectByObject } from './eve-object-errors.ts';
import type { EveConvertOptions, EveFinding, EveNames, ValidatedEveConversion } from './eve-types.ts';

/** `eve`: an EVE controller's EdgeDevConfig (JSON); `edgenet`: edgenet's own config (YAML or JSON). */
export type ConfigFormat = 'eve' | 'edgenet';
export const CONFIG_FORMATS: readonly ConfigFormat[] = ['eve', 'edgenet'];

export function parseFormat(value: unknown, source = 'format'): ConfigFormat | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'eve' || value === 'edgenet') return value;
  throw new ConfigError([{ path: '', message: `${source} must be "eve" or "edgenet", got ${JSON.stringify(value)}` }]);
}

/**
 * Converts and validates an EdgeDevConfig object by object: an invalid NI or adapter is refused alone (listed in
 * `errors` with its EVE path and rule) and the rest is kept. Only a malformed document (or a duplicate uuid, a bad
 * tapNames entry) is refused whole, with every error naming a path in the EVE document (or in tapNames).
 */
export function validateEveConfig(doc: unknown, opts: EveConvertOptions & ValidateOptions = {}): ValidatedEveConversion {
  return convertObjectByObject(doc, opts.source, (refusals) => {
    const conversion = convertEveConfig(doc, { ...opts, refusals });
    try {
      const config = validateConfig(conversion.config, opts.source, opts.addressesOf ? { addressesOf: opts.addressesOf } : {});
      return { ...conversion, config };
    } catch (err) {
      throw err instanceof ConfigError ? toEveConfigError(err, conversion.sources) : err;
    }
  });
}

/** A document ready for `apply`: edgenet's config as given, or the validated conversion of an EVE document. */
export interface AppliableDocument {
  /** what to hand to `apply` */
  config: unknown;
  eve?: ValidatedEveConversion;
}

/** Picks the format (given, or EVE when the document has `networkInstances`) and converts an EVE document. */
export function toAppliable(doc: unknown, opts: EveConvertOptions & { format?: ConfigFormat | undefined } = {}): AppliableDocument {
  const eve = opts.format === 'eve' || (opts.format === undefined && isEveDocument(doc));
  if (!eve) return { config: doc };
  const { format: _format, ...convert } = opts;
  const conversion = validateEveConfig(doc, convert);
  return { config: conversion.config, eve: conversion };
}

/** Rejections of an EVE document's config by the core (e.g. a subnet on the port's own network) name EVE paths too. */
export function inEveTerms(err: unknown, doc: AppliableDocument): unknown {
  return doc.eve && err instanceof ConfigError ? toEveConfigError(err, doc.eve.sources) : err;
}

/** Reads a `tapNames` map file: a JSON object of `"<app uuid>/<adapter index or name>": "<ifname>"`. */
export async function readTapNamesFile(path: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path: '', message: `cannot read tap names file: ${errorMessage(err)}` }], path);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([{ path: '', message: `tap names: not valid JSON: ${errorMessage(err)}` }], path);
  }
  return parseTapNames(doc, path);
}

export function parseTapNames(doc: unknown, source?: string): Record<string, string> {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ConfigError([{ path: '', message: 'tap names must be a JSON object of "<app uuid>/<adapter index or name>": "<interface name>"' }], source);
  }
  const out: Record<string, string> = {};
  const issues = Object.entries(doc).flatMap(([key, value]) => {
    if (typeof value === 'string') {
      out[key] = value;
      return [];
    }
    return [{ path: `tapNames[${JSON.stringify(key)}]`, message: 'must be an interface name (a string)' }];
  });
  if (issues.length > 0) throw new ConfigError(issues, source);
  return out;
}

export interface LoadDocumentOptions {
  format?: ConfigFormat | undefined;
  tapNamesPath?: string | undefined;
  /** reads edgenet's own format (the daemon's injected loader in tests) */
  loadEdgenet?: (path: string) => unknown;
}

/** Reads a config file in either format. Throws ConfigError (EVE paths for an EVE document). */
export async function loadDocumentFile(path: string, opts: LoadDocumentOptions = {}): Promise<AppliableDocument> {
  const loadEdgenet = opts.loadEdgenet ?? ((p: string) => loadConfigFile(p));
  if (opts.format === 'edgenet') return { config: await loadEdgenet(path) };
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path: '', message: `cannot read config file: ${errorMessage(err)}` }], path);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    // Not JSON: edgenet's YAML (which reports its own errors), unless EVE was asked for.
    if (opts.format === 'eve') throw new ConfigError([{ path: '', message: `an EdgeDevConfig must be JSON: ${errorMessage(err)}` }], path);
    return { config: await loadEdgenet(path) };
  }
  if (opts.format === undefined && !isEveDocument(doc)) return { config: await loadEdgenet(path) };
  const tapNames = opts.tapNamesPath ? await readTapNamesFile(opts.tapNamesPath) : undefined;
  return toAppliable(doc, { format: 'eve', source: path, ...(tapNames ? { tapNames } : {}) });
}

/** loadDocumentFile for a text already read (`-f -`: stdin); `source` names it in errors. */
export async function loadDocumentText(text: string, source: string, opts: Omit<LoadDocumentOptions, 'loadEdgenet'> = {}): Promise<AppliableDocument> {
  if (opts.format === 'edgenet') return { config: parseConfigText(text, source) };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    if (opts.format === 'eve') throw new ConfigError([{ path: '', message: `an EdgeDevConfig must be JSON: ${errorMessage(err)}` }], source);
    return { config: parseConfigText(text, source) };
  }
  if (opts.format === undefined && !isEveDocument(doc)) return { config: parseConfigText(text, source) };
  const tapNames = opts.tapNamesPath ? await readTapNamesFile(opts.tapNamesPath) : undefined;
  return toAppliable(doc, { format: 'eve', source, ...(tapNames ? { tapNames } : {}) });
}

/** One line per finding: `warning network lab: … (networkInstances[2].staticRoutes)`. */
export function formatFindings(findings: readonly EveFinding[]): string[] {
  return findings.map((f) => `${f.level} ${f.subject}: ${f.message} (${f.path})`);
}

/** What the hypervisor must create, one line per app adapter. */
export function formatTaps(names: EveNames): string[] {
  return names.taps.map(
    (t) => `tap ${t.ifname}: app ${t.app} interfaces[${t.adapter}]${t.adapterName ? ` (${t.adapterName})` : ''} on network ${t.network}, mac ${t.mac}${t.ip ? `, ip ${t.ip}` : ''}`,
  );
}

/** The findings an apply answer carries, when the config came from an EVE document. */
export function findingsOf(result: object): EveFinding[] {
  const f = (result as { findings?: unknown }).findings;
  return Array.isArray(f) ? (f as EveFinding[]) : [];
}

/** Format and tap names of a `PUT /v1/config` request: `?format=eve|edgenet&tapNames=<JSON object>`. */
export function requestOptions(url: string): { format?: ConfigFormat; tapNames?: Record<string, string>; source: string } {
  const query = new URL(url, 'http://edgenet').searchParams;
  const format = parseFormat(query.get('format') ?? undefined, '?format=');
  const raw = query.get('tapNames');
  let tapNames: Record<string, string> | undefined;
  if (raw !== null) {
    let doc: unknown;
    try {
      doc = JSON.parse(raw);
    } catch (err) {
      throw new ConfigError([{ path: 'tapNames', message: `?tapNames= must be a JSON object: ${errorMessage(err)}` }], 'request');
    }
    tapNames = parseTapNames(doc, 'request');
  }
  return { source: 'request body', ...(format ? { format } : {}), ...(tapNames ? { tapNames } : {}) };
}

/** Logs what a conversion found and which interfaces the hypervisor must create. */
export function logEveConversion(log: Logger, eve: ValidatedEveConversion, file?: string): void {
  for (const f of eve.findings) {
    const line = { file, path: f.path, subject: f.subject, field: f.field };
    if (f.level === 'warning') log.warn(line, `EVE config: ${f.subject}: ${f.message}`);
    else log.info(line, `EVE config: ${f.subject}: ${f.message}`);
  }
  log.info({ file, taps: eve.names.taps.map((t) => ({ ifname: t.ifname, app: t.app, network: t.network, mac: t.mac })) }, `EVE config: ${eve.names.taps.length} app interface(s) for the hypervisor to create`);
}
