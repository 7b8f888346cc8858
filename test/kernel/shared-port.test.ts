// One port shared by several network instances, as EVE shares them: many local NIs NAT out of one uplink (each
// isolated from the others, each with its own routing table), and a port carrier event moves each of them with
// 0 kernel writes.
import { beforeEach, expect, it } from 'vitest';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { dhcpLease } from '../helpers/dhcp.ts';
import { describeKernel, eventually, type Netns } from '../helpers/netns.ts';

const total = (w: Record<string, number> | undefined): number => Object.values(w ?? {}).reduce((a, b) => a + b, 0);

describeKernel('a port shared by several network instances (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let dev: Netns, outside: Netns;
  const apps: Netns[] = [];

  beforeEach(async () => {
    ({ dev, out: outside } = await t.namespaces(['dev', 'out'], { uplink: true }));
    apps.length = 0;
    for (const n of [1, 2, 3]) apps.push(await t.pool.add(`a${n}`));
  });


  const threeLocal = (): string => `ports:
  - { name: up0, ifname: eth1 }
networks:
${[1, 2, 3].map((n) => `  - { name: l${n}, type: local, port: up0, subnet: 10.5${n}.0.0/24 }\n`).join('')}apps:
${apps.map((ns, i) => `  - { name: a${i + 1}, interfaces: [{ network: l${i + 1}, netns: ${ns.path} }] }\n`).join('')}`;

  /** What must not change when the port flaps: bridges' ifindexes, nft rules, policy rules, dnsmasq pids. */
  const dataPlane = async (): Promise<string> => {
    const links = JSON.parse(await dev.ip('-j', 'link', 'show')) as { ifname: string; ifindex: number }[];
    const bridges = links.filter((l) => l.ifname.startsWith('enbr')).map((l) => `${l.ifname}=${l.ifindex}`);
    const rules = await dev.ip('rule', 'show');
    const nft = (await dev.must('nft', ['list', 'table', 'inet', 'edgenet'])).replace(/# handle \d+/g, '');
    const pids = (await daemon?.status())?.networks.map((n) => `${n.name}:${n.dnsmasqPid}`);
    return JSON.stringify({ bridges, rules, nft, pids });
  };

  it('three local NIs on one port: each NATs out, they are isolated, a carrier loss moves all three with 0 writes', async () => {
    daemon = await TestDaemon.start(dev, threeLocal());
    const s = await daemon.status();
    expect(s.networks.map((n) => [n.name, n.state, n.port, n.selectedPort])).toEqual([
      ['l1', 'ready', 'up0', 'up0'],
      ['l2', 'ready', 'up0', 'up0'],
      ['l3', 'ready', 'up0', 'up0'],
    ]);
    // each has its own table, reached by a rule from its subnet
    const tables = s.networks.map((n) => n.table);
    expect(new Set(tables).size).toBe(3);
    const rules = await dev.ip('rule', 'show');
    for (const [i, t] of tables.entries()) expect(rules).toContain(`from 10.5${i + 1}.0.0/24 lookup ${t} proto 237`);

    const leases = [];
    for (const ns of apps) leases.push(await dhcpLease(ns));
    expect(leases.map((l) => l.ip.split('.').slice(0, 3).join('.'))).toEqual(['10.51.0', '10.52.0', '10.53.0']);
    // NAT: every app reaches the outside host, which has no route back to any NI's subnet
    for (const ns of apps) expect(await ns.ping('192.168.77.2'), ns.name).toBe(true);
    // isolation: no app reaches another NI's app or gateway
    const [a1, a2, a3] = apps as [Netns, Netns, Netns];
    const [ip1, ip2, ip3] = leases.map((l) => l.ip) as [string, string, string];
    expect(await a1.ping(ip2)).toBe(false);
    expect(await a2.ping(ip3)).toBe(false);
    expect(await a3.ping(ip1)).toBe(false);
    expect(await a1.ping('10.52.0.1')).toBe(false);

    // carrier loss on the port (its far end down): all three degraded, then ready again, and nothing rewritten
    const before = await dataPlane();
    const writes = total((await daemon.status()).writes);
    await outside.ip('link', 'set', 'eth0', 'down');
    await eventually('all three NIs degraded', async () => (await daemon?.status())?.networks.every((n) => n.state === 'degraded' && /no carrier/.test(n.reason ?? '')));
    await outside.ip('link', 'set', 'eth0', 'up');
    await eventually('all three NIs ready', async () => (await daemon?.status())?.networks.every((n) => n.state === 'ready'));
    expect(total((await daemon.status()).writes)).toBe(writes);
    expect(await dataPlane()).toBe(before);
    for (const ns of apps) expect(await ns.ping('192.168.77.2'), ns.name).toBe(true);
  });
});
