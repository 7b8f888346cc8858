import { describe, expect, it } from 'vitest';
import { bridgeName, deriveMac, vethHostName } from '../../src/util/names.ts';
import { parseConfigText } from '../../src/config/config-load.ts';
import { defaultDhcpRange, endpointsOf, networksOf, portsOf, resolveNetwork, subnetInfo } from '../../src/config/config-resolve.ts';

const config = parseConfigText(`
ports:
  - { name: uplink, ifname: eth1 }
  - { name: fieldbus, ifname: eth2 }
  - { name: spare, ifname: eth3 }
networks:
  - { name: lan, type: local, port: uplink, subnet: 10.50.0.0/24, mtu: 1400 }
  - { name: plant, type: switch, port: fieldbus, mtu: 9000 }
  - name: lab
    type: local
    subnet: 10.60.0.0/29
    gateway: 10.60.0.6
    dhcpRange: { start: 10.60.0.2, end: 10.60.0.3 }
    dns: { forwarders: [9.9.9.9], hosts: [{ name: printer, ip: 10.60.0.5 }] }
apps:
  - name: web
    interfaces:
      - { network: lan, netns: /run/netns/web }
      - { network: plant, tap: vif7, mac: 02:00:00:00:07:07 }
      - { network: lab, netns: /run/netns/web, ip: 10.60.0.4 }
  - name: db
    interfaces:
      - { network: lan, netns: 4242, ifname: lan0 }
`);

describe('resolveNetwork', () => {
  it('fills a local NI: first host as gateway, upper half as DHCP range, bridge, port ifname, empty DNS', () => {
    expect(networksOf(config)[0]).toEqual({
      name: 'lan',
      type: 'local',
      bridge: bridgeName('lan'),
      mtu: 1400,
      port: 'uplink',
      portIfname: 'eth1',
      subnet: '10.50.0.0/24',
      prefixlen: 24,
      gateway: '10.50.0.1',
      dhcpRange: { start: '10.50.0.128', end: '10.50.0.254' },
      dns: { forwarders: [], hosts: [] },
      uplinks: [{ port: 'uplink', ifname: 'eth1', portIfname: 'eth1', cost: 0, probed: false, dns: [] }],
      dhcp: { ntp: [] },
      routes: [],
      // its own routing table, derived from its name
      table: 27906,
    });
  });

  it('keeps what is given', () => {
    expect(networksOf(config)[2]).toMatchObject({
      gateway: '10.60.0.6',
      prefixlen: 29,
      dhcpRange: { start: '10.60.0.2', end: '10.60.0.3' },
      dns: { forwarders: ['9.9.9.9'], hosts: [{ name: 'printer', ip: '10.60.0.5' }] },
    });
    expect(networksOf(config)[2]).not.toHaveProperty('port');
  });

  it('resolves a switch NI to its bridge, port and MTU only', () => {
    expect(networksOf(config)[1]).toEqual({ name: 'plant', type: 'switch', bridge: bridgeName('plant'), mtu: 9000, port: 'fieldbus', portIfname: 'eth2' });
  });

  it('works without the ports list (no portIfname)', () => {
    expect(resolveNetwork({ name: 'x', type: 'switch', port: 'uplink' })).toEqual({ name: 'x', type: 'switch', bridge: bridgeName('x'), port: 'uplink' });
  });
});

describe('default DHCP range', () => {
  it.each([
    ['10.0.0.0/24', '10.0.0.1', { start: '10.0.0.128', end: '10.0.0.254' }],
    ['10.0.0.0/16', '10.0.0.1', { start: '10.0.128.0', end: '10.0.255.254' }],
    ['10.0.0.0/29', '10.0.0.1', { start: '10.0.0.4', end: '10.0.0.6' }],
    ['10.0.0.0/30', '10.0.0.1', { start: '10.0.0.2', end: '10.0.0.2' }],
    // a gateway inside the upper half: its larger side is kept
    ['10.0.0.0/24', '10.0.0.254', { start: '10.0.0.128', end: '10.0.0.253' }],
    ['10.0.0.0/24', '10.0.0.128', { start: '10.0.0.129', end: '10.0.0.254' }],
    ['10.0.0.0/24', '10.0.0.200', { start: '10.0.0.128', end: '10.0.0.199' }],
    // nothing left in the upper half: the hosts below the gateway
    ['10.0.0.0/30', '10.0.0.2', { start: '10.0.0.1', end: '10.0.0.1' }],
    // no room at all
    ['10.0.0.0/31', '10.0.0.1', undefined],
    ['10.0.0.0/32', '10.0.0.0', undefined],
  ] as const)('%s with gateway %s → %j', (cidr, gateway, expected) => {
    expect(defaultDhcpRange(subnetInfo(cidr), gateway)).toEqual(expected);
  });
});

describe('endpointsOf', () => {
  it('derives veth and tap endpoints: keys, host names, eth<n> inside names, MACs, MTU of the NI', () => {
    expect(endpointsOf(config)).toEqual([
      {
        key: 'web/lan', app: 'web', network: 'lan', networkType: 'local', kind: 'veth', bridge: bridgeName('lan'),
        hostIfname: vethHostName('web', 'lan'), netns: '/run/netns/web', appIfname: 'eth0', mac: deriveMac('web', 'lan'), mtu: 1400,
      },
      {
        key: 'web/plant', app: 'web', network: 'plant', networkType: 'switch', kind: 'tap', bridge: bridgeName('plant'),
        hostIfname: 'vif7', mac: '02:00:00:00:07:07', mtu: 9000,
      },
      {
        key: 'web/lab', app: 'web', network: 'lab', networkType: 'local', kind: 'veth', bridge: bridgeName('lab'),
        hostIfname: vethHostName('web', 'lab'), netns: '/run/netns/web', appIfname: 'eth1', mac: deriveMac('web', 'lab'), ip: '10.60.0.4',
      },
      {
        key: 'db/lan', app: 'db', network: 'lan', networkType: 'local', kind: 'veth', bridge: bridgeName('lan'),
        hostIfname: vethHostName('db', 'lan'), netns: 4242, appIfname: 'lan0', mac: deriveMac('db', 'lan'), mtu: 1400,
      },
    ]);
  });

  it('host-side names are edgenet-prefixed and fit IFNAMSIZ', () => {
    for (const e of endpointsOf(config).filter((x) => x.kind === 'veth')) {
      expect(e.hostIfname).toMatch(/^en.{1,13}$/);
    }
  });
});

describe('portsOf', () => {
  it('attaches a switch NI\'s port to its bridge, never a local NI\'s uplink; unused ports are tracked only', () => {
    expect(portsOf(config)).toEqual([
      { name: 'uplink', ifname: 'eth1', network: 'lan', attach: false },
      { name: 'fieldbus', ifname: 'eth2', network: 'plant', attach: true, mtu: 9000, moveL3: true },
      { name: 'spare', ifname: 'eth3', attach: false },
    ]);
  });
});
