// A port shared by a switch NI and two local NIs, with the device's own address and default route on it (issue 14,
// acceptance 2). As EVE's NIM makes ethN an L3 bridge: the port is enslaved to the switch NI's bridge and its
// addresses and routes move onto the bridge (recorded first in the runtime dir), the local NIs NAT out of the
// bridge, and removing the switch NI puts them back on the port. The device answers ping on its address from the
// port's side throughout (a ping runs from there the whole time), also across a SIGKILL between move and restore.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { beforeEach, expect, it } from 'vitest';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { dhcpLease } from '../helpers/dhcp.ts';
import { RunningPing } from '../helpers/running-ping.ts';
import { describeKernel, eventually, run, type Netns } from '../helpers/netns.ts';

const REPO = resolve(import.meta.dirname, '../..');
const DEVICE = '192.168.77.1';
const FAR = '203.0.113.1';

describeKernel('a switch NI and local NIs on the port with the device\'s address and default route (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let ping: RunningPing | undefined;
  let dev: Netns, out: Netns, sw: Netns, l1: Netns, l2: Netns;

  beforeEach(async () => {
    daemon = undefined;
    ping = undefined;
    t.defer(() => ping?.stop());
    // eth1: the device's 192.168.77.1/24 and its default route via 192.168.77.2, a router on the port's segment
    // that is also the far host FAR
    ({ dev, out, sw, l1, l2 } = await t.namespaces(['dev', 'out', 'sw', 'l1', 'l2'], { uplink: true }));
    await dev.ip('route', 'add', 'default', 'via', '192.168.77.2', 'dev', 'eth1', 'proto', 'static');
    await out.ip('addr', 'add', `${FAR}/32`, 'dev', 'lo');
  });

  const config = (withSwitch: boolean): string => `ports:
  - { name: up0, ifname: eth1 }
networks:
${withSwitch ? '  - { name: plant, type: switch, port: up0 }\n' : ''}  - { name: n1, type: local, port: up0, subnet: 10.61.0.0/24 }
  - { name: n2, type: local, port: up0, subnet: 10.62.0.0/24 }
apps:
${withSwitch ? `  - { name: hmi, interfaces: [{ network: plant, netns: ${sw.path} }] }\n` : ''}  - { name: a1, interfaces: [{ network: n1, netns: ${l1.path} }] }
  - { name: a2, interfaces: [{ network: n2, netns: ${l2.path} }] }
`;

  const addressesOf = async (ifname: string): Promise<string[]> => {
    const j = JSON.parse(await dev.ip('-j', '-4', 'addr', 'show', 'dev', ifname)) as { addr_info?: { local: string; prefixlen: number }[] }[];
    return (j[0]?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
  };
  const macOf = async (ifname: string): Promise<string | undefined> => (JSON.parse(await dev.ip('-j', 'link', 'show', 'dev', ifname)) as { address: string }[])[0]?.address;
  const defaultRoute = async (): Promise<string> => (await dev.ip('-4', 'route', 'show', 'default')).trim();
  const record = (): string => join(daemon?.stateDir ?? '', 'l3-moves', 'eth1.json');

  /** Moved: the address and the default route on the switch NI's bridge, the port enslaved to it. */
  const expectMoved = async (): Promise<void> => {
    expect(await addressesOf('enbr-plant')).toEqual([`${DEVICE}/24`]);
    expect(await addressesOf('eth1')).toEqual([]);
    expect(await defaultRoute()).toMatch(/^default via 192\.168\.77\.2 dev enbr-plant proto static/);
    expect(await dev.ip('-o', 'link', 'show', 'eth1')).toContain('master enbr-plant');
    // the bridge answers with the port's MAC (as EVE's NIM makes it): the segment's neighbour caches stay right
    expect(await macOf('enbr-plant')).toBe(await macOf('eth1'));
    expect(existsSync(record())).toBe(true);
  };
  const expectRestored = async (): Promise<void> => {
    expect(await addressesOf('eth1')).toEqual([`${DEVICE}/24`]);
    expect(await defaultRoute()).toMatch(/^default via 192\.168\.77\.2 dev eth1 proto static/);
    expect(await dev.ip('-o', 'link', 'show', 'eth1')).not.toContain('master');
    expect(existsSync(record())).toBe(false);
  };
  /** Every app does what its NI is for. */
  const expectServed = async (withSwitch: boolean): Promise<void> => {
    for (const ns of [l1, l2]) {
      expect(await ns.ping('192.168.77.2'), `${ns.name} NATs out to the router`).toBe(true);
      expect(await ns.ping(FAR), `${ns.name} NATs out by the default route`).toBe(true);
    }
    if (withSwitch) {
      // L2: the switch-NI app is on the port's segment itself; the router learned the app's own MAC
      expect(await sw.ping('192.168.77.2')).toBe(true);
      const mac = (JSON.parse(await sw.ip('-j', 'link', 'show', 'eth0')) as { address: string }[])[0]?.address;
      expect(await out.ip('neigh', 'show', '192.168.77.50')).toContain(`lladdr ${mac}`);
      expect(await sw.ping(DEVICE), 'the app reaches the device on its address (on the bridge)').toBe(true);
    }
  };

  it('moves the address and default route onto the bridge and back; the device answers throughout; a SIGKILL in between changes nothing', async () => {
    ping = new RunningPing(out, DEVICE);
    await eventually('the device answers ping before edgenet runs', () => ping && ping.count > 3);

    const phases: Record<string, number> = {};
    const mark = (what: string): void => {
      phases[what] = Date.now();
    };
    mark('start with the switch NI');
    daemon = await TestDaemon.start(dev, config(true));
    expect((await daemon.status()).networks.map((n) => [n.name, n.type, n.state, n.port])).toEqual([
      ['n1', 'local', 'ready', 'up0'],
      ['n2', 'local', 'ready', 'up0'],
      ['plant', 'switch', 'ready', 'up0'],
    ]);
    await eventually('the port moved', async () => (await addressesOf('enbr-plant')).length > 0);
    await expectMoved();
    await sw.ip('addr', 'add', '192.168.77.50/24', 'dev', 'eth0');
    await dhcpLease(l1);
    await dhcpLease(l2);
    await expectServed(true);

    // SIGKILL between move and restore, then a restart on the same config: the same result, nothing written twice
    mark('SIGKILL, restart');
    await daemon.stop('SIGKILL');
    await daemon.restart();
    await expectMoved();
    await expectServed(true);

    // the switch NI removed: address and route back on the port, the local NIs NAT out of it
    mark('switch NI removed');
    await daemon.apply(config(false));
    await eventually('restored', async () => (await addressesOf('eth1')).length > 0 && (await daemon?.status())?.networks.every((n) => n.state === 'ready'));
    await expectRestored();
    await expectServed(false);

    // again with the switch NI; SIGKILL; restart on a config without it: the record puts them back
    mark('switch NI again');
    await daemon.apply(config(true));
    await eventually('moved again', async () => (await addressesOf('enbr-plant')).length > 0);
    await expectMoved();
    mark('SIGKILL, restart without it');
    await daemon.stop('SIGKILL');
    await writeFile(daemon.configPath, config(false));
    await daemon.restart();
    await eventually('restored after the crash', async () => (await addressesOf('eth1')).length > 0);
    await expectRestored();
    await expectServed(false);
    mark('end');

    const { lost, longestMs, longestAt } = ping.gaps();
    const phase = Object.entries(phases).filter(([, t]) => t <= longestAt).at(-1)?.[0] ?? 'before';
    console.log(`the device's address answered ${ping.count} pings (every 50 ms) from the port's side through 2 moves, 2 restores and 2 SIGKILLs: ${lost} unanswered, longest silence ${longestMs.toFixed(0)} ms (during "${phase}"; shared, loaded VM: noisy)`);
    // answered throughout: the bridge has the port's MAC and a port is released and given its addresses back in one
    // `ip -batch`, so no neighbour cache goes wrong and no ARP answer lands on the bridge (before, a restore cost
    // 6–10 requests and a silence of ~0.5–1.1 s); measured since: 0–3 requests in all, longest silence 84–232 ms
    // with the machine's load average at 7 (the rest is scheduling on a loaded 2-core VM)
    expect(longestMs).toBeLessThan(600);
    expect(lost).toBeLessThanOrEqual(5);
  });

  it('`edgenet down` puts the address and route back on the port, with the daemon running and after a SIGKILL', async () => {
    const cli = (...args: string[]) => run('nsenter', [`--net=${dev.path}`, process.execPath, join(REPO, 'bin/edgenet.js'), ...args], { timeoutMs: 90_000 });
    ping = new RunningPing(out, DEVICE);
    await eventually('the device answers ping before edgenet runs', () => ping && ping.count > 3);
    for (const how of ['running', 'killed'] as const) {
      daemon = await TestDaemon.start(dev, config(true));
      await eventually('the port moved', async () => (await addressesOf('enbr-plant')).length > 0);
      await expectMoved();
      if (how === 'killed') await daemon.stop('SIGKILL');
      const down = await cli('down', '--state-dir', daemon.stateDir);
      expect(down.code, `${how}: ${down.stderr}`).toBe(0);
      if (how === 'killed') expect(down.stdout).toContain('addresses and routes of eth1 moved back onto it');
      await daemon.stop();
      await expectRestored();
      expect(await dev.ip('-o', 'link', 'show', 'type', 'bridge')).toBe('');
      await daemon.remove();
      daemon = undefined;
    }
    const { lost, longestMs } = ping.gaps();
    console.log(`\`edgenet down\` twice (daemon running, daemon killed): ${lost} of ${ping.count + lost} pings unanswered, longest silence ${longestMs.toFixed(0)} ms`);
    expect(longestMs).toBeLessThan(600);
    expect(lost).toBeLessThanOrEqual(5);
  });
});
