// EVE EdgeDevConfig → edgenet config: the mapping, the findings for what edgenet does not do, and the names it picks.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { convertEveConfig, evePathOf, isEveDocument } from '../../src/eve/eve-convert.ts';
import { eveAppMac } from '../../src/eve/eve-macs.ts';
import { validateEveConfig } from '../../src/eve/eve-load.ts';
import type { EveFinding } from '../../src/eve/eve-types.ts';

type Json = Record<string, unknown>;
const fixture = (name: string): Json => JSON.parse(readFileSync(new URL(`../fixtures/eve/${name}`, import.meta.url), 'utf8')) as Json;
const brief = (f: EveFinding): string => `${f.level} ${f.subject} ${f.path}`;

const NI = {
  lan: 'a1b2c3d4-0001-4000-8000-00000000000a',
  fieldbus: 'a1b2c3d4-0002-4000-8000-00000000000b',
  lab: 'a1b2c3d4-0003-4000-8000-00000000000c',
};
const WEB = '6f1c2a9b-5d3e-4f60-8a71-92b3c4d5e6f7';

describe('EVE conversion: the mapping', () => {
  const r = validateEveConfig(fixture('edge-dev-config.json'));

  it('maps a local NI with port, DHCP range, the DNS servers apps are told and static DNS entries', () => {
    expect(r.config.ports).toEqual([
      { name: 'eth1', ifname: 'eth1' },
      { name: 'fieldbus', ifname: 'eth2', cost: 10 },
    ]);
    expect(r.config.networks[0]).toEqual({
      name: 'plant-lan',
      type: 'local',
      port: 'eth1',
      mtu: 1500,
      subnet: '10.50.0.0/24',
      gateway: '10.50.0.1',
      dhcpRange: { start: '10.50.0.100', end: '10.50.0.199' },
      // ip.dns is what apps are told (option 6), not dnsmasq's upstream (that is the port's DNS servers)
      dhcp: { dns: ['1.1.1.1', '9.9.9.9'] },
      dns: {
        forwarders: [],
        hosts: [
          { name: 'printer', ips: ['10.50.0.250'] },
          { name: 'historian', ips: ['10.50.0.251'] },
        ],
      },
    });
  });

  it('maps a switch NI on a port named by a shared label, and an air-gapped local NI with its static routes', () => {
    expect(r.config.networks[1]).toEqual({ name: 'fieldbus', type: 'switch', port: 'fieldbus' });
    expect(r.config.networks[2]).toEqual({ name: 'lab-isolated', type: 'local', subnet: '10.60.0.0/24', gateway: '10.60.0.1', routes: [{ to: '192.168.100.0/24', via: '10.60.0.5' }] });
    expect(r.findings.map((f) => f.field)).not.toContain('staticRoutes');
    expect(evePathOf('networks[2].routes[0].via', r.sources)).toBe('networkInstances[2].staticRoutes[0].gateway');
    expect(r.findings.map(brief)).toContain('info network fieldbus networkInstances[1].port.name');
  });

  it('does not create an NI with activate false, and drops the adapters on it with a finding', () => {
    expect(r.config.networks.map((n) => n.name)).not.toContain('spare');
    expect(r.names.networks.find((n) => n.name === 'spare')).toMatchObject({ state: 'inactive', displayname: 'spare' });
    expect(r.findings.map(brief)).toEqual(
      expect.arrayContaining(['info network spare networkInstances[3].activate', 'info app historian apps[1].interfaces[1].networkId']),
    );
    expect(r.config.apps[1]).toEqual({ name: 'historian', interfaces: [{ network: 'lab-isolated', tap: 'nbu7e2d3bacx0', mac: eveAppMac('7e2d3bac-1111-4222-8333-444455556666', NI.lab, 0, 'local') }] });
  });

  it('turns app adapters into tap endpoints with addr as a static reservation and macAddress as the MAC', () => {
    expect(r.config.apps[0]).toEqual({
      name: 'web-hmi',
      interfaces: [
        { network: 'plant-lan', tap: 'nbu6f1c2a9bx0', ip: '10.50.0.10', mac: '02:16:3e:00:00:10' },
        { network: 'fieldbus', tap: 'nbu6f1c2a9bx1', mac: eveAppMac(WEB, NI.fieldbus, 1, 'switch') },
      ],
    });
  });

  it('lists, per app adapter, the interface the hypervisor must create and the MAC the app must use', () => {
    expect(r.names.taps).toEqual([
      { app: 'web-hmi', appUuid: WEB, adapter: 0, adapterName: 'eth0', network: 'plant-lan', networkUuid: NI.lan, ifname: 'nbu6f1c2a9bx0', mac: '02:16:3e:00:00:10', ip: '10.50.0.10' },
      { app: 'web-hmi', appUuid: WEB, adapter: 1, adapterName: 'eth1', network: 'fieldbus', networkUuid: NI.fieldbus, ifname: 'nbu6f1c2a9bx1', mac: eveAppMac(WEB, NI.fieldbus, 1, 'switch') },
      { app: 'historian', appUuid: '7e2d3bac-1111-4222-8333-444455556666', adapter: 0, adapterName: 'eth0', network: 'lab-isolated', networkUuid: NI.lab, ifname: 'nbu7e2d3bacx0', mac: eveAppMac('7e2d3bac-1111-4222-8333-444455556666', NI.lab, 0, 'local') },
    ]);
    for (const t of r.names.taps) expect(t.ifname.length).toBeLessThanOrEqual(15);
  });

  it('keeps the original uuid and display name of every NI and app', () => {
    expect(r.names.networks.map((n) => [n.uuid, n.displayname, n.name, n.state])).toEqual([
      [NI.lan, 'Plant LAN', 'plant-lan', 'built'],
      [NI.fieldbus, 'fieldbus', 'fieldbus', 'built'],
      [NI.lab, 'lab-isolated', 'lab-isolated', 'built'],
      ['a1b2c3d4-0004-4000-8000-00000000000d', 'spare', 'spare', 'inactive'],
    ]);
    expect(r.names.apps).toEqual([
      { uuid: WEB, displayname: 'Web HMI', name: 'web-hmi' },
      { uuid: '7e2d3bac-1111-4222-8333-444455556666', displayname: 'historian', name: 'historian' },
    ]);
  });

  it('says when a port has no NetworkConfig with static DNS servers (its NIs then have no upstream)', () => {
    expect(r.findings.find((f) => f.field === 'networkUUID')).toMatchObject({ level: 'info', path: 'systemAdapterList[0].networkUUID', subject: 'port eth1' });
    expect(r.config.ports[0]).not.toHaveProperty('dns');
  });

  it('reads enums as names or numbers, keys as JSON or proto names, and null as absent', () => {
    const byName = fixture('edge-dev-config.json');
    const byNumber = structuredClone(byName) as { networkInstances: Json[]; apps: { interfaces: Json[] }[] };
    const [lan, fieldbus] = byNumber.networkInstances as [Json, Json];
    lan['instType'] = 2;
    lan['ipType'] = 1;
    fieldbus['instType'] = 'ZnetInstSwitch';
    lan['mtu'] = '1500';
    lan['vlan_access_ports'] = null;
    const adapter = byNumber.apps[0]?.interfaces[0] as Json;
    adapter['mac_address'] = adapter['macAddress'];
    delete adapter['macAddress'];
    const a = validateEveConfig(byName);
    const b = validateEveConfig(byNumber);
    expect(b.config).toEqual(a.config);
    expect(b.findings).toEqual(a.findings);
  });

  it('detects an EdgeDevConfig by its networkInstances', () => {
    expect(isEveDocument(fixture('edge-dev-config.json'))).toBe(true);
    expect(isEveDocument({ networks: [] })).toBe(false);
    expect(isEveDocument([])).toBe(false);
  });
});

describe('EVE conversion: every unsupported field is a finding', () => {
  const r = validateEveConfig(fixture('unsupported.json'));
  const at = (path: string): EveFinding | undefined => r.findings.find((f) => f.path === path);

  it.each([
    ['networks', 'info', 'device', /host's business: only its DNS servers/],
    ['networkInstances[0].port.name', 'info', 'network multi', /shared label "uplink" names 2 ports \(mgmt0, mgmt1\): the network instance NATs out of the one selected/],
    // vlans[] and bonds[] are built (eve-vlans-bonds.ts): what they map to is said
    ['networkInstances[1].port.name', 'info', 'network tagged', /^VLAN 100 \(vlans\[0\]\) on eth2$/],
    ['networkInstances[2].port.name', 'info', 'network bonded', /bonds\[0\]: EVE's primary member \(the first, eth3\)/],
    ['networkInstances[3].instType', 'warning', 'network cloud', /ZnetInstCloud \(3\) is not supported.*not created/],
    ['networkInstances[4].instType', 'warning', 'network mesh', /ZnetInstMesh \(4\) is not supported/],
    ['networkInstances[5].stp.portsWithBpduGuard', 'info', 'network trunk', /only on a switch network instance with several ports: ignored/],
    ['networkInstances[5].forwardLldp', 'warning', 'network trunk', /LLDP.*ignored/],
    ['networkInstances[6].propagateConnectedRoutes', 'warning', 'network svc', /connected subnet is known only for a port with a static subnet.*nothing propagated/],
    ['networkInstances[6].ip.moreNtp[0]', 'warning', 'network svc', /NTP server "pool\.ntp\.org" is not an IPv4 address.*not told to apps/],
    ['apps[0].interfaces[1].allowToDiscover', 'warning', 'app gateway-app', /ignored/],
  ] as const)('%s: %s (%s)', (path, level, subject, message) => {
    const f = at(path);
    expect(f, `no finding at ${path}: ${r.findings.map(brief).join(', ')}`).toBeDefined();
    expect(f?.subject).toBe(subject);
    expect(f?.level).toBe(level);
    expect(f?.message).toMatch(message);
  });

  it('refuses the NIs it cannot build with the reason, and still builds the others', () => {
    expect(r.names.networks.map((n) => [n.name, n.state])).toEqual([
      ['multi', 'built'],
      ['tagged', 'built'],
      ['bonded', 'built'],
      ['cloud', 'refused'],
      ['mesh', 'refused'],
      ['trunk', 'built'],
      ['svc', 'built'],
    ]);
    expect(r.names.networks[3]?.reason).toMatch(/ZnetInstCloud/);
    expect(r.config.networks.map((n) => n.name)).toEqual(['multi', 'tagged', 'bonded', 'trunk', 'svc']);
    // the label "uplink" names both management ports: a local NI on both, each probed by a ping of its gateway
    expect(r.config.networks[0]).toMatchObject({ name: 'multi', ports: ['mgmt0', 'mgmt1'] });
    expect(r.config.ports).toEqual([
      { name: 'mgmt0', ifname: 'eth0', probe: { kind: 'ping' } },
      { name: 'mgmt1', ifname: 'eth1', probe: { kind: 'ping' } },
      { name: 'vlan100', ifname: 'eth2.100', vlan: { parent: 'eth2', id: 100 } },
      { name: 'bond0', ifname: 'bond0', bond: { members: ['eth3'], mode: 'active-backup' } },
      { name: 'eth2', ifname: 'eth2' },
    ]);
    // gateway-app's adapter on svc port-maps on a port-less NI: that adapter alone is refused, with the EVE path
    expect(r.config.apps.map((a) => [a.name, a.interfaces.map((i) => i.network)])).toEqual([
      ['gateway-app', ['multi', 'trunk']],
      ['logger', ['svc']],
    ]);
    expect(r.errors.find((e) => e.path === 'apps[0].interfaces[2]')?.reason).toBe(
      'apps[0].interfaces[2].acls[1].actions[0]: network "svc" has no port: nothing can arrive to forward (portmap needs a local network with a port)',
    );
    // an adapter without ACL entries gets none of its own: EVE lets it do nothing but DHCP and DNS
    expect(r.config.apps[1]?.interfaces[0]?.acls).toEqual([]);
  });

  it('accepts allow-all ACLs silently', () => {
    expect(at('apps[0].interfaces[1].acls')).toBeUndefined();
  });
});

describe('EVE conversion: smaller rules', () => {
  const ni = (uuid: string, extra: Json = {}): Json => ({ uuidandversion: { uuid }, displayname: uuid.slice(0, 4), instType: 'ZnetInstLocal', activate: true, ...extra });
  const allowAll = [{ matches: [{ type: 'ip', value: '0.0.0.0/0' }] }];

  it('shares a port as EVE does: any number of local NIs and one switch NI; a second switch NI goes without it', () => {
    const sw = (uuid: string): Json => ({ uuidandversion: { uuid }, displayname: uuid.slice(0, 4), instType: 'ZnetInstSwitch', activate: true, port: { name: 'eth1' } });
    const doc = {
      systemAdapterList: [{ name: 'eth1' }],
      networkInstances: [
        ni('n1aa', { port: { name: 'eth1' }, ip: { subnet: '10.1.0.0/24' } }),
        ni('n2bb', { port: { name: 'eth1' }, ip: { subnet: '10.2.0.0/24' } }),
        sw('s1cc'),
        ni('n3dd', { port: { name: 'eth1' }, ip: { subnet: '10.3.0.0/24' } }),
        sw('s2ee'),
      ],
    };
    const r = convertEveConfig(doc);
    expect(r.config.networks?.map((n) => [n.name, n.port])).toEqual([
      ['n1aa', 'eth1'],
      ['n2bb', 'eth1'],
      ['s1cc', 'eth1'],
      ['n3dd', 'eth1'],
      ['s2ee', undefined],
    ]);
    // one edgenet port for the adapter, whoever uses it
    expect(r.config.ports).toEqual([{ name: 'eth1', ifname: 'eth1' }]);
    expect(r.errors).toEqual([
      expect.objectContaining({ kind: 'network', path: 'networkInstances[4]', reason: expect.stringMatching(/port\.name: port eth1 is already used by network s1cc.*built air-gapped/) }),
    ]);
    // no deviceIoList: the adapter's name is taken as the interface name, and said so
    expect(r.findings).toContainEqual(expect.objectContaining({ level: 'info', path: 'networkInstances[0].port.name', message: expect.stringMatching(/taking "eth1" as the interface name/) }));
  });

  it('resolves EVE labels: shared labels, uplink, freeuplink, all; costs on the ports; L2-only ports kept out of local NIs', () => {
    const doc = {
      deviceIoList: [
        { logicallabel: 'eth0', phyaddrs: { Ifname: 'eth0' }, usage: 'PhyIoUsageMgmtAndApps' },
        { logicallabel: 'eth1', phyaddrs: { Ifname: 'eth1' }, usage: 'PhyIoUsageMgmtAndApps' },
        { logicallabel: 'eth2', phyaddrs: { Ifname: 'eth2' }, usage: 'PhyIoUsageShared' },
      ],
      systemAdapterList: [
        { name: 'wan0', lowerLayerName: 'eth0', sharedLabels: ['wan'] },
        { name: 'wan1', lowerLayerName: 'eth1', sharedLabels: ['wan'], cost: 20 },
        { name: 'l2', lowerLayerName: 'eth2', sharedLabels: ['wan'], networkUUID: 'net-l2' },
      ],
      networks: [{ id: 'net-l2', ip: { dhcp: 'DHCPNone' } }],
      networkInstances: [
        ni('n1aa', { port: { name: 'wan' }, ip: { subnet: '10.1.0.0/24' } }),
        ni('n2bb', { port: { name: 'uplink' }, ip: { subnet: '10.2.0.0/24' } }),
        ni('n3cc', { port: { name: 'freeuplink' }, ip: { subnet: '10.3.0.0/24' } }),
        ni('n4dd', { port: { name: 'all' }, ip: { subnet: '10.4.0.0/24' } }),
        ni('n5ee', { port: { name: 'wan0' }, ip: { subnet: '10.5.0.0/24' } }),
      ],
    };
    const r = convertEveConfig(doc);
    const ports = (n: { port?: string; ports?: string[] }): string[] => n.ports ?? (n.port !== undefined ? [n.port] : []);
    expect(r.config.networks?.map((n) => [n.name, ports(n)])).toEqual([
      ['n1aa', ['wan0', 'wan1']],
      ['n2bb', ['wan0', 'wan1']],
      ['n3cc', ['wan0']],
      ['n4dd', ['wan0', 'wan1']],
      ['n5ee', ['wan0']],
    ]);
    // the cost carried over; EVE's gateway ping on the free ports of a multi-port local NI (gw_ping_max_cost 0)
    expect(r.config.ports).toEqual([
      { name: 'wan0', ifname: 'eth0', probe: { kind: 'ping' } },
      { name: 'wan1', ifname: 'eth1', cost: 20 },
    ]);
    expect(r.sources['ports[1].cost']).toBe('systemAdapterList[1].cost');
    // the L2-only port is left out of local NIs with an error each NI carries (built on the others)
    expect(r.errors.map((e) => [e.path, e.reason])).toEqual([
      ['networkInstances[0]', 'networkInstances[0].port.name: L2-only port l2 cannot be used in a local network instance: built on wan0, wan1'],
      ['networkInstances[3]', 'networkInstances[3].port.name: L2-only port l2 cannot be used in a local network instance: built on wan0, wan1'],
    ]);
  });

  it('accepts shared-ports.json: a local NI on a label naming two ports, three local NIs on one port', () => {
    const r = validateEveConfig(fixture('shared-ports.json'));
    expect(r.errors).toEqual([]);
    expect(r.config.networks.map((n) => [n.name, n.port ?? n.ports])).toEqual([
      ['both-wans', ['wan0', 'wan1']],
      ['default', 'wan0'],
      ['cameras', 'wan0'],
      ['historian', 'wan0'],
    ]);
    expect(r.config.ports).toEqual([
      { name: 'wan0', ifname: 'eth1', probe: { kind: 'ping' } },
      { name: 'wan1', ifname: 'eth2', cost: 10 },
    ]);
    expect(r.config.apps.map((a) => a.interfaces[0]?.network)).toEqual(['both-wans', 'default', 'cameras', 'historian']);
  });

  it('builds an NI on a label naming no port air-gapped, with an error', () => {
    const r = convertEveConfig({ systemAdapterList: [{ name: 'eth1', cost: 5 }], networkInstances: [ni('n1aa', { port: { name: 'freeuplink' }, ip: { subnet: '10.1.0.0/24' } })] });
    expect(r.config.networks?.[0]?.port).toBeUndefined();
    expect(r.errors[0]?.reason).toBe('networkInstances[0].port.name: no port is matching label "freeuplink": built air-gapped');
  });

  it('serves a second adapter of an app on the same NI as an app of its own, with its own MAC, tap and name', () => {
    const doc = {
      networkInstances: [ni('n1aa', { ip: { subnet: '10.1.0.0/24' } })],
      apps: [
        {
          uuidandversion: { uuid: 'a0a0a0a0-1' },
          displayname: 'x',
          interfaces: [{ networkId: 'n1aa', acls: allowAll }, { name: 'data', networkId: 'n1aa', acls: allowAll }],
        },
      ],
    };
    const r = convertEveConfig(doc);
    const mac0 = eveAppMac('a0a0a0a0-1', 'n1aa', 0, 'local');
    const mac1 = eveAppMac('a0a0a0a0-1', 'n1aa', 1, 'local');
    expect(mac0).not.toBe(mac1);
    expect(r.config.apps).toEqual([
      { name: 'x', interfaces: [{ network: 'n1aa', tap: 'nbua0a0a0a0x0', mac: mac0 }] },
      { name: 'x-data', interfaces: [{ network: 'n1aa', tap: 'nbua0a0a0a0x1', mac: mac1 }] },
    ]);
    expect(r.names.taps.map((t) => [t.app, t.adapter, t.ifname])).toEqual([
      ['x', 0, 'nbua0a0a0a0x0'],
      ['x-data', 1, 'nbua0a0a0a0x1'],
    ]);
    expect(r.findings.map(brief)).toEqual(['info app x apps[0].interfaces[1].networkId']);
    expect(evePathOf('apps[1].interfaces[0].mac', r.sources)).toBe('apps[0].interfaces[1]');
    expect(() => validateEveConfig(doc)).not.toThrow();
  });

  it('gives the MAC EVE gives (pillar generateAppMac, cluster-deterministic): from UUIDs and adapter index only', () => {
    // reference values computed independently (python hashlib) from EVE's algorithm
    expect(eveAppMac('6f1c2a9b-5d3e-4f60-8a71-92b3c4d5e6f7', 'a1b2c3d4-0001-4000-8000-00000000000a', 0, 'local')).toBe('02:28:59:6b:c9:03');
    expect(eveAppMac('6f1c2a9b-5d3e-4f60-8a71-92b3c4d5e6f7', 'a1b2c3d4-0001-4000-8000-00000000000a', 0, 'switch')).toBe('02:16:3e:00:28:59');
    expect(eveAppMac('6f1c2a9b-5d3e-4f60-8a71-92b3c4d5e6f7', 'a1b2c3d4-0001-4000-8000-00000000000a', 1, 'local')).toBe('e6:63:39:b4:de:63');
    const doc = (displayname: string): Json => ({
      networkInstances: [ni('a1b2c3d4-0001-4000-8000-00000000000a', { ip: { subnet: '10.1.0.0/24' } })],
      apps: [{ uuidandversion: { uuid: '6f1c2a9b-5d3e-4f60-8a71-92b3c4d5e6f7' }, displayname, interfaces: [{ networkId: 'a1b2c3d4-0001-4000-8000-00000000000a', acls: allowAll }] }],
    });
    // a renamed app keeps its MAC
    expect(convertEveConfig(doc('web')).names.taps[0]?.mac).toBe('02:28:59:6b:c9:03');
    expect(convertEveConfig(doc('Web HMI v2')).names.taps[0]?.mac).toBe('02:28:59:6b:c9:03');
  });

  it('recognises every allow-all ACL form of EVE tests and reports no empty cfg', () => {
    const forms = [
      [{ matches: [{ type: 'ip', value: '0.0.0.0/0' }] }],
      [{ matches: [{ type: 'protocol', value: 'all' }, { type: 'ip', value: '0.0.0.0/0' }] }],
      [{ matches: [{ type: 'ip', value: '::/0' }] }],
      [{ matches: [{ type: 'ip', value: '0.0.0.0/0' }] }, { matches: [{ type: 'ip', value: '::/0' }] }],
    ];
    for (const acls of forms) {
      const doc = { networkInstances: [ni('n1aa', { ip: { subnet: '10.1.0.0/24' }, cfg: {} })], apps: [{ uuidandversion: { uuid: 'a0a0a0a0-1' }, displayname: 'x', interfaces: [{ networkId: 'n1aa', acls }] }] };
      expect(convertEveConfig(doc).findings.map(brief)).toEqual([]);
    }
    const limited = { networkInstances: [ni('n1aa', { ip: { subnet: '10.1.0.0/24' }, cfg: { oconfig: 'x' } })], apps: [{ uuidandversion: { uuid: 'a0a0a0a0-1' }, displayname: 'x', interfaces: [{ networkId: 'n1aa', acls: [{ matches: [{ type: 'protocol', value: 'tcp' }, { type: 'ip', value: '0.0.0.0/0' }] }] }] }] };
    expect(convertEveConfig(limited).findings.map(brief)).toEqual(['warning network n1aa networkInstances[0].cfg']);
    expect(convertEveConfig(limited).config.apps?.[0]?.interfaces?.[0]?.acls).toEqual([{ match: { protocol: 'tcp', ip: '0.0.0.0/0' } }]);
  });

  it('ignores addr on a switch NI and IPv6 DNS servers, with findings; refuses an IPv6 local NI', () => {
    const doc = {
      networkInstances: [
        ni('s1', { instType: 'ZnetInstSwitch' }),
        ni('l1', { ip: { subnet: '10.1.0.0/24', dns: ['2001:db8::53', '10.1.0.53'] } }),
        ni('v6', { ip: { subnet: 'fd00::/64' } }),
      ],
      apps: [{ uuidandversion: { uuid: 'app1' }, displayname: 'a', interfaces: [{ networkId: 's1', addr: '10.9.9.9', acls: allowAll }] }],
    };
    const r = validateEveConfig(doc);
    expect(r.config.apps[0]?.interfaces[0]?.ip).toBeUndefined();
    expect(r.config.networks.find((n) => n.name === 'l1')).toMatchObject({ dhcp: { dns: ['10.1.0.53'] } });
    expect(r.findings.map(brief)).toEqual(
      expect.arrayContaining(['info app a apps[0].interfaces[0].addr', 'warning network l1 networkInstances[1].ip.dns[0]', 'warning network v6 networkInstances[2].ip.subnet']),
    );
  });

  it('serves a static DNS entry (any DNS name) with every IPv4 address, and skips entries without one', () => {
    const doc = {
      networkInstances: [
        ni('l1', {
          ip: { subnet: '10.1.0.0/24' },
          dns: [
            { HostName: 'NAS', Address: ['10.1.0.7', '10.1.0.8'] },
            { HostName: 'db.plant.example', Address: ['10.1.0.9', 'fd00::9'] },
            { HostName: 'v6only', Address: ['fd00::10'] },
          ],
        }),
      ],
    };
    const r = validateEveConfig(doc);
    expect(r.config.networks[0]).toMatchObject({ dns: { hosts: [{ name: 'nas', ips: ['10.1.0.7', '10.1.0.8'] }, { name: 'db.plant.example', ips: ['10.1.0.9'] }] } });
    expect(r.findings.map((f) => f.path)).toEqual(['networkInstances[0].dns[1].Address', 'networkInstances[0].dns[2].Address']);
  });

  it('takes tap names from the map given alongside, by adapter index or name, and reports unused keys', () => {
    const doc = {
      networkInstances: [ni('l1', { ip: { subnet: '10.1.0.0/24' } }), ni('l2', { ip: { subnet: '10.2.0.0/24' } })],
      apps: [{ uuidandversion: { uuid: 'b1b1b1b1-2' }, displayname: 'vm', interfaces: [{ name: 'lan', networkId: 'l1', acls: allowAll }, { networkId: 'l2', acls: allowAll }] }],
    };
    const r = convertEveConfig(doc, { tapNames: { 'b1b1b1b1-2/lan': 'vif3.0', 'b1b1b1b1-2/1': 'vif3.1', 'nope/0': 'x' } });
    expect(r.names.taps.map((t) => t.ifname)).toEqual(['vif3.0', 'vif3.1']);
    expect(r.findings.map(brief)).toEqual(['warning device tapNames["nope/0"]']);
  });
});
