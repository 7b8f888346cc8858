// Ports shared by several NIs and local NIs with several ports, on the fake drivers: selection by carrier, probe,
// cost and order; hold-down; a switchover rewrites that NI's default route and flushes its connections only.
import { afterEach, describe, expect, it } from 'vitest';
import { selectUplink } from '../../machines/uplink-selection.ts';
import type { UplinkSpec } from '../../machines/specs.ts';
import { crossCheck } from '../../src/config/config-checks.ts';
import { parseConfigText } from '../../src/config/config-load.ts';
import { fakeEdgenet, type FakeSystem } from '../helpers/fake-edgenet.ts';

const up = (port: string, cost = 0): UplinkSpec => ({ port, ifname: `if-${port}`, cost, dns: [] });
const carrying = { present: true, carrier: true };
const dead = { present: true, carrier: false };

describe('selectUplink', () => {
  const list = [up('a', 10), up('b', 0), up('c', 0)];
  it.each([
    ['the lowest cost, then order', { a: carrying, b: carrying, c: carrying }, undefined, 'b'],
    ['a port without carrier is skipped', { a: carrying, b: dead, c: carrying }, undefined, 'c'],
    ['a failing probe demotes a port with carrier', { a: carrying, b: { ...carrying, probe: { ok: false, detail: 'timeout' } }, c: dead }, undefined, 'a'],
    ['a better port in its hold-down is not taken back yet', { a: carrying, b: { ...carrying, held: true }, c: dead }, 'a', 'a'],
    ['a dead selected port is left at once, even for a held one', { a: dead, b: { ...carrying, held: true }, c: dead }, 'a', 'b'],
    ['nothing carries: the selection stays', { a: dead, b: dead, c: dead }, 'c', 'c'],
  ] as const)('%s', (_what, states, current, want) => {
    expect(selectUplink(list, states, current).port).toBe(want);
  });

  it('says why', () => {
    expect(selectUplink(list, { a: carrying, b: dead, c: carrying }, undefined).reason).toMatch(/lowest cost \(0\).*port b has no carrier/);
  });
});

describe('port sharing rules', () => {
  it('accepts several local NIs on one port and local NIs beside a single-port switch NI; refuses a second switch NI, and local NIs on a multi-port switch NI\'s port', () => {
    const ok = parseConfigText(`
ports: [{ name: up0, ifname: eth1 }, { name: up1, ifname: eth2 }]
networks:
  - { name: l1, type: local, port: up0, subnet: 10.51.0.0/24 }
  - { name: l2, type: local, port: up0, subnet: 10.52.0.0/24 }
  - { name: l3, type: local, ports: [up0, up1], subnet: 10.53.0.0/24 }
  - { name: sw, type: switch, port: up0 }
`);
    expect(crossCheck(ok)).toEqual([]);
    expect(() =>
      parseConfigText(`
ports: [{ name: up0, ifname: eth1 }, { name: up1, ifname: eth2 }]
networks:
  - { name: l1, type: local, port: up0, subnet: 10.51.0.0/24 }
  - { name: sw, type: switch, ports: [up0, up1], stp: {} }
`),
    ).toThrow('networks[0].port: port "up0" is one of several ports of switch network "sw": a local network cannot share it');
    expect(() =>
      parseConfigText(`
ports: [{ name: up0, ifname: eth1 }]
networks:
  - { name: sw1, type: switch, port: up0 }
  - { name: sw2, type: switch, port: up0 }
`),
    ).toThrow('networks[1].port: port "up0" is already bridged by switch network "sw1": two switch networks cannot share a port');
  });
});

describe('local NIs on shared and several ports (fake drivers)', () => {
  let sys: FakeSystem;
  afterEach(async () => {
    await sys.net.stop();
  });

  const config = {
    ports: [
      { name: 'wan', ifname: 'eth1', cost: 0 },
      { name: 'lte', ifname: 'wwan0', cost: 10 },
    ],
    networks: [
      { name: 'multi', type: 'local', ports: ['wan', 'lte'], subnet: '10.60.0.0/24', holdDownMs: 100 },
      { name: 'solo', type: 'local', port: 'lte', subnet: '10.61.0.0/24' },
    ],
  };

  it('leaves by the lower cost, switches over on carrier loss (one route, its conntrack only), takes the port back after the hold-down', async () => {
    sys = await fakeEdgenet();
    sys.links.addExternal('eth1');
    sys.links.addExternal('wwan0');
    sys.routes.setMainRoute({ to: 'default', via: '192.0.2.1', dev: 'eth1' });
    sys.routes.setMainRoute({ to: 'default', via: '198.51.100.1', dev: 'wwan0', metric: 100 });
    await sys.net.apply(config);
    const ni = (name: string) => sys.net.status().networks.find((n) => n.name === name);
    expect(ni('multi')).toMatchObject({ state: 'ready', ports: ['wan', 'lte'], selectedPort: 'wan' });
    expect(ni('solo')).toMatchObject({ state: 'ready', selectedPort: 'lte' });
    const table = ni('multi')?.table ?? 0;
    expect(sys.routes.tableText(table)).toContain('default via 192.0.2.1 dev eth1');
    expect(sys.firewall.rulesFor('multi')?.masqueradeOutOf).toEqual(['eth1', 'wwan0']);

    const writes = sys.net.status().writes;
    const soloEvents = (): string[] => sys.received.get([...sys.received.keys()].find((k) => k.startsWith('ni:solo')) ?? '') ?? [];
    const soloBefore = soloEvents().length;
    sys.links.setCarrier('eth1', false);
    await waitUntil(() => ni('multi')?.selectedPort === 'lte');
    expect(ni('multi')?.state).toBe('ready');
    expect(sys.routes.tableText(table)).toContain('default via 198.51.100.1 dev wwan0');
    expect(sys.routes.flushed).toEqual(['10.60.0.0/24']);
    const after = sys.net.status().writes;
    // one route and one conntrack flush; no link, nft or dnsmasq write
    expect({ route: after.route - writes.route, conntrack: after.conntrack - writes.conntrack, link: after.link - writes.link, nft: after.nft - writes.nft, dnsmasq: after.dnsmasqStart + after.dnsmasqReload - writes.dnsmasqStart - writes.dnsmasqReload }).toEqual({ route: 1, conntrack: 1, link: 0, nft: 0, dnsmasq: 0 });
    // the NI on the other port alone was not moved
    // the NI on the other port alone was not moved: not one event reached it
    expect(soloEvents().length).toBe(soloBefore);
    expect(ni('solo')?.state).toBe('ready');

    sys.links.setCarrier('eth1', true);
    await new Promise((r) => setTimeout(r, 30));
    expect(ni('multi')?.selectedPort).toBe('lte'); // still in its hold-down
    await waitUntil(() => ni('multi')?.selectedPort === 'wan');
    expect(sys.routes.tableText(table)).toContain('default via 192.0.2.1 dev eth1');
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}


