// `edgenet/testing`: in-memory drivers with the real ones' semantics, for embedders' unit tests.
//   const drivers = createFakeDrivers();
//   const net = createEdgenet({ stateDir: tmp, drivers });
//   drivers.links.addExternal('eth1'); drivers.links.addNetns('/run/netns/web'); await net.apply(config);
// Kept out of the main entry so a device agent never loads them.
import { createFakeDhcpDns, type FakeDhcpDns, type FakeDhcpDnsOptions } from './drivers/dhcpdns-fake.ts';
import { createFakeFirewall, type FakeFirewall, type FakeFirewallOptions } from './drivers/firewall-fake.ts';
import { createFakeLinkDriver, type FakeLinkDriver } from './drivers/links-fake.ts';
import type { Drivers } from './drivers/drivers.ts';
import { createFakeRouteDriver, type FakeRouteDriver } from './drivers/routes-fake.ts';
import { createFakeBridgePortDriver, type FakeBridgePortDriver } from './drivers/bridge-ports-fake.ts';
import { createFakePortLinkDriver, type FakePortLinkDriver } from './drivers/port-links-fake.ts';
import { createFakeProbeDriver, type FakeProbeDriver } from './drivers/probes-fake.ts';

export { createFakeDhcpDns, FakeDhcpDns } from './drivers/dhcpdns-fake.ts';
export type { FakeDhcpDnsOptions } from './drivers/dhcpdns-fake.ts';
export { createFakeFirewall, FakeFirewall } from './drivers/firewall-fake.ts';
export type { FakeFirewallOp, FakeFirewallOptions, FakeNiView } from './drivers/firewall-fake.ts';
export { createFakeLinkDriver, FakeLinkDriver } from './drivers/links-fake.ts';
export type { FakePeer, LinkOp } from './drivers/links-fake.ts';
export { createFakeRouteDriver, FakeRouteDriver } from './drivers/routes-fake.ts';
export { createFakeBridgePortDriver, FakeBridgePortDriver } from './drivers/bridge-ports-fake.ts';
export { createFakePortLinkDriver, FakePortLinkDriver } from './drivers/port-links-fake.ts';
export { createFakeProbeDriver, FakeProbeDriver } from './drivers/probes-fake.ts';

/** The fakes, typed as themselves so tests can drive them (carrier, taps, namespaces, dnsmasq crashes). */
export interface FakeDrivers extends Drivers {
  links: FakeLinkDriver;
  firewall: FakeFirewall;
  dhcpdns: FakeDhcpDns;
  routes: FakeRouteDriver;
  bridgePorts: FakeBridgePortDriver;
  portLinks: FakePortLinkDriver;
  probes: FakeProbeDriver;
}

export function createFakeDrivers(opts: { firewall?: FakeFirewallOptions; dhcpdns?: FakeDhcpDnsOptions } = {}): FakeDrivers {
  const links = createFakeLinkDriver();
  return {
    links,
    firewall: createFakeFirewall(opts.firewall),
    dhcpdns: createFakeDhcpDns(opts.dhcpdns),
    routes: createFakeRouteDriver({ release: (ifname) => links.detach(ifname) }),
    bridgePorts: createFakeBridgePortDriver(links),
    portLinks: createFakePortLinkDriver(links),
    probes: createFakeProbeDriver(),
  };
}
