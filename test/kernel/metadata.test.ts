// The metadata service on the real kernel: an app on a local NI fetches http://169.254.169.254/openstack/latest/user_data
// and gets exactly its own user data; another app its own; nothing else answers at that address.
import { beforeEach, expect, it } from 'vitest';
import type { EveApplyExtras } from '../../src/eve/eve-types.ts';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { dhcpLease } from '../helpers/dhcp.ts';
import { describeKernel, eventually, type Netns } from '../helpers/netns.ts';

const LAN = 'c0ffee00-2001-4000-8000-00000000000a';
const APP_A = '0a0a0a0a-5555-4000-8000-0000000000aa';
const APP_B = '0b0b0b0b-6666-4000-8000-0000000000bb';
const USER_A = '#cloud-config\nhostname: app-a\nruncmd: [ "echo a" ]\n';
const USER_B = '#cloud-config\nhostname: app-b\n';
const acls = [{ matches: [{ type: 'ip', value: '0.0.0.0/0' }] }];
const b64 = (s: string): string => Buffer.from(s).toString('base64');

const doc = {
  deviceIoList: [{ ptype: 'PhyIoNetEth', phylabel: 'eth1', logicallabel: 'eth1', phyaddrs: { Ifname: 'eth1' }, usage: 'PhyIoUsageMgmtAndApps' }],
  systemAdapterList: [{ name: 'uplink', lowerLayerName: 'eth1', uplink: true }],
  networkInstances: [{ uuidandversion: { uuid: LAN, version: '1' }, displayname: 'lan', instType: 'ZnetInstLocal', activate: true, port: { name: 'uplink' }, ip: { subnet: '10.74.0.0/24', dhcpRange: { start: '10.74.0.100', end: '10.74.0.120' } } }],
  apps: [
    { uuidandversion: { uuid: APP_A, version: '1' }, displayname: 'app-a', activate: true, userData: b64(USER_A), interfaces: [{ name: 'eth0', networkId: LAN, acls }] },
    { uuidandversion: { uuid: APP_B, version: '1' }, displayname: 'app-b', activate: true, userData: b64(USER_B), interfaces: [{ name: 'eth0', networkId: LAN, acls }] },
  ],
};

describeKernel('metadata service (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let dev: Netns, vmA: Netns, vmB: Netns, outside: Netns;

  beforeEach(async () => {
    ({ dev, vma: vmA, vmb: vmB, out: outside } = await t.namespaces(['dev', 'vma', 'vmb', 'out'], { uplink: true }));
  });


  const http = (vm: Netns, url: string) => vm.exec('curl', ['-sS', '--fail', '-m', '3', url], { timeoutMs: 10_000 });

  it('answers each app with its own user data, and nothing else answers at 169.254.169.254', async () => {
    daemon = await TestDaemon.start(dev, JSON.stringify(doc));
    const answer = (await daemon.api.putConfig(JSON.stringify(doc), 'application/json', { format: 'eve' })) as Awaited<ReturnType<typeof daemon.api.putConfig>> & EveApplyExtras;
    for (const [app, vm] of [['app-a', vmA], ['app-b', vmB]] as const) {
      const tap = answer.eve.taps.find((t) => t.app === app);
      if (!tap) throw new Error(`no tap for ${app}`);
      await dev.ip('link', 'add', tap.ifname, 'type', 'veth', 'peer', 'name', 'eth0', 'address', tap.mac, 'netns', vm.name);
      await vm.ip('link', 'set', 'eth0', 'up');
    }
    await eventually('both attached', async () => (await daemon?.status())?.endpoints.every((e) => e.state === 'ready') === true);
    await dhcpLease(vmA);
    await dhcpLease(vmB);

    const a = await http(vmA, 'http://169.254.169.254/openstack/latest/user_data');
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toBe(USER_A);
    const b = await http(vmB, 'http://169.254.169.254/openstack/latest/user_data');
    expect(b.stdout).toBe(USER_B);
    const meta = JSON.parse((await http(vmB, 'http://169.254.169.254/openstack/latest/meta_data.json')).stdout) as Record<string, unknown>;
    expect(meta).toMatchObject({ uuid: APP_B, hostname: 'app-b' });
    const net = JSON.parse((await http(vmA, 'http://169.254.169.254/eve/v1/network.json')).stdout) as Record<string, unknown>;
    expect(net).toMatchObject({ 'caller-ip': '10.74.0.100', hostname: APP_A });

    // nothing else there: no other port, no ping, and never routed out of the uplink
    expect((await http(vmA, 'http://169.254.169.254:8080/')).code).not.toBe(0);
    expect((await vmA.exec('busybox', ['nc', '-w', '2', '169.254.169.254', '22'], { timeoutMs: 10_000 })).code).not.toBe(0);
    expect(await vmA.ping('169.254.169.254')).toBe(false);
    // the uplink's side does not reach it either
    await outside.ip('route', 'add', '169.254.169.254/32', 'via', '192.168.77.1');
    expect((await http(outside, 'http://169.254.169.254/openstack/latest/user_data')).code).not.toBe(0);
  });
});
