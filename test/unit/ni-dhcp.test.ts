import { describe, expect, it } from 'vitest';
import type { NiSpec } from '../../machines/specs.ts';
import { classifyRoutes, dhcpOptionsOf } from '../../src/services/ni-dhcp.ts';

const lan = (over: Partial<NiSpec> = {}): NiSpec => ({
  name: 'lan',
  type: 'local',
  bridge: 'enbr-lan',
  subnet: '10.50.0.0/24',
  gateway: '10.50.0.1',
  prefixlen: 24,
  dhcpRange: { start: '10.50.0.100', end: '10.50.0.199' },
  dns: { forwarders: [], hosts: [] },
  uplinks: [{ port: 'up0', ifname: 'eth1', dns: [] }],
  dhcp: { ntp: [] },
  routes: [],
  ...over,
});

describe('what apps are told (DHCP options)', () => {
  it('an NI with a port: router and DNS are the gateway; no classless routes without static routes', () => {
    expect(dhcpOptionsOf(lan())).toEqual({ router: '10.50.0.1', dns: ['10.50.0.1'], ntp: [], routes: [] });
  });

  it('a port-less NI without routes or dhcp.dns: no router and no DNS server', () => {
    expect(dhcpOptionsOf(lan({ uplinks: [] }))).toEqual({ dns: [], ntp: [], routes: [] });
  });

  it('a port-less NI with explicit dhcp.dns tells it, still without a router', () => {
    expect(dhcpOptionsOf(lan({ uplinks: [], dhcp: { dns: ['10.50.0.1'], ntp: ['10.50.0.3'], domain: 'plant.example' } }))).toEqual({
      dns: ['10.50.0.1'],
      ntp: ['10.50.0.3'],
      domain: 'plant.example',
      routes: [],
    });
  });

  it('a port-less NI with a default route via an app offers it as a classless route, DNS the gateway, no router', () => {
    const o = dhcpOptionsOf(lan({ uplinks: [], routes: [{ to: '0.0.0.0/0', via: '10.50.0.5' }] }));
    expect(o).toEqual({ dns: ['10.50.0.1'], ntp: [], routes: [{ to: '0.0.0.0/0', via: '10.50.0.5' }] });
  });

  it('routes via an app stay via the app; via a port router or the gateway become via the gateway; the default comes last', () => {
    const routes = [
      { to: '10.70.0.0/16', via: '10.50.0.20' },
      { to: '172.16.0.0/12', via: '192.168.77.2' },
      { to: '10.80.0.0/16', via: '10.50.0.1' },
    ];
    expect(dhcpOptionsOf(lan({ routes })).routes).toEqual([
      { to: '10.70.0.0/16', via: '10.50.0.20' },
      { to: '172.16.0.0/12', via: '10.50.0.1' },
      { to: '10.80.0.0/16', via: '10.50.0.1' },
      { to: '0.0.0.0/0', via: '10.50.0.1' },
    ]);
    expect(classifyRoutes(lan({ routes })).map((r) => r.kind)).toEqual(['app', 'port', 'gateway']);
  });

  it('a default route via an app on an NI with a port replaces the default via the gateway', () => {
    expect(dhcpOptionsOf(lan({ routes: [{ to: '0.0.0.0/0', via: '10.50.0.5' }] })).routes).toEqual([{ to: '0.0.0.0/0', via: '10.50.0.5' }]);
  });
});

describe('static routes on the device side', () => {
  it('app-gateway via the bridge, a port router via the port, the gateway not at all, an unreachable one left out', async () => {
    const { staticRoutesOf } = await import('../../src/services/ni-static-routes.ts');
    const routes = [
      { to: '10.70.0.0/16', via: '10.50.0.20' },
      { to: '172.16.0.0/12', via: '192.168.77.2' },
      { to: '10.80.0.0/16', via: '10.50.0.1' },
      { to: '10.90.0.0/16', via: '192.168.99.2' },
      { to: '0.0.0.0/0', via: '10.50.0.5' },
    ];
    expect(staticRoutesOf(lan({ routes }), [{ ifname: 'eth1', connected: ['192.168.77.0/24'] }])).toEqual([
      { to: '10.70.0.0/16', via: '10.50.0.20', dev: 'enbr-lan' },
      { to: '172.16.0.0/12', via: '192.168.77.2', dev: 'eth1' },
      { to: 'default', via: '10.50.0.5', dev: 'enbr-lan' },
    ]);
  });
});

describe("static routes in the NI's table", () => {
  it('adds them to the table the routes driver converges; a static default replaces the port default', async () => {
    const { niTableSpec } = await import('../../src/services/ni-routing.ts');
    const facts = [{ name: 'up0', ifname: 'eth1', gateway: '192.168.77.2', connected: ['192.168.77.0/24'] }];
    const spec = niTableSpec(lan({ table: 1234, routes: [{ to: '10.70.0.0/16', via: '10.50.0.20' }, { to: '172.16.0.0/12', via: '192.168.77.9' }] }), facts, 'up0');
    expect(spec?.routes).toEqual([
      { to: '10.50.0.0/24', dev: 'enbr-lan', scope: 'link', src: '10.50.0.1' },
      { to: '192.168.77.0/24', dev: 'eth1', scope: 'link' },
      { to: 'default', via: '192.168.77.2', dev: 'eth1', onlink: true },
      { to: '10.70.0.0/16', via: '10.50.0.20', dev: 'enbr-lan' },
      { to: '172.16.0.0/12', via: '192.168.77.9', dev: 'eth1' },
    ]);
    const viaApp = niTableSpec(lan({ table: 1234, routes: [{ to: '0.0.0.0/0', via: '10.50.0.5' }] }), facts, 'up0');
    expect(viaApp?.routes.filter((r) => r.to === 'default')).toEqual([{ to: 'default', via: '10.50.0.5', dev: 'enbr-lan' }]);
  });
});
