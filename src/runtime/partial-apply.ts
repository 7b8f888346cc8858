// A partial apply (EVE semantics) builds the config without the app interfaces it refused.
import type { ResolvedConfig } from '../config/config-diff.ts';
import type { Config } from '../config/config-schema.ts';
import type { ApplyResult } from '../edgenet-types.ts';
import { endpointKey } from '../util/names.ts';

/** The config and its resolution without the endpoints `refused` (keys `<app>/<ni>`); the same objects when none. */
export function withoutEndpoints(config: Config, resolved: ResolvedConfig, refused: ReadonlySet<string>): { config: Config; resolved: ResolvedConfig } {
  if (refused.size === 0) return { config, resolved };
  return {
    config: { ...config, apps: config.apps.map((a) => ({ ...a, interfaces: a.interfaces.filter((i) => !refused.has(endpointKey(a.name, i.network))) })) },
    resolved: { ...resolved, endpoints: resolved.endpoints.filter((e) => !refused.has(e.key)) },
  };
}

/** One answer for a push and the retry it caused (what the retry built counts as created by the push). */
export function mergeResults(first: ApplyResult, retry: ApplyResult): ApplyResult {
  const uniq = (xs: string[]): string[] => [...new Set(xs)];
  return {
    created: uniq([...first.created, ...retry.created]),
    updated: uniq([...first.updated, ...retry.updated]),
    deleted: uniq([...first.deleted, ...retry.deleted]),
    unchanged: first.unchanged,
    ...(retry.refused && { refused: retry.refused }),
  };
}
