// Static routes of a local NI on the device side, as EVE's zedrouter treats a route's gateway
// (nireconciler/linux_config.go): the routes this module gives go into the NI's own routing table (src/services/ni-routing.ts).
import ipaddr from 'ipaddr.js';
import type { NiSpec } from '../../machines/specs.ts';
import { classifyRoutes } from './ni-dhcp.ts';

/** One route of the NI's table (the shape of the routes driver's RouteSpec). */
export interface StaticRoute {
  to: string;
  via: string;
  dev: string;
}

/** What the device knows of one of the NI's ports: its L3 interface and the networks of its addresses. */
export interface PortNetworks {
  ifname: string;
  /** e.g. 192.168.77.0/24 */
  connected: readonly string[];
}

/** The kernel spells the default route `default`. */
function kernelTo(to: string): string {
  return to === '0.0.0.0/0' ? 'default' : to;
}

/**
 * The NI's static routes for its table:
 * - via an app on the NI (app-gateway): `to via <app> dev <bridge>` (apps are offered it via the app too);
 * - via a router on one of its ports' subnets: `to via <router> dev <port>` (apps are offered it via the gateway);
 * - via the NI's own gateway: nothing (the NI's traffic is routed like the rest; putting it in the table would send
 *   it to the device's input path instead of forwarding it);
 * - via an address on no port's subnet now (its port has no address yet): left out until it has.
 */
export function staticRoutesOf(ni: Pick<NiSpec, 'bridge' | 'subnet' | 'gateway' | 'routes'>, ports: readonly PortNetworks[]): StaticRoute[] {
  const out: StaticRoute[] = [];
  for (const r of classifyRoutes(ni)) {
    if (r.kind === 'gateway') continue;
    if (r.kind === 'app') {
      out.push({ to: kernelTo(r.to), via: r.via, dev: ni.bridge });
      continue;
    }
    const via = ipaddr.IPv4.parse(r.via);
    const port = ports.find((p) => p.connected.some((net) => via.match(ipaddr.IPv4.parseCIDR(net))));
    if (port) out.push({ to: kernelTo(r.to), via: r.via, dev: port.ifname });
  }
  return out;
}
