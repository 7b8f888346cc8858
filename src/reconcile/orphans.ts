import type { EdgenetLogger as Logger } from '../util/logger.ts';
import type { EndpointSpec, NetworkResolved, PortSpecResolved } from '../config/config-resolve.ts';
import type { Drivers } from '../drivers/drivers.ts';
import { parseAlias } from '../util/names.ts';
import { removeUnusedPortLinks, type WantedPortLink } from './port-links.ts';

// Marked objects that the desired config no longer holds (an NI or app dropped while edgenet was down, or
// everything on `edgenet down`) are removed. Unmarked objects are never touched: a link is ours only by its alias,
// a rule only inside table inet edgenet, a dnsmasq only by its pid file in our state dir and its command line.

export interface Desired {
  networks: readonly NetworkResolved[];
  endpoints: readonly EndpointSpec[];
  ports: readonly PortSpecResolved[];
  /** VLAN/bond ports the config uses (reconcile/port-links.ts); absent: none */
  portLinks?: readonly WantedPortLink[];
}

export const NOTHING: Desired = { networks: [], endpoints: [], ports: [] };

/** Removes orphans; returns what was removed, in words. */
export async function sweepOrphans(drivers: Drivers, desired: Desired, logger?: Logger): Promise<string[]> {
  const removed: string[] = [];
  const bridges = new Set(desired.networks.map((n) => n.bridge));
  const members = new Set([...desired.endpoints.map((e) => e.hostIfname), ...desired.ports.filter((p) => p.attach).map((p) => p.ifname)]);
  const links = await drivers.links.list();

  // app veths first (their bridge may go next), then bridges
  for (const link of links) {
    const mark = parseAlias(link.alias);
    if (mark?.kind === 'ep' && !members.has(link.ifname)) {
      await drivers.links.deleteLink(link.ifname);
      removed.push(`veth ${link.ifname} (${mark.identity})`);
    }
  }
  const ourBridges = new Map(links.filter((l) => parseAlias(l.alias)?.kind === 'ni').map((l) => [l.ifindex, l]));
  for (const link of ourBridges.values()) {
    if (!bridges.has(link.ifname)) {
      await drivers.links.deleteLink(link.ifname);
      removed.push(`bridge ${link.ifname}`);
    }
  }
  // VLAN sub-interfaces and bonds made for ports no NI uses any more
  removed.push(...(await removeUnusedPortLinks(drivers, desired.portLinks ?? [])));
  // a tap or port left in one of our bridges by an app or NI dropped while we were down: released, not deleted
  for (const link of links) {
    const bridge = link.master !== undefined ? ourBridges.get(link.master) : undefined;
    if (bridge && bridges.has(bridge.ifname) && !members.has(link.ifname) && parseAlias(link.alias) === undefined) {
      await drivers.links.detach(link.ifname);
      removed.push(`${link.ifname} released from ${bridge.ifname}`);
    }
  }

  const localNis = new Set(desired.networks.filter((n) => n.type === 'local').map((n) => n.name));
  const rules = await drivers.firewall.dump();
  for (const ni of rules.networks) {
    if (!localNis.has(ni)) {
      await drivers.firewall.removeNetwork(ni);
      removed.push(`rules of ${ni}`);
    }
  }
  // ACL/anti-spoofing rules of app interfaces dropped while edgenet was down
  for (const tag of await drivers.firewall.sweepEndpoints(desired.endpoints.map((e) => e.key))) removed.push(`rules of endpoint ${tag}`);
  for (const ni of await drivers.dhcpdns.known()) {
    if (!localNis.has(ni)) {
      await drivers.dhcpdns.remove(ni);
      removed.push(`dnsmasq of ${ni}`);
    }
  }
  // routing tables: our rules (protocol mark) towards a table no NI of the config owns
  const tables = new Set(desired.networks.flatMap((n) => (n.type === 'local' && n.table !== undefined ? [n.table] : [])));
  for (const table of await drivers.routes.tables()) {
    if (!tables.has(table)) {
      await drivers.routes.removeTable(table);
      removed.push(`routing table ${table}`);
    }
  }
  if (removed.length) logger?.info({ removed }, 'orphans removed');
  return removed;
}
