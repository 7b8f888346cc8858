import { createHash } from 'node:crypto';

// Kernel object names are derived, short (<= 15 chars) and stable; the full identity goes in the link's alias.

const IFNAMSIZ = 15;
export const LINK_PREFIX = 'en';
export const ALIAS_PREFIX = 'edgenet:';

function shortHash(identity: string, chars = 8): string {
  return createHash('sha256').update(identity).digest('hex').slice(0, chars);
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
  const h = createHash('sha256').update(`mac:${app}/${ni}`).digest();
  const bytes = [0x02, h[0] ?? 0, h[1] ?? 0, h[2] ?? 0, h[3] ?? 0, h[4] ?? 0];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Key of an endpoint: an app joins a network instance at most once. */
export function endpointKey(app: string, ni: string): string {
  return `${app}/${ni}`;
}
