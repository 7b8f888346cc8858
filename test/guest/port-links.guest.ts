// Runs in the QEMU guest (Debian's stock kernel: 802.1Q and bonding), booted by test/kernel/guest-vlan.test.ts.
// Acceptance (issue 17, 4): a local NI on a VLAN sub-interface port and a switch NI on a bond of two links, both
// built from config alone; traffic flows; a restart adopts them (same ifindexes, no re-create); removing the NIs
// removes the VLAN and the bond and nothing else (a pre-existing unmarked VLAN it used stays).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestDaemon } from '../helpers/daemon.ts';
import { eventually, NetnsPool, type Netns } from '../helpers/netns.ts';

// TCG on a shared 2-core machine: a daemon start with three NIs has taken 150 s under load (≈ 40 s when idle).
// Bounds only: every wait ends as soon as its condition holds.
const UP_MS = 400_000;
const WAIT_MS = 60_000;

interface IpLink {
  ifindex: number;
  ifname: string;
  master?: string;
  flags: string[];
  ifalias?: string;
  linkinfo?: { info_kind?: string; info_slave_kind?: string };
}

describe('VLAN and bond ports (guest kernel)', () => {
  let pool: NetnsPool;
  let daemon: TestDaemon | undefined;
  let dev: Netns, outside: Netns, far: Netns, web: Netns, lab: Netns, plc: Netns;

  const ports = `
ports:
  - { name: office, ifname: eth1.10, vlan: { parent: eth1, id: 10 }, gateway: 192.168.10.1 }
  - { name: labnet, ifname: eth1.20, vlan: { parent: eth1, id: 20 }, gateway: 192.168.20.1 }
  - { name: lag, ifname: bond0, bond: { members: [eth2, eth3], mode: active-backup, miimon: 100 } }
`;
  const config = (): string => `${ports}
networks:
  - { name: office, type: local, port: office, subnet: 10.60.0.0/24 }
  - { name: lab, type: local, port: labnet, subnet: 10.61.0.0/24 }
  - { name: plant, type: switch, port: lag }
apps:
  - { name: web, interfaces: [{ network: office, netns: ${web.path}, ip: 10.60.0.10 }] }
  - { name: lab, interfaces: [{ network: lab, netns: ${lab.path}, ip: 10.61.0.10 }] }
  - { name: plc, interfaces: [{ network: plant, netns: ${plc.path} }] }
`;

  const links = async (): Promise<IpLink[]> => JSON.parse(await dev.ip('-d', '-j', 'link', 'show')) as IpLink[];
  const byName = async (ifname: string): Promise<IpLink | undefined> => (await links()).find((l) => l.ifname === ifname);

  beforeEach(async () => {
    pool = new NetnsPool();
    dev = await pool.add('dev');
    outside = await pool.add('out');
    far = await pool.add('far');
    web = await pool.add('web');
    lab = await pool.add('lab');
    plc = await pool.add('plc');
    // the trunk to an outside router with VLANs 10 and 20
    await dev.ip('link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside.name);
    await dev.ip('link', 'set', 'eth1', 'up');
    await outside.ip('link', 'set', 'eth0', 'up');
    for (const [vid, addr] of [['10', '192.168.10.1/24'], ['20', '192.168.20.1/24']] as const) {
      await outside.ip('link', 'add', 'link', 'eth0', 'name', `eth0.${vid}`, 'type', 'vlan', 'id', vid);
      await outside.ip('addr', 'add', addr, 'dev', `eth0.${vid}`);
      await outside.ip('link', 'set', `eth0.${vid}`, 'up');
    }
    // VLAN 20 exists already, made by someone else (no mark): used, never deleted
    await dev.ip('link', 'add', 'link', 'eth1', 'name', 'eth1.20', 'type', 'vlan', 'id', '20');
    await dev.ip('link', 'set', 'eth1.20', 'up');
    // two links to a far switch (a bridge: whichever member the active-backup bond uses, frames arrive) with a host
    await far.ip('link', 'add', 'br0', 'type', 'bridge');
    for (const [mine, theirs] of [['eth2', 'p2'], ['eth3', 'p3']] as const) {
      await dev.ip('link', 'add', mine, 'type', 'veth', 'peer', 'name', theirs, 'netns', far.name);
      await dev.ip('link', 'set', mine, 'up');
      await far.ip('link', 'set', theirs, 'master', 'br0');
      await far.ip('link', 'set', theirs, 'up');
    }
    await far.ip('link', 'set', 'br0', 'up');
    await far.ip('addr', 'add', '10.70.0.100/24', 'dev', 'br0');
  });

  afterEach(async () => {
    await daemon?.remove();
    daemon = undefined;
    await pool.removeAll();
  });

  it('builds both from config alone, traffic flows, a restart adopts them, removing the NIs removes them and nothing else', { timeout: 900_000 }, async () => {
    const bare = (await links()).map((l) => l.ifname).sort();
    daemon = await TestDaemon.start(dev, config(), { upTimeoutMs: UP_MS });

    const vlan = await byName('eth1.10');
    expect(vlan).toMatchObject({ ifalias: 'edgenet:port:office', linkinfo: { info_kind: 'vlan' } });
    expect(vlan?.flags).toContain('UP');
    const bond = await byName('bond0');
    expect(bond).toMatchObject({ ifalias: 'edgenet:port:lag', linkinfo: { info_kind: 'bond' }, master: 'enbr-plant' });
    for (const m of ['eth2', 'eth3']) expect((await byName(m))?.master).toBe('bond0');
    expect((await byName('eth1.20'))?.ifalias).toBeUndefined();
    expect(await dev.must('cat', ['/proc/net/bonding/bond0'])).toMatch(/Bonding Mode: fault-tolerance \(active-backup\)[\s\S]*MII Polling Interval \(ms\): 100/);

    // the ports' addresses are the device's (its DHCP client's), as for any port
    await dev.ip('addr', 'add', '192.168.10.2/24', 'dev', 'eth1.10');
    await dev.ip('addr', 'add', '192.168.20.2/24', 'dev', 'eth1.20');
    for (const [ns, addr, gw] of [[web, '10.60.0.10/24', '10.60.0.1'], [lab, '10.61.0.10/24', '10.61.0.1']] as const) {
      await ns.ip('addr', 'add', addr, 'dev', 'eth0');
      await ns.ip('route', 'add', 'default', 'via', gw);
    }
    await plc.ip('addr', 'add', '10.70.0.11/24', 'dev', 'eth0');
    const s = await daemon.status();
    expect(s.networks.map((n) => [n.name, n.state]).sort()).toEqual([['lab', 'ready'], ['office', 'ready'], ['plant', 'ready']]);
    // web NATs out of VLAN 10 (tagged on eth1), lab out of VLAN 20; plc reaches the far host through the bond
    const rx = async (ifname: string): Promise<number> => Number(await outside.must('cat', [`/sys/class/net/${ifname}/statistics/rx_packets`]));
    const [rx10, rx20] = [await rx('eth0.10'), await rx('eth0.20')];
    await eventually('web reaches the VLAN 10 router', () => web.ping('192.168.10.1'), WAIT_MS);
    await eventually('lab reaches the VLAN 20 router', () => lab.ping('192.168.20.1'), WAIT_MS);
    await eventually('plc reaches the far host over the bond', () => plc.ping('10.70.0.100'), WAIT_MS);
    // each NI's traffic arrived tagged with its VLAN (the router's sub-interface of that VLAN received it)
    expect(await rx('eth0.10')).toBeGreaterThan(rx10);
    expect(await rx('eth0.20')).toBeGreaterThan(rx20);

    // restart: adopted, not made again
    const before = await links();
    const index = (ls: IpLink[], n: string): number | undefined => ls.find((l) => l.ifname === n)?.ifindex;
    const mark = daemon.log.length;
    await daemon.restart();
    await eventually('NIs ready after the restart', async () => (await daemon?.status())?.networks.every((n) => n.state === 'ready'), UP_MS);
    const after = await links();
    for (const n of ['eth1.10', 'eth1.20', 'bond0']) expect(index(after, n)).toBe(index(before, n));
    expect(daemon.log.slice(mark).join('\n')).not.toContain('port links converged');
    await eventually('web still reaches the VLAN 10 router', () => web.ping('192.168.10.1'), WAIT_MS);
    await eventually('plc still reaches the far host', () => plc.ping('10.70.0.100'), WAIT_MS);

    // the NIs go: their VLAN and bond go; the members are free and up; the foreign VLAN, the parent stay
    await daemon.apply(`${ports}\nnetworks: []\napps: []\n`);
    await eventually('bond0 and eth1.10 removed', async () => !(await byName('bond0')) && !(await byName('eth1.10')), WAIT_MS);
    expect((await links()).map((l) => l.ifname).sort()).toEqual(bare);
    for (const m of ['eth2', 'eth3']) {
      const l = await byName(m);
      expect(l?.master).toBeUndefined();
      expect(l?.flags).toContain('UP');
    }
    expect((await byName('eth1.20'))?.ifindex).toBe(index(before, 'eth1.20'));
  });
});
