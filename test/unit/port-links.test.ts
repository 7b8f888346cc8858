// VLAN and bond ports (ports[].vlan / ports[].bond) on the fake drivers: made from config alone and marked, adopted
// after a restart (no write), removed when no NI uses them (nothing else), a foreign link used but never deleted,
// and what cannot be built refused before anything moves.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEdgenet } from '../../src/edgenet.ts';
import type { Edgenet } from '../../src/edgenet-types.ts';
import { ConfigError } from '../../src/errors.ts';
import { parsePortLinks } from '../../src/drivers/port-links-ip.ts';
import { createFakeDhcpDns, createFakeDrivers, type FakeDrivers } from '../../src/testing.ts';

const ports = [
  { name: 'v10', ifname: 'eth1.10', vlan: { parent: 'eth1', id: 10 }, gateway: '192.168.10.1' },
  { name: 'lag', ifname: 'bond0', bond: { members: ['eth2', 'eth3'], mode: 'active-backup', miimon: 100 } },
];
const withNis = {
  ports,
  networks: [
    { name: 'office', type: 'local', port: 'v10', subnet: '10.60.0.0/24' },
    { name: 'plant', type: 'switch', port: 'lag' },
  ],
  apps: [
    { name: 'web', interfaces: [{ network: 'office', netns: '/run/netns/web' }] },
    { name: 'plc', interfaces: [{ network: 'plant', netns: '/run/netns/plc' }] },
  ],
};

describe('VLAN and bond ports (fake drivers)', () => {
  let stateDir: string;
  let drivers: FakeDrivers;
  let net: Edgenet;

  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'edgenet-portlinks-'));
    drivers = createFakeDrivers();
    for (const n of ['eth1', 'eth2', 'eth3', 'eth9']) drivers.links.addExternal(n);
    for (const n of ['web', 'plc']) drivers.links.addNetns(`/run/netns/${n}`);
    net = createEdgenet({ stateDir, drivers, auditIntervalMs: 0, linkThrottleMs: 0 });
  });

  afterEach(async () => {
    await net.stop();
    await rm(stateDir, { recursive: true, force: true });
  });

  const link = (ifname: string) => drivers.links.get(ifname);
  const names = async () => (await drivers.links.list()).map((l) => l.ifname).sort();

  it('makes the VLAN and the bond from config alone, marked; the NIs on them are built', async () => {
    await net.apply(withNis);
    const [vlan] = (await drivers.portLinks.list()).filter((v) => v.ifname === 'eth1.10');
    expect(vlan).toMatchObject({ kind: 'vlan', alias: 'edgenet:port:v10', up: true, vlan: { parent: 'eth1', id: 10 } });
    const bond = (await drivers.portLinks.list()).find((v) => v.ifname === 'bond0');
    expect(bond).toMatchObject({ kind: 'bond', alias: 'edgenet:port:lag', bond: { mode: 'active-backup', miimon: 100, members: ['eth2', 'eth3'] } });
    const s = net.status();
    expect(s.networks.map((n) => [n.name, n.state])).toEqual([['office', 'ready'], ['plant', 'ready']]);
    expect(s.endpoints.every((e) => e.state === 'ready')).toBe(true);
    // the bond is the switch NI's bridge port; the VLAN is the local NI's NAT uplink (not enslaved)
    expect((await link('bond0'))?.master).toBe((await link('enbr-plant'))?.ifindex);
    expect((await link('eth1.10'))?.master).toBeUndefined();
    expect(drivers.firewall.rulesFor('office')?.masqueradeOut).toBe('eth1.10');
  });

  it('adopts its marked links after a restart without a write, and keeps their ifindexes', async () => {
    await net.apply(withNis);
    const before = [(await link('eth1.10'))?.ifindex, (await link('bond0'))?.ifindex];
    await net.stop();
    const writes = drivers.portLinks.writes.total();
    // the same kernel (links), a new process (a stopped fake dnsmasq driver stays closed)
    net = createEdgenet({ stateDir, drivers: { ...drivers, dhcpdns: createFakeDhcpDns() }, auditIntervalMs: 0, linkThrottleMs: 0 });
    await net.apply(withNis);
    expect(drivers.portLinks.writes.total()).toBe(writes);
    expect([(await link('eth1.10'))?.ifindex, (await link('bond0'))?.ifindex]).toEqual(before);
    expect(net.status().networks.map((n) => [n.name, n.state])).toEqual([['office', 'ready'], ['plant', 'ready']]);
  });

  it('removes the VLAN and the bond when no NI uses them, and nothing else (members released)', async () => {
    const bare = await names();
    await net.apply(withNis);
    await net.apply({ ports, networks: [], apps: [] });
    expect(await names()).toEqual(bare);
    expect((await link('eth2'))?.master).toBeUndefined();
    expect((await link('eth3'))?.master).toBeUndefined();
  });

  it('a port declared but used by no NI makes nothing', async () => {
    await net.apply({ ports, networks: [], apps: [] });
    expect(await link('eth1.10')).toBeUndefined();
    expect(await link('bond0')).toBeUndefined();
    expect(drivers.portLinks.writes.total()).toBe(0);
  });

  it('a changed VLAN id makes the link again (the old one goes)', async () => {
    await net.apply(withNis);
    const old = (await link('eth1.10'))?.ifindex;
    await net.apply({ ...withNis, ports: [{ ...ports[0], vlan: { parent: 'eth1', id: 11 } }, ports[1]] });
    const [vlan] = (await drivers.portLinks.list()).filter((v) => v.ifname === 'eth1.10');
    expect(vlan?.vlan).toEqual({ parent: 'eth1', id: 11 });
    expect(vlan?.ifindex).not.toBe(old);
  });

  it('a bond member added to the config is enslaved to the running bond (no re-create)', async () => {
    await net.apply(withNis);
    const ifindex = (await link('bond0'))?.ifindex;
    await net.apply({ ...withNis, ports: [ports[0], { ...ports[1], bond: { members: ['eth2', 'eth3', 'eth9'], mode: 'active-backup', miimon: 100 } }] });
    expect((await link('bond0'))?.ifindex).toBe(ifindex);
    expect((await link('eth9'))?.master).toBe(ifindex);
  });

  it('uses a same-named unmarked VLAN that is what the port asks for, and never deletes it', async () => {
    drivers.portLinks.addForeign('eth1.10', { vlan: { parent: 'eth1', id: 10 } });
    const ifindex = (await link('eth1.10'))?.ifindex;
    await net.apply(withNis);
    expect((await link('eth1.10'))?.ifindex).toBe(ifindex);
    expect((await link('eth1.10'))?.alias).toBeUndefined();
    await net.apply({ ports, networks: [], apps: [] });
    expect((await link('eth1.10'))?.ifindex).toBe(ifindex);
    expect(await link('bond0')).toBeUndefined();
  });

  it.each([
    ['an unmarked link of the name with other settings', (d: FakeDrivers) => d.portLinks.addForeign('eth1.10', { vlan: { parent: 'eth1', id: 20 } }), 'ports[0]', '"eth1.10" exists without edgenet\'s mark as VLAN 20 on eth1, not VLAN 10 on eth1: not created by edgenet, refused (delete or rename it)'],
    ['a plain link of the name', (d: FakeDrivers) => d.links.addExternal('bond0'), 'ports[1].ifname', '"bond0" exists and is not a bond (a device): cannot be bond (active-backup) of eth2, eth3'],
    ['a missing parent', (d: FakeDrivers) => d.links.removeExternal('eth1'), 'ports[0].vlan.parent', 'no interface "eth1"'],
    ['a member enslaved elsewhere', (d: FakeDrivers) => d.links.tamper('eth3', { master: d.links.addExternal('br9', { kind: 'bridge' }).ifindex }), 'ports[1].bond.members[1]', '"eth3" is already enslaved to "br9": a bond member must be free'],
  ] as const)('refuses %s before anything moves', async (_what, arrange, path, message) => {
    arrange(drivers);
    const before = await names();
    const err = await net.apply(withNis).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toContainEqual({ path, message });
    expect(await names()).toEqual(before);
    expect(drivers.portLinks.writes.total()).toBe(0);
  });

  it('refuses VLAN and bond ports on a kernel without 802.1Q and bonding, naming each', async () => {
    drivers.bridgePorts.features = { vlanFiltering: false, vlan8021q: false, bonding: false };
    const err = await net.apply(withNis).catch((e: unknown) => e);
    expect((err as ConfigError).issues).toEqual([
      { path: 'ports[1].bond', message: 'this kernel has no bonding support: the bond cannot be built, so the config is refused' },
      { path: 'ports[0].vlan', message: 'this kernel has no 802.1Q support (VLAN sub-interfaces): the VLAN port cannot be built, so the config is refused' },
    ]);
    expect(drivers.portLinks.writes.total()).toBe(0);
  });

  it('edgenet down (teardown) removes the marked port links too', async () => {
    const bare = await names();
    await net.apply(withNis);
    await net.teardown();
    expect(await names()).toEqual(bare);
  });
});

describe('parsePortLinks (ip -d -j link show)', () => {
  it('reads VLANs (parent, id), bonds (mode, monitor, members) and marks', () => {
    const json = JSON.stringify([
      { ifindex: 2, ifname: 'eth1', flags: ['UP'], linkinfo: undefined },
      { ifindex: 3, ifname: 'eth2', flags: ['UP', 'SLAVE'], master: 'bond0', linkinfo: { info_slave_kind: 'bond', info_slave_data: {} } },
      { ifindex: 4, ifname: 'eth3', flags: ['SLAVE'], master: 'bond0', linkinfo: { info_slave_kind: 'bond' } },
      { ifindex: 5, ifname: 'bond0', flags: ['UP', 'MASTER'], ifalias: 'edgenet:port:lag', linkinfo: { info_kind: 'bond', info_data: { mode: '802.3ad', miimon: 100, updelay: 200, downdelay: 0, ad_lacp_rate: 'fast' } } },
      { ifindex: 6, ifname: 'eth1.10', link: 'eth1', flags: ['UP'], linkinfo: { info_kind: 'vlan', info_data: { protocol: '802.1Q', id: 10 } } },
      { ifindex: 7, ifname: 'br0', flags: [], linkinfo: { info_kind: 'bridge' } },
    ]);
    expect(parsePortLinks(json)).toEqual([
      { ifindex: 5, ifname: 'bond0', kind: 'bond', up: true, alias: 'edgenet:port:lag', bond: { mode: '802.3ad', miimon: 100, upDelay: 200, downDelay: 0, lacpRate: 'fast', members: ['eth2', 'eth3'] } },
      { ifindex: 6, ifname: 'eth1.10', kind: 'vlan', up: true, vlan: { parent: 'eth1', id: 10 } },
    ]);
  });
});
