import ipaddr from 'ipaddr.js';
import type { NiSpec, UplinkSpec } from '../../machines/specs.ts';
import type { LinkDriver } from '../drivers/links.ts';
import type { L3Config, RouteDriver, RouteSpec, TableSpec } from '../drivers/routes.ts';
import { staticRoutesOf } from './ni-static-routes.ts';

// A local NI's own routing table: its subnet route (the device's replies to its apps stay on the bridge), the
// connected routes of its ports, and the default route out of the selected port via that port's router. A policy
// rule sends the NI's subnet there, so each NI leaves by its own port whatever the main table prefers.

/** What the data plane knows of one of the NI's ports: configured, else learned from the kernel. */
export interface UplinkFacts {
  name: string;
  ifname: string;
  gateway?: string;
  /** networks of the addresses on the port's L3 interface, e.g. 192.168.77.0/24 */
  connected: string[];
}

/**
 * The port's router (config, else the main table's default route through it) and its connected networks. `moved`:
 * what a switch NI's bridge holds of the port's own (src/services/l3-moves.ts), while it holds it.
 */
export async function learnUplink(u: UplinkSpec, drivers: { links: LinkDriver; routes: RouteDriver }, moved?: (ifname: string) => Promise<L3Config | undefined>): Promise<UplinkFacts> {
  // a port shared with a switch NI: its addresses may still be on the port (before the move) or already on the bridge
  const candidates = u.portIfname === undefined || u.ifname === u.portIfname ? [u.ifname] : [u.ifname, u.portIfname];
  let gateway = u.gateway;
  const connected = new Set<string>();
  const add = (a: { address: string; prefixlen: number }): void => {
    if (!ipaddr.IPv4.isValidFourPartDecimal(a.address) || a.prefixlen >= 32) return;
    connected.add(`${ipaddr.IPv4.networkAddressFromCIDR(`${a.address}/${a.prefixlen}`).toString()}/${a.prefixlen}`);
  };
  for (const ifname of candidates) {
    gateway ??= await drivers.routes.defaultGateway(ifname);
    for (const a of await drivers.links.listAddresses(ifname)) add(a);
  }
  // a port whose addresses are on their way back from a bridge (the switch NI just went): the record still says
  const record = moved && u.portIfname !== undefined ? await moved(u.portIfname) : undefined;
  if (record) {
    for (const a of record.addresses) add(a);
    gateway ??= record.routes.find((r) => r.to === 'default' && r.via !== undefined)?.via;
  }
  return { name: u.port, ifname: u.ifname, ...(gateway !== undefined && { gateway }), connected: [...connected].sort() };
}

/** The default route out of a port: via its router (onlink: the router may sit on a moved port's bridge). */
export function defaultRouteOf(f: UplinkFacts): RouteSpec | undefined {
  return f.gateway !== undefined ? { to: 'default', via: f.gateway, dev: f.ifname, onlink: true } : undefined;
}

/**
 * The NI's table. `selected` names the port the default route goes out of (its only one, or the selection).
 * A port without a known router contributes no default: the NI's traffic then falls through to the main table.
 */
export function niTableSpec(ni: NiSpec, facts: readonly UplinkFacts[], selected: string | undefined): TableSpec | undefined {
  if (ni.table === undefined || ni.subnet === undefined || ni.gateway === undefined) return undefined;
  const routes: RouteSpec[] = [{ to: ni.subnet, dev: ni.bridge, scope: 'link', src: ni.gateway }];
  const seen = new Set([ni.subnet]);
  for (const f of facts) {
    for (const net of f.connected) {
      if (seen.has(net)) continue;
      seen.add(net);
      routes.push({ to: net, dev: f.ifname, scope: 'link' });
    }
  }
  // static routes (issue 15): an app-gateway's via the bridge, a port router's via the port; a destination of one
  // replaces the table's own route to it (EVE: the user's route wins), a static default the port's default
  const statics = staticRoutesOf(ni, facts);
  const overridden = new Set(statics.map((r) => r.to));
  const kept = routes.filter((r, i) => i === 0 || !overridden.has(r.to));
  const chosen = facts.find((f) => f.name === selected) ?? facts[0];
  const def = chosen && defaultRouteOf(chosen);
  if (def && !overridden.has('default')) kept.push(def);
  kept.push(...statics.filter((r) => r.to !== ni.subnet));
  return { table: ni.table, from: [ni.subnet], routes: kept };
}

/** The port the NI's default route goes out of: the selection (several ports) or its only one. */
export function selectedOf(ni: NiSpec): UplinkSpec | undefined {
  const list = ni.uplinks ?? [];
  return list.find((u) => u.port === ni.selectedUplink) ?? list[0];
}
