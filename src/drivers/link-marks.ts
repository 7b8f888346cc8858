// Ownership marks that carry an instance id: `edgenet:<id>:<kind>:<identity>` (a link's IFLA_IFALIAS). Above the
// link driver the code speaks the plain mark `edgenet:<kind>:<identity>`; withInstanceMarks() writes the instance's
// id into every mark it sets and reads it out again, so the rest of edgenet is unchanged. The legacy mark (no id,
// written before instance ids existed) still counts as ours; a mark with another instance's id is not ours: it reads
// as foreign (no sweep, drift check or adoption touches it) and the driver refuses to re-mark it.
import { map } from 'rxjs';
import { ALIAS_PREFIX } from '../util/names.ts';
import type { LinkDriver, LinkInfo } from './links.ts';

const STAMPED_RE = /^edgenet:([0-9a-f]{8}):((?:ni|ep):.+)$/;

/** The instance id of a mark, undefined for a legacy mark (or a link that is not edgenet's). */
export function markInstance(alias: string | undefined): string | undefined {
  return alias === undefined ? undefined : STAMPED_RE.exec(alias)?.[1];
}

/** `edgenet:ni:lan` → `edgenet:<id>:ni:lan` (a mark that is already stamped, or not ours, is left as it is). */
export function stampMark(alias: string, instanceId: string): string {
  if (!alias.startsWith(ALIAS_PREFIX) || STAMPED_RE.test(alias)) return alias;
  return `${ALIAS_PREFIX}${instanceId}:${alias.slice(ALIAS_PREFIX.length)}`;
}

/** `edgenet:<own id>:ni:lan` → `edgenet:ni:lan`; legacy, foreign and other instances' marks are left as they are. */
export function localMark(alias: string, instanceId: string): string {
  const m = STAMPED_RE.exec(alias);
  return m && m[1] === instanceId ? `${ALIAS_PREFIX}${m[2] ?? ''}` : alias;
}

/**
 * May a link that carries `existing` be (re)marked `desired`? Yes when it is the same mark, a legacy edgenet mark
 * (ours, from before instance ids), or a mark of the same instance; no for a foreign alias or another instance's.
 */
export function mayRemark(existing: string, desired: string): boolean {
  if (existing === desired) return true;
  if (!existing.startsWith(ALIAS_PREFIX)) return false;
  const had = markInstance(existing);
  return had === undefined || had === markInstance(desired);
}

function localInfo(link: LinkInfo, instanceId: string): LinkInfo {
  if (link.alias === undefined) return link;
  const alias = localMark(link.alias, instanceId);
  return alias === link.alias ? link : { ...link, alias };
}

/** A link driver whose marks carry `instanceId` (see the file comment). */
export function withInstanceMarks(links: LinkDriver, instanceId: string): LinkDriver {
  const local = (l: LinkInfo): LinkInfo => localInfo(l, instanceId);
  return {
    get writes() {
      return links.writes;
    },
    get overflows() {
      return links.overflows;
    },
    events$: links.events$.pipe(map((ev) => ({ ...ev, link: local(ev.link) }))),
    addressEvents$: links.addressEvents$,
    list: async () => (await links.list()).map(local),
    get: async (ifname) => {
      const l = await links.get(ifname);
      return l && local(l);
    },
    cached: async (ifname) => {
      const l = await links.cached(ifname);
      return l && local(l);
    },
    getByIndex: async (ifindex) => {
      const l = await links.getByIndex(ifindex);
      return l && local(l);
    },
    ensureBridge: async (spec, signal) => local(await links.ensureBridge({ ...spec, alias: stampMark(spec.alias, instanceId) }, signal)),
    ensureVeth: async (spec, signal) => local(await links.ensureVeth({ ...spec, alias: stampMark(spec.alias, instanceId) }, signal)),
    attach: async (spec, signal) => local(await links.attach(spec, signal)),
    setMac: (ifname, mac, signal) => links.setMac(ifname, mac, signal),
    detach: (ifname, signal) => links.detach(ifname, signal),
    deleteLink: (ifname, signal) => links.deleteLink(ifname, signal),
    hasNetns: (netns) => links.hasNetns(netns),
    listAddresses: (ifname) => links.listAddresses(ifname),
    ensureAddress: (ifname, address, prefixlen, signal) => links.ensureAddress(ifname, address, prefixlen, signal),
    deleteAddress: (ifname, address, prefixlen, signal) => links.deleteAddress(ifname, address, prefixlen, signal),
    close: () => links.close(),
  };
}
