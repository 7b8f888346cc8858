// What apps on a local NI are told by DHCP, decided the way EVE's zedrouter does (nireconciler/linux_config.go,
// genericitems/dnsmasq.go): options 3, 6, 42, 15/119 and the classless static routes 121/249.
import type { NiSpec } from '../../machines/specs.ts';
import type { DhcpOptionsSpec } from '../drivers/dhcpdns.ts';
import { ipToInt, subnetInfo } from '../config/config-resolve.ts';

/** How a static route's gateway is reached, which decides what apps are offered and what the device installs. */
export type RouteGatewayKind =
  /** an app on the NI routes for the others: apps get the route via it; the NI's routing table has it via the bridge */
  | 'app'
  /** the NI's own gateway: apps get it via the gateway; the device routes it like the rest of the NI's traffic */
  | 'gateway'
  /** an address on one of the NI's ports' subnets: apps get it via the NI's gateway; the NI's table via that router */
  | 'port';

export interface ClassifiedRoute {
  to: string;
  via: string;
  kind: RouteGatewayKind;
}

/** Classifies each of the NI's static routes by its gateway (the checks have refused the rest). */
export function classifyRoutes(ni: Pick<NiSpec, 'subnet' | 'gateway' | 'routes'>): ClassifiedRoute[] {
  if (ni.subnet === undefined || ni.gateway === undefined) return [];
  const s = subnetInfo(ni.subnet);
  return (ni.routes ?? []).map((r) => {
    const n = ipToInt(r.via);
    const inside = n > s.network && n < s.broadcast;
    const kind: RouteGatewayKind = !inside ? 'port' : r.via === ni.gateway ? 'gateway' : 'app';
    return { to: r.to, via: r.via, kind };
  });
}

const DEFAULT_ROUTE = '0.0.0.0/0';

/**
 * The options of a local NI:
 * - router (3): the gateway when the NI has a port; none on a port-less NI (so a multi-homed app keeps its real
 *   default route), where a default route via an app is still offered as a classless route;
 * - DNS (6): `dhcp.dns`, default the gateway — except on a port-less NI with no route to offer, which sends none;
 * - NTP (42), domain (15 and search list 119) as configured;
 * - classless routes (121 and 249): each static route via its app-gateway, or via the NI's gateway; with a router,
 *   the default route via the gateway comes last (RFC 3442: a client that takes 121 ignores option 3).
 */
export function dhcpOptionsOf(ni: NiSpec): DhcpOptionsSpec {
  const gateway = ni.gateway ?? '';
  const hasPort = (ni.uplinks?.length ?? 0) > 0 || ni.port !== undefined;
  const offered: { to: string; via: string }[] = [];
  for (const r of classifyRoutes(ni)) {
    const via = r.kind === 'app' ? r.via : gateway;
    // the default route via the gateway is what the router option says already
    if (hasPort && r.to === DEFAULT_ROUTE && via === gateway) continue;
    if (!offered.some((o) => o.to === r.to)) offered.push({ to: r.to, via });
  }
  const routes = offered.length > 0 && hasPort ? [...offered, ...(offered.some((o) => o.to === DEFAULT_ROUTE) ? [] : [{ to: DEFAULT_ROUTE, via: gateway }])] : offered;
  const dns = ni.dhcp?.dns ?? (hasPort || offered.length > 0 ? [gateway] : []);
  return {
    ...(hasPort && { router: gateway }),
    dns: [...dns],
    ntp: [...(ni.dhcp?.ntp ?? [])],
    ...(ni.dhcp?.domain !== undefined && { domain: ni.dhcp.domain }),
    routes,
  };
}
