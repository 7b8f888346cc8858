import { createHash } from 'node:crypto';

// Kernel object names are derived, short (<= 15 chars) and stable; the full identity goes in the link's alias.

const IFNAMSIZ = 15;
export const LINK_PREFIX = 'en';
export const ALIAS_PREFIX = 'edgenet:';

// names are derived on every push for every endpoint: remember them (bounded by the config's size in practice)
const hashes = new Map<string, string>();

function sha256Hex(identity: string): string {
  let h = hashes.get(identity);
  if (h === undefined) {
    if (hashes.size > 100_000) hashes.clear();
    h = createHash('sha256').update(identity).digest('hex');
    hashes.set(identity, h);
  }
  return h;
}

function shortHash(identity: string, chars = 8): string {
  return sha256Hex(identity).slice(0, chars);
}

/** Bridge of a network instance: `enbr-<ni>` when it fits, else `enbr` + a hash of the name. */
export function bridgeName(ni: string): string {
  const plain = `${LINK_PREFIX}br-${ni}`;
  return plain.length <= IFNAMSIZ ? plain : `${LINK_PREFIX}br${shortHash(`ni:${ni}`, 11)}`;
}

/** Host end of an app's veth on a network instance: `env` + a hash of app and NI (names may be long). */
export function vethHostName(app: string, ni: string): string {
  return `${LINK_PREFIX}v${shortHash(`ep:${app}/${ni}`, 12)}`;
}

export function niAlias(ni: string): string {
  return `${ALIAS_PREFIX}ni:${ni}`;
}

export function endpointAlias(app: string, ni: string): string {
  return `${ALIAS_PREFIX}ep:${app}/${ni}`;
}

/** Parses an ownership mark; undefined for links edgenet does not own. */
export function parseAlias(alias: string | undefined): { kind: 'ni' | 'ep'; identity: string } | undefined {
  if (!alias?.startsWith(ALIAS_PREFIX)) return undefined;
  const rest = alias.slice(ALIAS_PREFIX.length);
  const m = /^(ni|ep):(.+)$/.exec(rest);
  return m ? { kind: m[1] as 'ni' | 'ep', identity: m[2] as string } : undefined;
}

/** Stable, locally administered unicast MAC for an app's interface on a network instance. */
export function deriveMac(app: string, ni: string): string {
  const h = sha256Hex(`mac:${app}/${ni}`);
  return `02:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}:${h.slice(6, 8)}:${h.slice(8, 10)}`;
}

/** Key of an endpoint: an app joins a network instance at most once. */
export function endpointKey(app: string, ni: string): string {
  return `${app}/${ni}`;
}

/** Routing tables of local NIs: 20000..29999 (clear of the kernel's 253–255, EVE's 400+/500+ and DHCP clients' 1000s). */
export const NI_TABLE_BASE = 20000;
const NI_TABLE_SPAN = 10000;

/**
 * A stable routing table id per local NI: derived from its name, so a restart (or another push) finds the same
 * table. Two names whose hashes collide are resolved in name order (the later one takes the next free id).
 */
export function niTableIds(names: readonly string[]): Map<string, number> {
  const ids = new Map<string, number>();
  const taken = new Set<number>();
  for (const name of [...names].sort()) {
    let n = Number.parseInt(shortHash(`table:${name}`, 8), 16) % NI_TABLE_SPAN;
    while (taken.has(n)) n = (n + 1) % NI_TABLE_SPAN;
    taken.add(n);
    ids.set(name, NI_TABLE_BASE + n);
  }
  return ids;
}

/**
 * The order status and dnsmasq's files list names in: by code point, the same on every host (localeCompare's order
 * depends on the locale; for the names the config allows, [a-z0-9-] joined by "/", the two agree). A tenth of
 * localeCompare's cost: sorting 10 000 endpoints took ~15–25 ms of each status.
 */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
