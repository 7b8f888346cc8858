import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/config-load.ts';
import { diffConfig, isEmptyDiff } from '../../src/config/config-diff.ts';

const before = `
ports:
  - { name: uplink, ifname: eth1 }
  - { name: fieldbus, ifname: eth2 }
networks:
  - { name: lan, type: local, port: uplink, subnet: 10.50.0.0/24 }
  - { name: plant, type: switch, port: fieldbus }
apps:
  - name: web
    interfaces:
      - { network: lan, netns: /run/netns/web }
      - { network: plant, tap: vif7 }
`;
const parse = (text: string) => parseConfigText(text);
const edit = (from: string, to: string): string => {
  expect(before).toContain(from);
  return before.replace(from, to);
};

describe('diffConfig', () => {
  it('first apply: everything is added', () => {
    const d = diffConfig(undefined, parse(before));
    expect(d.networks.added.map((n) => n.name)).toEqual(['lan', 'plant']);
    expect(d.endpoints.added.map((e) => e.key)).toEqual(['web/lan', 'web/plant']);
    expect(d.ports.added.map((p) => p.name)).toEqual(['uplink', 'fieldbus']);
    expect(isEmptyDiff(d)).toBe(false);
  });

  it('an unchanged config changes nothing', () => {
    const d = diffConfig(parse(before), parse(before));
    expect(isEmptyDiff(d)).toBe(true);
    expect(d.networks.unchanged).toEqual(['lan', 'plant']);
    expect(d.endpoints.unchanged).toEqual(['web/lan', 'web/plant']);
    expect(d.ports.unchanged).toEqual(['uplink', 'fieldbus']);
  });

  it('spelling out a default is no change', () => {
    const after = edit('subnet: 10.50.0.0/24 }', 'subnet: 10.50.0.0/24, gateway: 10.50.0.1, dhcpRange: { start: 10.50.0.128, end: 10.50.0.254 } }');
    expect(isEmptyDiff(diffConfig(parse(before), parse(after)))).toBe(true);
  });

  it('a DHCP range change updates that NI in place', () => {
    const after = edit('subnet: 10.50.0.0/24 }', 'subnet: 10.50.0.0/24, dhcpRange: { start: 10.50.0.100, end: 10.50.0.199 } }');
    const d = diffConfig(parse(before), parse(after));
    expect(d.networks.changed).toEqual([expect.objectContaining({ key: 'lan', fields: ['dhcpRange'], recreate: false })]);
    expect(d.networks.unchanged).toEqual(['plant']);
    expect(d.endpoints.changed).toEqual([]);
  });

  it('a subnet change recreates that NI alone', () => {
    const after = edit('subnet: 10.50.0.0/24', 'subnet: 10.51.0.0/16');
    const d = diffConfig(parse(before), parse(after));
    expect(d.networks.changed).toHaveLength(1);
    expect(d.networks.changed[0]).toMatchObject({ key: 'lan', recreate: true });
    expect(d.networks.changed[0]?.fields).toEqual(expect.arrayContaining(['subnet', 'prefixlen', 'gateway', 'dhcpRange']));
    expect(d.networks.unchanged).toEqual(['plant']);
  });

  it('a type change recreates the NI', () => {
    const after = edit('{ name: plant, type: switch, port: fieldbus }', '{ name: plant, type: local, subnet: 10.70.0.0/24 }');
    const d = diffConfig(parse(before), parse(after));
    expect(d.networks.changed[0]).toMatchObject({ key: 'plant', recreate: true });
    expect(d.networks.changed[0]?.fields).toContain('type');
    // the port leaves the switch NI: detached, not recreated
    expect(d.ports.changed).toEqual([expect.objectContaining({ key: 'fieldbus', fields: ['network', 'attach', 'moveL3'], recreate: false })]);
  });

  it('an added app adds only its endpoints', () => {
    const after = `${before}  - name: db\n    interfaces:\n      - { network: lan, netns: /run/netns/db }\n`;
    const d = diffConfig(parse(before), parse(after));
    expect(d.endpoints.added.map((e) => e.key)).toEqual(['db/lan']);
    expect(d.endpoints.unchanged).toEqual(['web/lan', 'web/plant']);
    expect(d.networks.changed).toEqual([]);
    expect(d.ports.changed).toEqual([]);
  });

  it('a removed app lists its endpoints with their old specs', () => {
    const after = before.slice(0, before.indexOf('apps:'));
    const d = diffConfig(parse(before), parse(after));
    expect(d.endpoints.removed.map((r) => [r.key, r.before.kind])).toEqual([['web/lan', 'veth'], ['web/plant', 'tap']]);
    expect(d.networks.unchanged).toEqual(['lan', 'plant']);
  });

  it.each([
    ['a static ip updates the endpoint', '{ network: lan, netns: /run/netns/web }', '{ network: lan, netns: /run/netns/web, ip: 10.50.0.9 }', 'web/lan', ['ip'], false],
    ['a given mac recreates the endpoint (the app side is made with it)', '{ network: plant, tap: vif7 }', '{ network: plant, tap: vif7, mac: 02:00:00:00:00:09 }', 'web/plant', ['mac'], true],
    ['another netns recreates the endpoint', '{ network: lan, netns: /run/netns/web }', '{ network: lan, netns: /run/netns/web2 }', 'web/lan', ['netns'], true],
    ['another inside name recreates the endpoint', '{ network: lan, netns: /run/netns/web }', '{ network: lan, netns: /run/netns/web, ifname: lan0 }', 'web/lan', ['appIfname'], true],
    ['another tap recreates the endpoint', '{ network: plant, tap: vif7 }', '{ network: plant, tap: vif8 }', 'web/plant', ['hostIfname'], true],
  ] as const)('%s', (_, from, to, key, fields, recreate) => {
    const d = diffConfig(parse(before), parse(edit(from, to)));
    expect(d.endpoints.changed).toEqual([expect.objectContaining({ key, fields, recreate })]);
    expect(d.networks.changed).toEqual([]);
  });

  it('veth → tap recreates the endpoint', () => {
    const d = diffConfig(parse(before), parse(edit('{ network: lan, netns: /run/netns/web }', '{ network: lan, tap: vif3 }')));
    expect(d.endpoints.changed[0]).toMatchObject({ key: 'web/lan', recreate: true });
    expect(d.endpoints.changed[0]?.fields).toEqual(expect.arrayContaining(['kind', 'hostIfname', 'netns', 'appIfname']));
  });

  it('an MTU change updates the NI and its endpoints in place', () => {
    const d = diffConfig(parse(before), parse(edit('{ name: plant, type: switch, port: fieldbus }', '{ name: plant, type: switch, port: fieldbus, mtu: 9000 }')));
    expect(d.networks.changed).toEqual([expect.objectContaining({ key: 'plant', fields: ['mtu'], recreate: false })]);
    expect(d.endpoints.changed).toEqual([expect.objectContaining({ key: 'web/plant', fields: ['mtu'], recreate: false })]);
    expect(d.ports.changed).toEqual([expect.objectContaining({ key: 'fieldbus', fields: ['mtu'], recreate: false })]);
  });

  it('moving an NI to another port updates it; the port swap shows on both ports', () => {
    const after = edit('{ name: lan, type: local, port: uplink,', '{ name: lan, type: local,')
      .replace('{ name: plant, type: switch, port: fieldbus }', '{ name: plant, type: switch, port: uplink }');
    const d = diffConfig(parse(before), parse(after));
    expect(d.networks.changed.map((c) => [c.key, c.fields, c.recreate])).toEqual([
      ['lan', ['port', 'portIfname', 'uplinks', 'table'], false],
      ['plant', ['port', 'portIfname'], false],
    ]);
    expect(d.ports.changed.map((c) => [c.key, c.fields])).toEqual([
      ['uplink', ['network', 'attach', 'moveL3']],
      ['fieldbus', ['network', 'attach', 'moveL3']],
    ]);
  });

  it('a port with a new ifname is recreated', () => {
    const d = diffConfig(parse(before), parse(edit('{ name: uplink, ifname: eth1 }', '{ name: uplink, ifname: eth9 }')));
    expect(d.ports.changed).toEqual([expect.objectContaining({ key: 'uplink', fields: ['ifname'], recreate: true })]);
    expect(d.networks.changed).toEqual([expect.objectContaining({ key: 'lan', fields: ['portIfname', 'uplinks'], recreate: false })]);
  });
});
