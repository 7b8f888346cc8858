import type { BridgePortDriver } from './bridge-ports.ts';
import type { DhcpDns } from './dhcpdns.ts';
import type { Firewall } from './firewall.ts';
import type { LinkDriver } from './links.ts';
import type { PortLinkDriver } from './port-links.ts';
import type { ProbeDriver } from './probes.ts';
import type { RouteDriver } from './routes.ts';
import type { WriteCounts } from './write-counter.ts';

/** The kernel, as edgenet's actors see it: real in the product, fakes in unit tests. */
export interface Drivers {
  links: LinkDriver;
  firewall: Firewall;
  dhcpdns: DhcpDns;
  routes: RouteDriver;
  /** STP and BPDU guard on switch NIs; without it a config asking for STP fails to build */
  bridgePorts?: BridgePortDriver;
  /** VLAN sub-interfaces and bonds made for ports (ports[].vlan / ports[].bond); without it such ports are refused */
  portLinks?: PortLinkDriver;
  /** reachability probes of ports (ports[].probe); without it no probe runs */
  probes?: ProbeDriver;
}

/** Kernel writes of all drivers, by kind. */
export function writesOf(drivers: Drivers): WriteCounts {
  const counts = drivers.links.writes.snapshot();
  for (const other of [drivers.firewall.writes.snapshot(), drivers.dhcpdns.writes.snapshot(), drivers.routes.writes.snapshot(), ...(drivers.bridgePorts ? [drivers.bridgePorts.writes.snapshot()] : []), ...(drivers.portLinks ? [drivers.portLinks.writes.snapshot()] : [])]) {
    for (const [kind, n] of Object.entries(other) as [keyof WriteCounts, number][]) counts[kind] += n;
  }
  return counts;
}
