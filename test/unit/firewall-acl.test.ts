// ACLs, port forwards and anti-spoofing: what is rendered for an app interface, and what a push costs, on the fakes.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { aclRuleSchema, type AclRuleInput } from '../../src/config/acl-schema.ts';
import { aclPlumbing, endpointChains, endpointNames, endpointTag, ensureCommands, hostSetName, spoofSources, type EndpointRules } from '../../src/drivers/firewall-acl.ts';
import { renderDnsmasqFiles, dnsmasqPaths } from '../../src/drivers/dhcpdns-dnsmasq.ts';
import { createEdgenet } from '../../src/edgenet.ts';
import type { Edgenet } from '../../src/edgenet-types.ts';
import { createFakeDrivers, type FakeDrivers } from '../../src/testing.ts';

const rules = (input: AclRuleInput[]) => input.map((r) => aclRuleSchema.parse(r));

function ep(over: Partial<EndpointRules> = {}): EndpointRules {
  return {
    key: 'web/lan',
    app: 'web',
    network: 'lan',
    bridge: 'enbr-lan',
    hostIfname: 'env327be544d61c',
    mac: '02:00:00:00:00:10',
    ip: '10.50.0.10',
    gateway: '10.50.0.1',
    subnet: '10.50.0.0/24',
    ports: [{ name: 'up0', ifname: 'eth1' }],
    antiSpoof: true,
    exempt: [],
    staticHosts: [],
    ...over,
  };
}

const text = (x: unknown): string => JSON.stringify(x);

describe('endpoint rules (render)', () => {
  it('anti-spoofing only, without ACLs: elements of the shared sets (MAC, ARP, source address), the interface guarded last', () => {
    const c = endpointChains(ep({ mac: '02:00:00:00:00:AB' }), 'spec1');
    expect(c.out).toEqual([]);
    const tag = endpointTag('web/lan');
    const ifname = 'env327be544d61c';
    expect(c.spoof).toEqual([
      { set: 'as-mac', val: { concat: [ifname, '02:00:00:00:00:ab'] }, comment: `edgenet ep=${tag}` },
      { set: 'as-arp', val: { concat: [ifname, '10.50.0.10'] }, comment: `edgenet ep=${tag}` },
      { set: 'as-arp', val: { concat: [ifname, '0.0.0.0'] }, comment: `edgenet ep=${tag}` },
      { set: 'as-ip', val: { concat: [ifname, '10.50.0.10'] }, comment: `edgenet ep=${tag}` },
      { set: 'as-ip', val: { concat: [ifname, '0.0.0.0'] }, comment: `edgenet ep=${tag}` },
      { set: 'as-drops', val: ifname, comment: `edgenet ep=${tag}` },
      { set: 'as-guarded', val: ifname, comment: `edgenet ep=${tag} spec=spec1` },
    ]);
  });

  it('the shared anti-spoofing chain: MAC, ARP, source address (or an exempt prefix), DHCP server replies; each drop counted per interface', () => {
    const chain = aclPlumbing(true).flatMap((c) => (c.add?.rule?.['chain'] === 'as-check' ? [text(c.add.rule['expr'])] : []));
    expect(chain).toHaveLength(5);
    expect(chain[3]).toContain('"right":"@as-ip"');
    expect(chain[3]).toContain('"right":"@as-exempt"');
    expect(chain[4]).toContain('"sport"}},"right":67');
    for (const r of chain) expect(r).toContain('{"set":{"op":"update","elem":{"meta":{"key":"iifname"}},"set":"@as-drops"}},{"drop":null}');
  });

  it('app-gateway: prefixes routed via the app are allowed as sources, none inside another (an interval set refuses overlaps)', () => {
    const c = endpointChains(ep({ exempt: ['192.168.5.0/24', '192.168.5.128/25', '10.9.9.9/16'] }));
    expect(c.spoof.filter((e) => e.set === 'as-exempt').map((e) => e.val)).toEqual([
      { concat: ['env327be544d61c', { prefix: { addr: '10.9.0.0', len: 16 } }] },
      { concat: ['env327be544d61c', { prefix: { addr: '192.168.5.0', len: 24 } }] },
    ]);
    expect(spoofSources(['0.0.0.0/0', '10.0.0.1'])).toEqual([{ prefix: { addr: '0.0.0.0', len: 0 } }]);
    expect(spoofSources(['10.0.0.1/32', '10.0.0.2'])).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('an allow rule matches both directions (EVE: ip = destination out, source in; fport = remote port), then deny', () => {
    const c = endpointChains(ep({ acls: rules([{ match: { protocol: 'tcp', fport: 80, ip: '192.0.2.0/24' } }]) }));
    const out = text(c.out);
    expect(out).toContain('"field":"daddr"}},"right":{"prefix":{"addr":"192.0.2.0","len":24}}');
    expect(out).toContain('"field":"dport"}},"right":80');
    const inn = text(c.in);
    expect(inn).toContain('"field":"saddr"}},"right":{"prefix":{"addr":"192.0.2.0","len":24}}');
    expect(inn).toContain('"field":"sport"}},"right":80');
    expect(c.out.at(-1)).toEqual([{ counter: endpointNames('web/lan').deny }, { drop: null }]);
    // no rule allows ICMP to the gateway: the gateway chain only drops pings
    expect(c.gw).toHaveLength(1);
    expect(c.counters.map((x) => x.name)).toContain(endpointNames('web/lan').deny);
  });

  it('a ping of the gateway is allowed when a rule allows ICMP to it', () => {
    const c = endpointChains(ep({ acls: rules([{ match: { protocol: 'icmp', ip: '10.50.0.0/24' } }]) }));
    expect(c.gw).toHaveLength(2);
    expect(text(c.gw[0])).toContain('"return":null');
  });

  it('limit: a drop over the rate, then a counted return', () => {
    const c = endpointChains(ep({ acls: rules([{ match: { protocol: 'icmp' }, action: 'limit', limit: { rate: 10, unit: 'second', burst: 5 } }]) }));
    expect(text(c.out)).toContain('{"limit":{"rate":10,"per":"second","burst":5,"inv":true}},{"drop":null}');
  });

  it('portmap: DNAT from the port (address-independent) and from apps (hairpin), SNAT for the NI itself', () => {
    const c = endpointChains(ep({ acls: rules([{ match: { protocol: 'tcp', lport: 8080 }, action: 'portmap', appPort: 80 }]) }));
    expect(c.dnat).toHaveLength(2);
    expect(text(c.dnat[0])).toContain('"right":"eth1"');
    expect(text(c.dnat[0])).toContain('{"fib":{"result":"type","flags":["daddr","iif"]}}');
    expect(text(c.dnat[0])).toContain('{"dnat":{"family":"ip","addr":"10.50.0.10","port":80}}');
    expect(text(c.dnat[1])).toContain('"iifkind"');
    expect(c.snat).toHaveLength(1);
    expect(text(c.in)).toContain('"right":"dnat"');
  });

  it('host: a set per rule, pre-filled from the NI\'s static entries of that name', () => {
    const c = endpointChains(ep({ acls: rules([{ match: { host: 'example.com' } }]), staticHosts: [{ name: 'api.example.com', ip: '192.0.2.7' }, { name: 'other', ip: '192.0.2.8' }] }));
    expect(c.sets).toEqual([{ name: hostSetName('web/lan', 1), elements: ['192.0.2.7'] }]);
    expect(text(c.out)).toContain(`"@${hostSetName('web/lan', 1)}"`);
  });

  it('one transaction holds the table plumbing and the endpoint (inet and bridge families)', () => {
    const cmds = ensureCommands(ep({ acls: [] }), { inetChains: [], inetCounters: [], inetSets: [], elements: [], natRules: [], spoofElements: [], bridgeChain: false, bridgeCounter: false });
    const families = new Set(cmds.flatMap((c) => Object.values(c).flatMap((o) => Object.values(o).map((x) => x['family'] ?? (x as { family?: string }).family))));
    expect(families).toEqual(new Set(['inet', 'bridge']));
  });

  it('dnsmasq: nftset lines for host rules; DHCP names ignored unless allowed', () => {
    const spec = {
      ni: 'lan', bridge: 'enbr-lan', subnet: '10.50.0.0', gateway: '10.50.0.1', prefixlen: 24, range: { start: '10.50.0.100', end: '10.50.0.199' },
      forwarders: [], staticHosts: [], reservations: [],
      nftsets: [{ host: 'example.com', sets: ['ep-b-h1'] }, { host: 'example.com', sets: ['ep-a-h2'] }],
    };
    const conf = renderDnsmasqFiles(spec, dnsmasqPaths('/tmp/x', 'lan')).conf;
    expect(conf).toContain('nftset=/example.com/4#inet#edgenet#ep-a-h2,4#inet#edgenet#ep-b-h1');
    expect(conf).toContain('dhcp-ignore-names');
    expect(renderDnsmasqFiles({ ...spec, dhcpHostnames: true }, dnsmasqPaths('/tmp/x', 'lan')).conf).not.toContain('dhcp-ignore-names');
  });
});

describe('endpoint rules (library on the fakes)', () => {
  let dir: string;
  let drivers: FakeDrivers;
  let net: Edgenet;
  const config = (apps: string[], acls?: AclRuleInput[]) => ({
    ports: [{ name: 'up0', ifname: 'eth1' }],
    networks: [{ name: 'lan', type: 'local', port: 'up0', subnet: '10.50.0.0/24', dns: { hosts: [{ name: 'printer', ip: '10.50.0.250' }] } }],
    apps: apps.map((name) => ({ name, interfaces: [{ network: 'lan', netns: `/run/netns/${name}`, ...(name === 'web' && acls && { acls }) }] })),
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-acl-'));
    drivers = createFakeDrivers();
    drivers.links.addExternal('eth1');
    for (const n of ['web', 'db', 'api']) drivers.links.addNetns(`/run/netns/${n}`);
    net = createEdgenet({ stateDir: dir, drivers, auditIntervalMs: 0 });
  });
  afterEach(async () => {
    await net.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('every app interface on a local NI gets anti-spoofing; ACLs only with acls; rules in status', async () => {
    await net.apply(config(['web', 'db'], [{ match: { protocol: 'tcp', fport: 80 } }]));
    expect(drivers.firewall.endpointRules('db/lan')?.spec.acls).toBeUndefined();
    expect(drivers.firewall.endpointRules('db/lan')?.spoof).toHaveLength(7);
    const web = drivers.firewall.endpointRules('web/lan');
    expect(web?.spec.ip).toMatch(/^10\.50\.0\./);
    expect(web?.spec.ports).toEqual([{ name: 'up0', ifname: 'eth1' }]);
    const status = net.status().endpoints.find((e) => e.app === 'web');
    expect(status?.rules?.map((r) => `${r.rule}:${r.action}`)).toEqual(['1:allow', 'default:deny', 'anti-spoofing:drop']);
  });

  it('one more app is one nft write; a rule change is one write with the change as the reason; removal cleans up', async () => {
    await net.apply(config(['web', 'db'], [{ match: { protocol: 'tcp', fport: 80 } }]));
    const before = net.status().writes.nft;
    await net.apply(config(['web', 'db', 'api'], [{ match: { protocol: 'tcp', fport: 80 } }]));
    expect(net.status().writes.nft - before).toBe(1);
    // the counters alone, without a status, say the same
    expect(net.writes()).toEqual(net.status().writes);

    const reasons: string[] = [];
    const sub = net.transitions$.subscribe((t) => t.name === 'web/lan' && t.reason && reasons.push(t.reason));
    const mid = net.status().writes.nft;
    await net.apply(config(['web', 'db', 'api'], [{ match: { protocol: 'tcp', fport: 443 } }]));
    sub.unsubscribe();
    expect(net.status().writes.nft - mid).toBe(1);
    expect(reasons).toContain('update: acls');

    await net.apply(config(['db'], undefined));
    expect(drivers.firewall.endpointRules('web/lan')).toBeUndefined();
    expect(drivers.firewall.endpointRules('api/lan')).toBeUndefined();
  });

  it('a port flap costs no nft write', async () => {
    await net.apply(config(['web'], [{ match: { protocol: 'tcp', lport: 8080 }, action: 'portmap', appPort: 80 }]));
    const before = net.status().writes;
    drivers.links.setCarrier('eth1', false);
    drivers.links.setCarrier('eth1', true);
    await new Promise((r) => setImmediate(r));
    expect(net.status().writes.nft).toBe(before.nft);
  });

  it('host rules reach the NI\'s dnsmasq as nftset lines', async () => {
    await net.apply(config(['web'], [{ match: { host: 'printer' } }]));
    expect(drivers.dhcpdns.spec('lan')?.nftsets).toEqual([{ host: 'printer', sets: [hostSetName('web/lan', 1)] }]);
    expect(drivers.firewall.endpointRules('web/lan')?.sets).toEqual([{ name: hostSetName('web/lan', 1), elements: ['10.50.0.250'] }]);
  });

  it('the orphan sweep removes the rules of endpoints no longer desired', async () => {
    await net.apply(config(['web', 'db'], [{ match: { protocol: 'tcp', fport: 80 } }]));
    expect(await drivers.firewall.sweepEndpoints(['db/lan'])).toEqual(['web/lan']);
    expect(drivers.firewall.endpointRules('web/lan')).toBeUndefined();
    expect(drivers.firewall.endpointRules('db/lan')).toBeDefined();
  });

  it('status table lists an interface\'s rules with their packets', async () => {
    const { formatStatus } = await import('../../src/cli/status-table.ts');
    await net.apply(config(['web'], [{ id: 5, match: { protocol: 'tcp', fport: 80 } }]));
    const table = formatStatus(net.status());
    expect(table).toMatch(/RULES\n\s+ENDPOINT\s+RULE\s+ACTION\s+PACKETS\n\s+web\/lan\s+5\s+allow\s+0\n\s+web\/lan\s+default\s+deny\s+0/);
  });
});
