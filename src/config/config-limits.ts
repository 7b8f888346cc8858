// Caps on what one config may ask for, checked on the raw document before anything else (schema, cross-checks,
// resolution): a 10 000-network push is refused in microseconds instead of being validated, planned and built.

import type { ConfigIssue } from '../errors.ts';

export interface ConfigLimits {
  /** network instances (local + switch) */
  networks: number;
  /** local network instances: one dnsmasq process each */
  localNetworks: number;
  /** app interfaces (veths and taps) over all apps */
  endpoints: number;
}

export const DEFAULT_LIMITS: Readonly<ConfigLimits> = { networks: 1000, localNetworks: 250, endpoints: 5000 };

/** Where each limit is set, for the messages. */
const KNOB: Record<keyof ConfigLimits, string> = {
  networks: 'limits.networks, edgenet run --max-networks',
  localNetworks: 'limits.localNetworks, edgenet run --max-local-networks',
  endpoints: 'limits.endpoints, edgenet run --max-endpoints',
};

/** Every limit given is a positive integer; throws with the option's name otherwise. */
export function resolveLimits(limits: Partial<ConfigLimits> = {}): ConfigLimits {
  const out = { ...DEFAULT_LIMITS, ...limits };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof ConfigLimits)[]) {
    const v = out[key];
    if (!Number.isInteger(v) || v < 1) throw new Error(`limits.${key}: must be a positive integer, got ${String(v)}`);
  }
  return out;
}

/** Counts on the raw input (not yet validated: anything that is not a list counts as empty, the schema reports it). */
export function checkLimits(input: unknown, limits: ConfigLimits): ConfigIssue[] {
  if (!isRecord(input)) return [];
  const networks = Array.isArray(input['networks']) ? (input['networks'] as unknown[]) : [];
  const apps = Array.isArray(input['apps']) ? (input['apps'] as unknown[]) : [];
  // indexed loops: this runs on every full push (an apps-only push counts what changed, push-cache.ts), unoptimised,
  // where for…of makes an iterator result per app (3 MB of garbage a push at 10 000 apps)
  let locals = 0;
  for (let i = 0; i < networks.length; i++) {
    const ni = networks[i];
    if (isRecord(ni) && ni['type'] === 'local') locals++;
  }
  let endpoints = 0;
  for (let i = 0; i < apps.length; i++) {
    const app = apps[i];
    if (isRecord(app) && Array.isArray(app['interfaces'])) endpoints += (app['interfaces'] as unknown[]).length;
  }

  const issues: ConfigIssue[] = [];
  if (networks.length > limits.networks) {
    issues.push({ path: 'networks', message: `${networks.length} network instances exceed the limit of ${limits.networks} (${KNOB.networks})` });
  }
  if (locals > limits.localNetworks) {
    issues.push({ path: 'networks', message: `${locals} local network instances (one dnsmasq each) exceed the limit of ${limits.localNetworks} (${KNOB.localNetworks})` });
  }
  if (endpoints > limits.endpoints) {
    issues.push({ path: 'apps', message: `${endpoints} app interfaces exceed the limit of ${limits.endpoints} (${KNOB.endpoints})` });
  }
  return issues;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
