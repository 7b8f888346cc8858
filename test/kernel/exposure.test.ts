// The device is not exposed: its gateways answer only their own NI's bridge.
//
//   outside 192.168.77.2 ── eth1 192.168.77.1 [dev] ─┬─ enbr-lan 10.50.0.1 ── web (DHCP)
//   (routes 10.50/24, 10.60/24 via the device)        ├─ enbr-iso 10.60.0.1   (no port)
//                                                     └─ enbr-sw  10.70.0.1 (switch) ── swapp 10.70.0.77
// enbr-sw carries an address of the device's own (as when a switch NI bridges the uplink port and its addresses
// move onto the bridge); swapp routes the NI subnets via it. A TCP service listens on every address of the device
// (port 8080, inside the test's own namespace).
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { dhcpLease, lookup } from '../helpers/dhcp.ts';
import { describeKernel, eventually, type Netns } from '../helpers/netns.ts';

describeKernel('the device is not exposed (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let listener: ChildProcess | undefined;
  let dev: Netns, outside: Netns, web: Netns, swapp: Netns;

  const config = (): string => `ports:
  - { name: up0, ifname: eth1 }
networks:
  - { name: lan, type: local, port: up0, subnet: 10.50.0.0/24 }
  - { name: iso, type: local, subnet: 10.60.0.0/24 }
  - { name: sw, type: switch }
apps:
  - { name: web, interfaces: [{ network: lan, netns: ${web.path} }] }
  - { name: swapp, interfaces: [{ network: sw, netns: ${swapp.path} }] }
`;

  beforeEach(async () => {
    ({ dev, out: outside, web, swa: swapp } = await t.namespaces(['dev', 'out', 'web', 'swa'], { uplink: true }));
    // a host upstream that knows the device routes the NI subnets (EVE's uplink router could be told so)
    await outside.ip('route', 'add', '10.50.0.0/24', 'via', '192.168.77.1');
    await outside.ip('route', 'add', '10.60.0.0/24', 'via', '192.168.77.1');
    listener = spawn('ip', ['netns', 'exec', dev.name, 'busybox', 'nc', '-ll', '-p', '8080', '-e', '/bin/echo', 'device-service'], { stdio: 'ignore' });
    daemon = await TestDaemon.start(dev, config());
    await dhcpLease(web);
    await dev.ip('addr', 'add', '10.70.0.1/24', 'dev', 'enbr-sw');
    await swapp.ip('addr', 'add', '10.70.0.77/24', 'dev', 'eth0');
    await swapp.ip('route', 'add', '10.50.0.0/24', 'via', '10.70.0.1');
    await swapp.ip('route', 'add', '10.60.0.0/24', 'via', '10.70.0.1');
  });

  afterEach(async () => {
    listener?.kill('SIGKILL');
  });

  const tcp = async (from: Netns, ip: string): Promise<boolean> => (await from.exec('busybox', ['nc', '-w', '2', ip, '8080'], { input: '' })).stdout.includes('device-service');
  const arping = async (from: Netns, ip: string): Promise<boolean> => (await from.exec('busybox', ['arping', '-c', '2', '-w', '2', '-I', 'eth0', ip])).code === 0;

  it('from the uplink: no DNS answer and no TCP via any gateway (the uplink address itself is not ours to filter)', async () => {
    // controls: the service is up, and the NI's own app gets DNS from its gateway
    await eventually('the device service to answer on the uplink', () => tcp(outside, '192.168.77.1'));
    expect(await lookup(web, 'web', '10.50.0.1')).toMatch(/^10\.50\.0\./);
    expect(await outside.ping('192.168.77.1')).toBe(true);

    for (const gw of ['10.50.0.1', '10.60.0.1']) {
      expect({ gw, tcp: await tcp(outside, gw) }).toEqual({ gw, tcp: false });
      expect({ gw, dns: await lookup(outside, 'web', gw) }).toEqual({ gw, dns: undefined });
      expect({ gw, ping: await outside.ping(gw) }).toEqual({ gw, ping: false });
    }
    // an app reaches no device service either, only DNS/DHCP/ping on its own gateway
    expect(await tcp(web, '10.50.0.1')).toBe(false);
    expect(await tcp(web, '10.60.0.1')).toBe(false);
    expect(await lookup(web, 'web', '10.60.0.1')).toBeUndefined();
  });

  it('from a switch NI app: no ARP answer for local NI gateways, no DNS or TCP answer from them when routed there', async () => {
    const s = await daemon!.status();
    expect(s.networks.map((n) => [n.name, n.state])).toEqual([
      ['iso', 'ready'],
      ['lan', 'ready'],
      ['sw', 'ready'],
    ]);
    for (const br of ['enbr-lan', 'enbr-iso', 'enbr-sw']) {
      expect((await dev.must('sysctl', ['-n', `net.ipv4.conf.${br}.arp_ignore`, `net.ipv4.conf.${br}.arp_filter`])).split('\n').filter(Boolean)).toEqual(['1', '1']);
    }
    expect(await arping(swapp, '10.50.0.1')).toBe(false);
    expect(await arping(swapp, '10.60.0.1')).toBe(false);
    expect(await arping(swapp, '10.70.0.1')).toBe(true); // the bridge's own address: answered
    // control: with the kernel's default the device would answer for any of its addresses on any bridge
    await dev.must('sysctl', ['-qw', 'net.ipv4.conf.enbr-sw.arp_ignore=0', 'net.ipv4.conf.enbr-sw.arp_filter=0']);
    expect(await arping(swapp, '10.50.0.1')).toBe(true);
    await dev.must('sysctl', ['-qw', 'net.ipv4.conf.enbr-sw.arp_ignore=1', 'net.ipv4.conf.enbr-sw.arp_filter=1']);

    // routed to the gateways through the device's address on the switch segment: dropped (no reflection)
    await eventually('the device service to answer on the switch segment', () => tcp(swapp, '10.70.0.1'));
    for (const gw of ['10.50.0.1', '10.60.0.1']) {
      expect({ gw, dns: await lookup(swapp, 'web', gw) }).toEqual({ gw, dns: undefined });
      expect({ gw, tcp: await tcp(swapp, gw) }).toEqual({ gw, tcp: false });
    }
    // the lan app is unaffected
    expect(await lookup(web, 'web', '10.50.0.1')).toMatch(/^10\.50\.0\./);
  });
});
