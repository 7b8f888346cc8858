// EVE's per-object errors: an invalid NI or an adapter that cannot be served is not built, is listed with its
// reason, and the rest of the document is applied (edgenet's own config keeps its all-or-nothing refusal).
//
// Two sources: the EVE document itself (validation of the converted config names a path; the NI or adapter the
// path is in is refused and the document converted again without it, until what is left is valid), and the core at
// apply time (an adapter that gets no address is refused alone by a partial apply, and built once one is free).
import type { ApplyResult, RefusedEndpoint } from '../edgenet-types.ts';
import { ConfigError } from '../errors.ts';
import type { ConfigIssue } from '../errors.ts';
import { evePathOf } from './eve-convert.ts';
import { parseEdgeDevConfig } from './eve-schema.ts';
import type { EveConversion, EveNames, EveObjectError, EveRefusals } from './eve-types.ts';

/** Rounds of "refuse what is invalid, convert again": each refuses at least one object, so this bounds nothing real. */
const MAX_ROUNDS = 64;

/** The NI or adapter an EVE path is in: `networkInstances[j]…` or `apps[A].interfaces[K]…`. */
export function objectOfPath(path: string, doc: { networkInstances: { uuidandversion: { uuid: string } }[]; apps: { uuidandversion: { uuid: string } }[] }):
  | { kind: 'network'; uuid: string }
  | { kind: 'adapter'; key: string }
  | undefined {
  // a duplicate uuid is the document's fault, not one object's
  if (/\.uuidandversion\.uuid$/.test(path)) return undefined;
  const ni = /^networkInstances\[(\d+)\]/.exec(path);
  if (ni) {
    const uuid = doc.networkInstances[Number(ni[1])]?.uuidandversion.uuid;
    return uuid === undefined ? undefined : { kind: 'network', uuid };
  }
  const ad = /^apps\[(\d+)\]\.interfaces\[(\d+)\]/.exec(path);
  if (ad) {
    const uuid = doc.apps[Number(ad[1])]?.uuidandversion.uuid;
    return uuid === undefined ? undefined : { kind: 'adapter', key: `${uuid}/${Number(ad[2])}` };
  }
  return undefined;
}

/**
 * Converts and validates an EVE document object by object: `attempt` (convert + validate with the refusals so far)
 * is run again without every NI and adapter an error names, until it passes. An error about anything else (the
 * document's shape, a duplicate uuid, tapNames) refuses the whole document, as before. Returns the result of the
 * passing attempt; its `errors` list what was refused.
 */
export function convertObjectByObject<T extends { errors: EveObjectError[] }>(doc: unknown, source: string | undefined, attempt: (refusals: EveRefusals) => T): T {
  const parsed = parseEdgeDevConfig(doc, source);
  const refusals: EveRefusals = { networks: new Map(), adapters: new Map() };
  for (let round = 0; ; round++) {
    let issues: readonly ConfigIssue[];
    try {
      return attempt(refusals);
    } catch (err) {
      if (!(err instanceof ConfigError) || round >= MAX_ROUNDS) throw err;
      issues = err.issues;
    }
    let progress = false;
    for (const issue of issues) {
      const obj = objectOfPath(issue.path, parsed);
      if (!obj) throw new ConfigError(issues, source);
      const map = obj.kind === 'network' ? refusals.networks : refusals.adapters;
      const id = obj.kind === 'network' ? obj.uuid : obj.key;
      if (map.has(id)) continue;
      map.set(id, { path: issue.path, reason: issue.message });
      progress = true;
    }
    if (!progress) throw new ConfigError(issues, source);
  }
}

/**
 * The document's errors with the adapters the core refuses now (no address left) added, and the names with those
 * taps marked refused. `refused` paths are the converted config's (`apps[i].interfaces[j]`).
 */
export function eveErrorsOf(conversion: Pick<EveConversion, 'names' | 'errors' | 'sources'>, refused: readonly RefusedEndpoint[]): { errors: EveObjectError[]; names: EveNames } {
  if (refused.length === 0) return { errors: conversion.errors, names: conversion.names };
  const byKey = new Map(refused.map((r) => [`${r.app}/${r.network}`, r]));
  const errors = [...conversion.errors];
  const taps = conversion.names.taps.map((t) => {
    const r = t.state === undefined ? byKey.get(`${t.app}/${t.network}`) : undefined;
    if (!r) return t;
    errors.push({ kind: 'adapter', path: evePathOf(r.path, conversion.sources), uuid: t.appUuid, name: r.key, adapter: t.adapter, reason: r.reason });
    return { ...t, state: 'refused' as const, reason: r.reason };
  });
  return { errors, names: { ...conversion.names, taps } };
}

/** The apply answer to an EVE document: what changed, the findings, the names, and every object not built. */
export function eveApplyAnswer(result: ApplyResult, conversion: Pick<EveConversion, 'findings' | 'names' | 'errors' | 'sources'>): ApplyResult & { findings: EveConversion['findings']; eve: EveNames; errors: EveObjectError[] } {
  const { errors, names } = eveErrorsOf(conversion, result.refused ?? []);
  return { ...result, findings: conversion.findings, eve: names, errors };
}

/** One line per object not built: `error network lab (networkInstances[1]): subnet … overlaps …`. */
export function formatObjectErrors(errors: readonly EveObjectError[]): string[] {
  return errors.map((e) => `error ${e.kind} ${e.name} (${e.path}): ${e.reason}`);
}

/** The per-object errors an apply answer carries (an EVE document's), else none. */
export function errorsOf(result: object): EveObjectError[] {
  const e = (result as { errors?: unknown }).errors;
  return Array.isArray(e) ? (e as EveObjectError[]) : [];
}
