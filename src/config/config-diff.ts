import { isDeepStrictEqual } from 'node:util';
import type { Config } from './config-schema.ts';
import { endpointsOf, networksOf, portsOf } from './config-resolve.ts';
import type { EndpointSpec, NetworkResolved, PortSpecResolved } from './config-resolve.ts';

// A push is diffed on the resolved forms, so a default that resolves to the same value is no change.

export interface Changed<T> {
  key: string;
  before: T;
  after: T;
  /** top-level fields of the resolved spec that differ */
  fields: string[];
  /** delete + create of this object alone; false: send UPDATE with `fields` */
  recreate: boolean;
}

export interface Removed<T> {
  key: string;
  before: T;
}

export interface SetDiff<T> {
  added: T[];
  removed: Removed<T>[];
  changed: Changed<T>[];
  /** keys */
  unchanged: string[];
}

export interface ConfigDiff {
  /** keyed by NI name */
  networks: SetDiff<NetworkResolved>;
  /** keyed by `<app>/<network>` */
  endpoints: SetDiff<EndpointSpec>;
  /** keyed by port name */
  ports: SetDiff<PortSpecResolved>;
}

// A new type or subnet is a different bridge address, firewall set and dnsmasq: rebuild that NI.
// (a new gateway too: the old address would stay on the bridge and in apps' leases)
const NETWORK_RECREATE: ReadonlySet<string> = new Set(['type', 'subnet', 'prefixlen', 'gateway']);
// The link itself differs (another kind, namespace, tap or inside name): delete it and create the new one.
// A new MAC too: the app's interface is made with it (a veth already in its netns is not changed in place).
export const ENDPOINT_RECREATE: ReadonlySet<string> = new Set(['kind', 'netns', 'hostIfname', 'appIfname', 'mac']);
// Another NIC altogether.
const PORT_RECREATE: ReadonlySet<string> = new Set(['ifname']);

/** A config in the forms the actors use (see config-resolve.ts). */
export interface ResolvedConfig {
  networks: NetworkResolved[];
  endpoints: EndpointSpec[];
  ports: PortSpecResolved[];
}

export function resolveConfig(config: Config): ResolvedConfig {
  return { networks: networksOf(config), endpoints: endpointsOf(config), ports: portsOf(config) };
}

/** `before` undefined: first apply, everything is added. Both configs must be valid (validateConfig). */
export function diffConfig(before: Config | undefined, after: Config): ConfigDiff {
  return diffResolved(before && resolveConfig(before), resolveConfig(after));
}

/** The same on resolved forms, so a caller that keeps the running config resolved does not resolve it again. */
export function diffResolved(before: ResolvedConfig | undefined, after: ResolvedConfig): ConfigDiff {
  return {
    networks: diffSets(before?.networks ?? [], after.networks, (n) => n.name, NETWORK_RECREATE),
    endpoints: diffSets(before?.endpoints ?? [], after.endpoints, (e) => e.key, ENDPOINT_RECREATE),
    ports: diffSets(before?.ports ?? [], after.ports, (p) => p.name, PORT_RECREATE),
  };
}

export function isEmptyDiff(diff: ConfigDiff): boolean {
  return [diff.networks, diff.endpoints, diff.ports].every((d) => d.added.length + d.removed.length + d.changed.length === 0);
}

function diffSets<T extends object>(before: readonly T[], after: readonly T[], keyOf: (t: T) => string, recreateOn: ReadonlySet<string>): SetDiff<T> {
  const old = new Map(before.map((t) => [keyOf(t), t]));
  const keys = new Set(after.map(keyOf));
  const diff: SetDiff<T> = { added: [], removed: [], changed: [], unchanged: [] };
  for (const spec of after) {
    const key = keyOf(spec);
    const prev = old.get(key);
    if (prev === undefined) {
      diff.added.push(spec);
      continue;
    }
    const fields = changedFields(prev, spec);
    if (fields.length === 0) diff.unchanged.push(key);
    else diff.changed.push({ key, before: prev, after: spec, fields, recreate: fields.some((f) => recreateOn.has(f)) });
  }
  for (const [key, spec] of old) {
    if (!keys.has(key)) diff.removed.push({ key, before: spec });
  }
  return diff;
}

export function changedFields(a: object, b: object): string[] {
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const fields = new Set([...Object.keys(ra), ...Object.keys(rb)]);
  return [...fields].filter((f) => !sameValue(ra[f], rb[f]));
}

/**
 * isDeepStrictEqual() for the resolved forms (plain objects, arrays, strings, numbers, booleans), several times
 * faster on them: a diff of 10 000 endpoints compares every field. Anything else is left to isDeepStrictEqual.
 */
function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const pa: unknown = Object.getPrototypeOf(a);
  const pb: unknown = Object.getPrototypeOf(b);
  if (pa !== pb) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return isDeepStrictEqual(a, b);
    for (let i = 0; i < a.length; i++) if (!(i in a) || !(i in b) || !sameValue(a[i], b[i])) return isDeepStrictEqual(a, b);
    return true;
  }
  if (pa !== Object.prototype) return isDeepStrictEqual(a, b);
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra);
  if (ka.length !== Object.keys(rb).length || Object.getOwnPropertySymbols(a).length + Object.getOwnPropertySymbols(b).length > 0) return isDeepStrictEqual(a, b);
  for (const k of ka) if (!Object.prototype.hasOwnProperty.call(rb, k) || !sameValue(ra[k], rb[k])) return false;
  return true;
}
