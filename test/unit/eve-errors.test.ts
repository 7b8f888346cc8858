// A malformed EVE document is refused with the path into the EVE document and the rule it broke; an invalid NI or
// adapter is refused alone (EVE's per-object errors) with that path and rule, and the rest is kept.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issuesOf } from '../helpers/config-issues.ts';
import { ConfigError } from '../../src/errors.ts';
import { loadDocumentFile, validateEveConfig } from '../../src/eve/eve-load.ts';
import type { EveConvertOptions } from '../../src/eve/eve-types.ts';

type Json = Record<string, unknown>;
const ni = (uuid: string, extra: Json = {}): Json => ({ uuidandversion: { uuid }, displayname: uuid, instType: 'ZnetInstLocal', activate: true, ip: { subnet: '10.1.0.0/24' }, ...extra });
const app = (itf: Json): Json => ({ uuidandversion: { uuid: 'app1' }, displayname: 'a', interfaces: [itf] });


describe('EVE documents: a malformed document is refused whole, errors name the EVE path', () => {
  const cases: [string, unknown, string, RegExp, EveConvertOptions?][] = [
    ['not an object', [], '', /must be a JSON object, got a list/],
    ['networkInstances not a list', { networkInstances: 'x' }, 'networkInstances', /must be a list of NetworkInstanceConfig, got "x"/],
    ['an NI without uuid', { networkInstances: [{ displayname: 'x' }] }, 'networkInstances[0].uuidandversion', /is required/],
    ['an unknown enum name', { networkInstances: [ni('n1', { instType: 'ZnetInstLocl' })] }, 'networkInstances[0].instType', /unknown ZNetworkInstType "ZnetInstLocl"/],
    ['a wrong type', { networkInstances: [ni('n1', { activate: 'yes' })] }, 'networkInstances[0].activate', /must be true or false/],
    ['a duplicate NI uuid', { networkInstances: [ni('n1'), ni('n1')] }, 'networkInstances[1].uuidandversion.uuid', /duplicate network instance uuid "n1"/],
    ['a field spelled twice', { networkInstances: [ni('n1', { staticRoutes: [], static_routes: [] })] }, 'networkInstances[0].staticRoutes', /given twice/],
    ['a port interface edgenet owns', { systemAdapterList: [{ name: 'up', lowerLayerName: 'enbr-x' }], networkInstances: [ni('n1', { port: { name: 'up' } })] }, 'systemAdapterList[0].lowerLayerName', /reserved/],
    ['a bad ifname in deviceIoList', { deviceIoList: [{ logicallabel: 'up', phyaddrs: { Ifname: 'bad/name' } }], systemAdapterList: [{ name: 'up' }], networkInstances: [ni('n1', { port: { name: 'up' } })] }, 'deviceIoList[0].phyaddrs.Ifname', /interface name/],
    ['a reserved tap name given alongside', { networkInstances: [ni('n1')], apps: [app({ networkId: 'n1' })] }, 'tapNames["app1/0"]', /reserved/, { tapNames: { 'app1/0': 'enbr-bad' } }],
    ['a too long tap name given alongside', { networkInstances: [ni('n1')], apps: [app({ networkId: 'n1' })] }, 'tapNames["app1/0"]', /interface name/, { tapNames: { 'app1/0': 'waytoolonginterface' } }],
  ];

  it.each(cases)('%s', (_what, doc, path, message, opts) => {
    const issues = issuesOf(() => validateEveConfig(doc, opts ?? {}));
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toBe(path);
    expect(issues[0]?.message).toMatch(message);
  });
});

describe('EVE documents: an invalid NI or adapter is refused alone (per-object errors), the rest is kept', () => {
  const other = ni('ok', { ip: { subnet: '10.200.0.0/24' } });
  const okApp = { uuidandversion: { uuid: 'app2' }, displayname: 'b', interfaces: [{ networkId: 'ok' }] };
  const cases: [string, Json, 'network' | 'adapter', string, string, RegExp][] = [
    ['an unknown port (built air-gapped)', { networkInstances: [ni('n1', { port: { name: 'eth9' } })] }, 'network', 'networkInstances[0]', 'networkInstances[0].port.name', /unknown port "eth9".*air-gapped/],
    ['a label naming no port (built air-gapped)', { systemAdapterList: [{ name: 'eth1', cost: 5 }], networkInstances: [ni('n1', { port: { name: 'freeuplink' } })] }, 'network', 'networkInstances[0]', 'networkInstances[0].port.name', /no port is matching label "freeuplink".*built air-gapped/],
    ['an L2-only port on a local NI (built air-gapped)', { systemAdapterList: [{ name: 'eth1', networkUUID: 'l2' }], networks: [{ id: 'l2', ip: { dhcp: 'DHCPNone' } }], networkInstances: [ni('n1', { port: { name: 'eth1' } })] }, 'network', 'networkInstances[0]', 'networkInstances[0].port.name', /L2-only port eth1 cannot be used in a local network instance.*built air-gapped/],
    ['a second switch NI on a port (built air-gapped)', { systemAdapterList: [{ name: 'eth1' }], networkInstances: [ni('s1', { instType: 'ZnetInstSwitch', port: { name: 'eth1' }, ip: undefined }), ni('s2', { instType: 'ZnetInstSwitch', port: { name: 'eth1' }, ip: undefined })] }, 'network', 'networkInstances[1]', 'networkInstances[1].port.name', /port eth1 is already used by network s1.*built air-gapped/],
    ['an unknown networkId', { networkInstances: [ni('n1')], apps: [app({ networkId: 'nope' })] }, 'adapter', 'apps[0].interfaces[0]', 'apps[0].interfaces[0].networkId', /unknown network instance "nope"/],
    ['a missing networkId', { networkInstances: [ni('n1')], apps: [app({ name: 'x' })] }, 'adapter', 'apps[0].interfaces[0]', 'apps[0].interfaces[0].networkId', /is required/],
    ['a bad subnet', { networkInstances: [ni('n1', { ip: { subnet: '10.1.0.0/33' } })] }, 'network', 'networkInstances[0]', 'networkInstances[0].ip.subnet', /IPv4 prefix/],
    ['a local NI without subnet', { networkInstances: [ni('n1', { ip: undefined })] }, 'network', 'networkInstances[0]', 'networkInstances[0].ip.subnet', /is required/],
    ['a gateway outside the subnet', { networkInstances: [ni('n1', { ip: { subnet: '10.1.0.0/24', gateway: '10.2.0.1' } })] }, 'network', 'networkInstances[0]', 'networkInstances[0].ip.gateway', /outside subnet/],
    ['a DHCP range outside', { networkInstances: [ni('n1', { ip: { subnet: '10.1.0.0/24', dhcpRange: { start: '10.2.0.1', end: '10.1.0.9' } } })] }, 'network', 'networkInstances[0]', 'networkInstances[0].ip.dhcpRange.start', /outside subnet/],
    ['overlapping subnets (the later NI alone)', { networkInstances: [ni('n1'), ni('n2', { ip: { subnet: '10.1.0.128/25' } })] }, 'network', 'networkInstances[1]', 'networkInstances[1].ip.subnet', /overlaps subnet 10\.1\.0\.0\/24/],
    ['a bad MTU', { networkInstances: [ni('n1', { mtu: 100 })] }, 'network', 'networkInstances[0]', 'networkInstances[0].mtu', /at least 576/],
    ['a bad static DNS address', { networkInstances: [ni('n1', { dns: [{ HostName: 'x', Address: ['nope'] }] })] }, 'network', 'networkInstances[0]', 'networkInstances[0].dns[0].Address[0]', /IPv4 address/],
    ['addr outside the subnet', { networkInstances: [ni('n1')], apps: [app({ networkId: 'n1', addr: '10.9.0.5' })] }, 'adapter', 'apps[0].interfaces[0]', 'apps[0].interfaces[0].addr', /outside subnet/],
    ['a multicast MAC', { networkInstances: [ni('n1')], apps: [app({ networkId: 'n1', macAddress: '01:00:5e:00:00:01' })] }, 'adapter', 'apps[0].interfaces[0]', 'apps[0].interfaces[0].macAddress', /unicast MAC/],
    // ACLs (eve-acls.ts): the adapter alone, at the EVE path of the entry
    ['an ACL port out of range', { networkInstances: [ni('n1')], apps: [app({ networkId: 'n1', acls: [{ matches: [{ type: 'protocol', value: 'tcp' }, { type: 'fport', value: '70000' }] }] })] }, 'adapter', 'apps[0].interfaces[0]', 'apps[0].interfaces[0].acls[0].matches[1]', /port number 1–65535/],
    ['an unknown ACL match type', { networkInstances: [ni('n1')], apps: [app({ networkId: 'n1', acls: [{ matches: [{ type: 'vlan', value: '5' }] }] })] }, 'adapter', 'apps[0].interfaces[0]', 'apps[0].interfaces[0].acls[0].matches', /unknown match type "vlan"/],
    ['a bad ACL prefix', { networkInstances: [ni('n1')], apps: [app({ networkId: 'n1', acls: [{ matches: [{ type: 'ip', value: '10.0.0.0/40' }] }] })] }, 'adapter', 'apps[0].interfaces[0]', 'apps[0].interfaces[0].acls[0].matches[0]', /IPv4 address or prefix/],
    ['an ACL limit rate of 0', { networkInstances: [ni('n1')], apps: [app({ networkId: 'n1', acls: [{ matches: [{ type: 'protocol', value: 'icmp' }], actions: [{ limit: true, limitrate: 0 }] }] })] }, 'adapter', 'apps[0].interfaces[0]', 'apps[0].interfaces[0].acls[0].actions[0].limitrate', /at least 1/],
    ['a portmap without appPort', { networkInstances: [ni('n1')], apps: [app({ networkId: 'n1', acls: [{ matches: [{ type: 'protocol', value: 'tcp' }, { type: 'lport', value: '8080' }], actions: [{ portmap: true }] }] })] }, 'adapter', 'apps[0].interfaces[0]', 'apps[0].interfaces[0].acls[0].actions[0].appPort', /needs appPort/],
    ['two actions in one ACL entry', { networkInstances: [ni('n1')], apps: [app({ networkId: 'n1', acls: [{ matches: [], actions: [{ drop: true }, { limit: true, limitrate: 5 }] }] })] }, 'adapter', 'apps[0].interfaces[0]', 'apps[0].interfaces[0].acls[0].actions', /2 actions in one entry/],
    ['one match type twice', { networkInstances: [ni('n1')], apps: [app({ networkId: 'n1', acls: [{ matches: [{ type: 'host', value: 'a.example' }, { type: 'host', value: 'b.example' }] }] })] }, 'adapter', 'apps[0].interfaces[0]', 'apps[0].interfaces[0].acls[0].matches[1]', /a second "host" match/],
    ['an unknown adapter label', { networkInstances: [ni('n1')], apps: [app({ networkId: 'n1', acls: [{ matches: [{ type: 'protocol', value: 'tcp' }, { type: 'lport', value: '22' }, { type: 'adapter', value: 'nope' }], actions: [{ portmap: true, appPort: 22 }] }] })] }, 'adapter', 'apps[0].interfaces[0]', 'apps[0].interfaces[0].acls[0].matches[2]', /adapter "nope" is no port of this network instance/],
  ];

  it.each(cases)('%s', (_what, doc, kind, objectPath, path, message) => {
    // beside it: a valid NI and an app on it, which are kept
    const full = { ...doc, networkInstances: [...(doc['networkInstances'] as Json[]), other], apps: [...((doc['apps'] as Json[] | undefined) ?? []), okApp] };
    const r = validateEveConfig(full);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ kind, path: objectPath });
    expect(r.errors[0]?.reason.startsWith(`${path}: `)).toBe(true);
    expect(r.errors[0]?.reason).toMatch(message);
    expect(r.config.networks.map((n) => n.name)).toContain('ok');
    expect(r.config.apps.find((a) => a.name === 'b')?.interfaces).toMatchObject([{ network: 'ok' }]);
    if (kind === 'network' && !/air-gapped/.test(r.errors[0]?.reason ?? '')) {
      expect(r.names.networks.find((n) => n.uuid !== 'ok' && n.state === 'refused')?.reason).toMatch(message);
    }
  });

  it('refuses the adapters on a refused NI likewise, and lists them as refused taps', () => {
    const r = validateEveConfig({ networkInstances: [ni('n1', { mtu: 100 }), other], apps: [app({ networkId: 'n1' }), okApp] });
    expect(r.errors.map((e) => [e.kind, e.path, e.name])).toEqual([
      ['network', 'networkInstances[0]', 'n1'],
      ['adapter', 'apps[0].interfaces[0]', 'a/n1'],
    ]);
    expect(r.names.taps.find((t) => t.app === 'a')).toMatchObject({ network: 'n1', state: 'refused', reason: 'network instance n1 was refused' });
  });

  it('corrects a DHCP range as EVE does (start on the network or gateway, end on broadcast, capped), with findings', () => {
    const r = validateEveConfig({ networkInstances: [ni('n1', { ip: { subnet: '10.1.0.0/24', gateway: '10.1.0.1', dhcpRange: { start: '10.1.0.1', end: '10.1.0.255' } } }), ni('n2', { ip: { subnet: '10.2.0.0/16', dhcpRange: { start: '10.2.0.0', end: '' } } })] });
    expect(r.errors).toEqual([]);
    const ranges = r.config.networks.map((n) => (n.type === 'local' ? n.dhcpRange : undefined));
    expect(ranges).toEqual([{ start: '10.1.0.2', end: '10.1.0.254' }, { start: '10.2.0.2', end: '10.2.1.1' }]);
    expect(r.findings.filter((f) => f.field === 'ip.dhcpRange').map((f) => [f.path, f.message])).toEqual([
      ['networkInstances[0].ip.dhcpRange', expect.stringMatching(/start 10\.1\.0\.1 is the gateway: starts at 10\.1\.0\.2/)],
      ['networkInstances[0].ip.dhcpRange', expect.stringMatching(/end 10\.1\.0\.255 is the broadcast address: ends at 10\.1\.0\.254/)],
      ['networkInstances[1].ip.dhcpRange', expect.stringMatching(/no DHCP range end/)],
      ['networkInstances[1].ip.dhcpRange', expect.stringMatching(/start 10\.2\.0\.0 is the network address/)],
      ['networkInstances[1].ip.dhcpRange', expect.stringMatching(/start 10\.2\.0\.1 is the gateway/)],
      ['networkInstances[1].ip.dhcpRange', expect.stringMatching(/capped at 10\.2\.1\.1/)],
    ]);
  });
});

describe('EVE documents from a file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-eve-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses text that is not JSON when the format is eve, naming the file', async () => {
    const file = join(dir, 'broken.json');
    await writeFile(file, '{ "networkInstances": [ ');
    const err = await loadDocumentFile(file, { format: 'eve' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/invalid config \(.*broken\.json\): an EdgeDevConfig must be JSON/);
  });

  it('detects the format: networkInstances means EVE, anything else is edgenet (YAML too)', async () => {
    const eve = join(dir, 'eve.json');
    await writeFile(eve, JSON.stringify({ networkInstances: [ni('n1')] }));
    expect((await loadDocumentFile(eve)).eve?.config.networks.map((n) => n.name)).toEqual(['n1']);
    const yaml = join(dir, 'own.yaml');
    await writeFile(yaml, 'networks:\n  - { name: plant, type: switch }\n');
    const own = await loadDocumentFile(yaml);
    expect(own.eve).toBeUndefined();
    expect(own.config).toMatchObject({ networks: [{ name: 'plant', type: 'switch' }] });
    // --format edgenet on an EVE document: edgenet's own schema refuses it
    await expect(loadDocumentFile(eve, { format: 'edgenet' })).rejects.toThrow(/unknown field "networkInstances"/);
  });

  it('reads tap names from a JSON file given alongside', async () => {
    const file = join(dir, 'tapped.json');
    await writeFile(file, JSON.stringify({ networkInstances: [ni('n1')], apps: [app({ networkId: 'n1', acls: [] })] }));
    const taps = join(dir, 'taps.json');
    await writeFile(taps, JSON.stringify({ 'app1/0': 'vif1.0' }));
    expect((await loadDocumentFile(file, { tapNamesPath: taps })).eve?.names.taps.map((t) => t.ifname)).toEqual(['vif1.0']);
    await writeFile(taps, JSON.stringify({ 'app1/0': 7 }));
    await expect(loadDocumentFile(file, { tapNamesPath: taps })).rejects.toThrow(/tapNames\["app1\/0"\]: must be an interface name/);
  });
});
