// EVE's per-object errors on the real kernel: an adapter that gets no address is refused alone (the NI and the other
// app keep working) and is served once an address is free, by a wider range or by another app's removal; an NI on
// an unknown port label is built air-gapped with an error; an NI overlapping another is in error alone.
import { beforeEach, expect, it } from 'vitest';
import { eveAppMac } from '../../src/eve/eve-macs.ts';
import type { EveApplyExtras } from '../../src/eve/eve-types.ts';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { dhcpLease } from '../helpers/dhcp.ts';
import { describeKernel, eventually, type Netns } from '../helpers/netns.ts';

const LAN = 'c0ffee00-0001-4000-8000-00000000000a';
const APP_A = '0a0a0a0a-1111-4000-8000-0000000000aa';
const APP_B = '0b0b0b0b-2222-4000-8000-0000000000bb';
const allowAll = [{ matches: [{ type: 'protocol', value: 'all' }, { type: 'ip', value: '0.0.0.0/0' }] }];

function doc(opts: { end?: string; apps?: string[] } = {}): Record<string, unknown> {
  const apps = opts.apps ?? [APP_A, APP_B];
  return {
    deviceIoList: [{ ptype: 'PhyIoNetEth', phylabel: 'eth1', logicallabel: 'eth1', phyaddrs: { Ifname: 'eth1' }, usage: 'PhyIoUsageMgmtAndApps' }],
    systemAdapterList: [{ name: 'uplink', lowerLayerName: 'eth1', uplink: true }],
    networkInstances: [
      {
        uuidandversion: { uuid: LAN, version: '1' },
        displayname: 'lan',
        instType: 'ZnetInstLocal',
        activate: true,
        port: { name: 'uplink' },
        ip: { subnet: '10.70.0.0/24', gateway: '10.70.0.1', dhcpRange: { start: '10.70.0.100', end: opts.end ?? '10.70.0.100' } },
      },
    ],
    apps: apps.map((uuid) => ({
      uuidandversion: { uuid, version: '1' },
      displayname: uuid === APP_A ? 'app-a' : 'app-b',
      activate: true,
      interfaces: [{ name: 'eth0', networkId: LAN, acls: allowAll }],
    })),
  };
}

type Answer = Awaited<ReturnType<TestDaemon['api']['putConfig']>> & EveApplyExtras;

describeKernel('EVE per-object errors (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let dev: Netns, vmA: Netns, vmB: Netns;

  beforeEach(async () => {
    ({ dev, vma: vmA, vmb: vmB } = await t.namespaces(['dev', 'vma', 'vmb', 'out'], { uplink: true }));
  });


  const push = async (d: Record<string, unknown>): Promise<Answer> => (await daemon?.api.putConfig(JSON.stringify(d), 'application/json', { format: 'eve' })) as Answer;

  /** The hypervisor's tap of an app, played by a veth whose far end is the VM's eth0 with the announced MAC. */
  const plugVm = async (answer: Answer, app: string, vm: Netns): Promise<string> => {
    const tap = answer.eve.taps.find((t) => t.app === app);
    if (!tap) throw new Error(`no tap for ${app}`);
    await dev.ip('link', 'add', tap.ifname, 'type', 'veth', 'peer', 'name', 'eth0', 'address', tap.mac, 'netns', vm.name);
    await vm.ip('link', 'set', 'eth0', 'up');
    return tap.ifname;
  };
  const endpointState = async (app: string) => (await daemon?.status())?.endpoints.find((e) => e.app === app)?.state;

  it('refuses the second app alone when the range has one free address; a wider range serves it and the first does not move', async () => {
    daemon = await TestDaemon.start(dev, JSON.stringify(doc()));
    const answer = await push(doc());
    expect(answer.errors).toEqual([
      { kind: 'adapter', path: 'apps[1].interfaces[0]', uuid: APP_B, name: 'app-b/lan', adapter: 0, reason: 'lan: no free address in 10.70.0.100-10.70.0.100 for app-b/lan' },
    ]);
    const status = await daemon.status();
    expect(status.eve?.errors?.map((e) => e.name)).toEqual(['app-b/lan']);
    expect(status.eve?.names.taps.find((t) => t.app === 'app-b')).toMatchObject({ state: 'refused', reason: expect.stringMatching(/no free address/) });
    expect(status.endpoints.map((e) => e.app)).toEqual(['app-a']);

    await plugVm(answer, 'app-a', vmA);
    const tapB = await plugVm(answer, 'app-b', vmB);
    await eventually('app-a attached', async () => (await endpointState('app-a')) === 'ready');
    expect(await dhcpLease(vmA)).toMatchObject({ ip: '10.70.0.100', router: '10.70.0.1' });
    expect(await vmA.ping('192.168.77.2')).toBe(true);
    // the refused adapter's interface is left alone: not on the bridge
    expect(await dev.ip('-o', 'link', 'show', tapB)).not.toContain('master');
    expect((await daemon.status()).networks.find((n) => n.name === 'lan')?.state).toBe('ready');

    const wider = await push(doc({ end: '10.70.0.101' }));
    expect(wider.errors).toEqual([]);
    expect(wider.created).toContain('endpoint app-b/lan');
    await eventually('app-b attached', async () => (await endpointState('app-b')) === 'ready');
    expect(await dhcpLease(vmB)).toMatchObject({ ip: '10.70.0.101' });
    const after = await daemon.status();
    expect(after.endpoints.map((e) => [e.app, e.ip])).toEqual([['app-a', '10.70.0.100'], ['app-b', '10.70.0.101']]);
    expect(after.eve?.errors).toEqual([]);
    expect(await dhcpLease(vmA)).toMatchObject({ ip: '10.70.0.100' });
    expect(await vmA.ping('192.168.77.2')).toBe(true);
  });

  it("serves the refused app once the first app's removal frees the address", async () => {
    daemon = await TestDaemon.start(dev, JSON.stringify(doc()));
    const answer = await push(doc());
    expect(answer.errors.map((e) => e.name)).toEqual(['app-b/lan']);
    await plugVm(answer, 'app-b', vmB);
    const gone = await push(doc({ apps: [APP_B] }));
    expect(gone.errors).toEqual([]);
    expect(gone.deleted).toContain('endpoint app-a/lan');
    expect(gone.created).toContain('endpoint app-b/lan');
    await eventually('app-b attached', async () => (await endpointState('app-b')) === 'ready');
    expect(await dhcpLease(vmB)).toMatchObject({ ip: '10.70.0.100' });
    expect(await vmB.ping('192.168.77.2')).toBe(true);
  });

  it('builds an NI on an unknown port label air-gapped with an error, and refuses an overlapping NI alone', async () => {
    const ni = (uuid: string, name: string, subnet: string, port?: string) => ({
      uuidandversion: { uuid, version: '1' }, displayname: name, instType: 'ZnetInstLocal', activate: true, ...(port && { port: { name: port } }), ip: { subnet },
    });
    const d = { ...doc({ apps: [] }), networkInstances: [ni('c0ffee00-0002-4000-8000-00000000000b', 'nolabel', '10.71.0.0/24', 'nosuchlabel'), ni('c0ffee00-0003-4000-8000-00000000000c', 'first', '10.72.0.0/24'), ni('c0ffee00-0004-4000-8000-00000000000d', 'overlap', '10.72.0.128/25')] };
    daemon = await TestDaemon.start(dev, JSON.stringify(d));
    const answer = await push(d);
    expect(answer.errors.map((e) => [e.kind, e.name, e.path])).toEqual([
      ['network', 'nolabel', 'networkInstances[0]'],
      ['network', 'overlap', 'networkInstances[2]'],
    ]);
    expect(answer.errors[0]?.reason).toMatch(/unknown port "nosuchlabel".*air-gapped/);
    expect(answer.errors[1]?.reason).toMatch(/^networkInstances\[2\]\.ip\.subnet: subnet 10\.72\.0\.128\/25 overlaps subnet 10\.72\.0\.0\/24/);
    const status = await daemon.status();
    expect(status.networks.map((n) => [n.name, n.state, n.port])).toEqual([
      ['first', 'ready', undefined],
      ['nolabel', 'ready', undefined],
    ]);
    expect(status.eve?.names.networks.find((n) => n.name === 'overlap')).toMatchObject({ state: 'refused' });
    expect(status.eve?.names.networks.find((n) => n.name === 'nolabel')).toMatchObject({ state: 'built', error: expect.stringMatching(/unknown port/) });
  });

  it('gives the same EVE MAC for the same app and NI uuids on two runs and after a display-name change', async () => {
    const one = doc({ apps: [APP_A], end: '10.70.0.110' });
    daemon = await TestDaemon.start(dev, JSON.stringify(one));
    const want = eveAppMac(APP_A, LAN, 0, 'local');
    const macOf = async () => (await daemon?.status())?.endpoints.find((e) => e.network === 'lan')?.mac;
    expect(await macOf()).toBe(want);
    await plugVm(await push(one), 'app-a', vmA);
    await eventually('app-a attached', async () => (await endpointState('app-a')) === 'ready');
    expect((await vmA.ip('-o', 'link', 'show', 'eth0'))).toContain(want);
    const lease = await dhcpLease(vmA);
    // renamed: another edgenet name, the same MAC and so the same address
    const renamed = doc({ apps: [APP_A], end: '10.70.0.110' });
    (renamed['apps'] as { displayname: string }[])[0]!.displayname = 'HMI renamed';
    const answer = await push(renamed);
    expect(answer.eve.taps[0]).toMatchObject({ app: 'hmi-renamed', mac: want });
    expect(await macOf()).toBe(want);
    // a second run on the same state
    await daemon.restart();
    expect(await macOf()).toBe(want);
    await eventually('re-attached', async () => (await daemon?.status())?.endpoints.every((e) => e.state === 'ready') === true);
    expect((await dhcpLease(vmA)).ip).toBe(lease.ip);
  });
});
