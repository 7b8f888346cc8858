// An EVE controller's EdgeDevConfig, applied as written: the daemon builds its NIs, announces the tap name of each
// app adapter, attaches the interface created under that name, and the app behind it gets its `addr` by DHCP.
import { beforeEach, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { convertEveConfig } from '../../src/eve/eve-convert.ts';
import type { EveApplyExtras } from '../../src/eve/eve-types.ts';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { dhcpLease } from '../helpers/dhcp.ts';
import { describeKernel, eventually, type Netns } from '../helpers/netns.ts';

const LAN = 'a1b2c3d4-0001-4000-8000-00000000000a';
const LAB = 'a1b2c3d4-0003-4000-8000-00000000000c';
const APP = '6f1c2a9b-5d3e-4f60-8a71-92b3c4d5e6f7';
const MAC = '02:16:3e:00:00:10';
const allowAll = [{ matches: [{ type: 'ip', value: '0.0.0.0/0' }] }];

/** An EdgeDevConfig as a controller writes it: a local NI on the port whose logical name is "uplink" (eth1), an air-gapped one. */
function edgeDevConfig(networkId = LAN): Record<string, unknown> {
  return {
    deviceIoList: [{ ptype: 'PhyIoNetEth', phylabel: 'eth1', logicallabel: 'eth1', phyaddrs: { Ifname: 'eth1' }, usage: 'PhyIoUsageMgmtAndApps' }],
    systemAdapterList: [{ name: 'uplink', lowerLayerName: 'eth1', uplink: true }],
    networkInstances: [
      {
        uuidandversion: { uuid: LAN, version: '1' },
        displayname: 'Plant LAN',
        instType: 'ZnetInstLocal',
        activate: true,
        port: { type: 'PhyIoNetEth', name: 'uplink' },
        ipType: 'IPV4',
        ip: { subnet: '10.50.0.0/24', gateway: '10.50.0.1', dhcpRange: { start: '10.50.0.100', end: '10.50.0.199' } },
      },
      {
        uuidandversion: { uuid: LAB, version: '1' },
        displayname: 'Lab',
        instType: 2,
        activate: true,
        ip: { subnet: '10.60.0.0/24' },
        staticRoutes: [{ destinationNetwork: '192.168.100.0/24', gateway: '10.60.0.5' }],
        // a port-less NI has no connected routes of a port to propagate: a finding
        propagateConnectedRoutes: true,
      },
    ],
    apps: [
      {
        uuidandversion: { uuid: APP, version: '1' },
        displayname: 'Web HMI',
        activate: true,
        interfaces: [{ name: 'eth0', networkId, addr: '10.50.0.10', macAddress: MAC, acls: allowAll }],
      },
    ],
  };
}

describeKernel('EVE EdgeDevConfig (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let dev: Netns, vm: Netns;

  beforeEach(async () => {
    ({ dev, vm } = await t.namespaces(['dev', 'vm', 'out'], { uplink: true }));
  });


  it('builds the NIs, attaches the interface created under the announced name, and the app gets its addr by DHCP', async () => {
    const doc = edgeDevConfig();
    // the daemon reads the file as EVE because it has networkInstances
    daemon = await TestDaemon.start(dev, JSON.stringify(doc, null, 2));
    const status = await daemon.status();
    expect(status.networks.map((n) => [n.name, n.type, n.state])).toEqual([
      ['lab', 'local', 'ready'],
      ['plant-lan', 'local', 'ready'],
    ]);
    expect(status.ports).toMatchObject([{ name: 'uplink', ifname: 'eth1', network: 'plant-lan' }]);
    const lan = status.networks.find((n) => n.name === 'plant-lan');

    // the announced name: in the apply answer, in the conversion, and in status before the interface exists
    const answer = (await daemon.api.putConfig(JSON.stringify(doc), 'application/json', { format: 'eve' })) as Awaited<ReturnType<typeof daemon.api.putConfig>> & EveApplyExtras;
    expect(answer).toMatchObject({ created: [], updated: [], deleted: [] });
    const tap = answer.eve.taps[0];
    expect(tap).toMatchObject({ app: 'web-hmi', network: 'plant-lan', mac: MAC, ip: '10.50.0.10' });
    expect(tap?.ifname).toBe(convertEveConfig(doc).names.taps[0]?.ifname);
    expect(answer.findings).toContainEqual(expect.objectContaining({ path: 'networkInstances[1].propagateConnectedRoutes', subject: 'network lab' }));
    const ifname = tap?.ifname ?? '';
    expect(ifname).toMatch(/^nbu[0-9a-f]{8}x0$/);
    // status shows where the running config came from: the findings and the names the document mapped to
    const withEve = await daemon.status();
    expect(withEve.eve?.findings).toContainEqual(expect.objectContaining({ path: 'networkInstances[1].propagateConnectedRoutes', subject: 'network lab' }));
    expect(withEve.eve?.names.taps[0]?.ifname).toBe(tap?.ifname);
    const pending = withEve.endpoints.find((e) => e.app === 'web-hmi');
    expect(pending).toMatchObject({ network: 'plant-lan', kind: 'tap', ifname, state: 'pending' });

    // the hypervisor's tap, played by a veth whose far end is the VM's NIC (with the adapter's MAC)
    await dev.ip('link', 'add', ifname, 'type', 'veth', 'peer', 'name', 'eth0', 'address', MAC, 'netns', vm.name);
    await vm.ip('link', 'set', 'eth0', 'up');
    await eventually('the tap attached', async () => (await daemon?.status())?.endpoints.find((e) => e.app === 'web-hmi')?.state === 'ready');
    expect(await dev.ip('-o', 'link', 'show', ifname)).toContain(`master ${lan?.bridge}`);

    const lease = await dhcpLease(vm);
    expect(lease).toMatchObject({ ip: '10.50.0.10', router: '10.50.0.1', dns: '10.50.0.1' });
    expect(await vm.ping('192.168.77.2')).toBe(true);
  });

  it('refuses an adapter on an unknown network instance alone with its EVE path; a malformed document changes nothing', async () => {
    daemon = await TestDaemon.start(dev, JSON.stringify(edgeDevConfig()));
    const before = await daemon.status();
    const answer = (await daemon.api.putConfig(JSON.stringify(edgeDevConfig('f00dfeed-0000-4000-8000-000000000000')), 'application/json', { format: 'eve' })) as Awaited<ReturnType<typeof daemon.api.putConfig>> & EveApplyExtras;
    expect(answer.errors).toEqual([
      { kind: 'adapter', path: 'apps[0].interfaces[0]', uuid: APP, name: 'web-hmi', adapter: 0, reason: 'apps[0].interfaces[0].networkId: unknown network instance "f00dfeed-0000-4000-8000-000000000000" (not in networkInstances)' },
    ]);
    expect(answer.deleted).toEqual(['endpoint web-hmi/plant-lan']);
    expect((await daemon.status()).networks.map((n) => [n.name, n.state, n.bridge])).toEqual(before.networks.map((n) => [n.name, n.state, n.bridge]));
    await daemon.api.putConfig(JSON.stringify(edgeDevConfig()), 'application/json', { format: 'eve' });
    const notList = await daemon.api.putConfig('{"networkInstances": {}}', 'application/json').catch((e: unknown) => e);
    expect((notList as ConfigError).issues[0]?.path).toBe('networkInstances');
    const after = await daemon.status();
    expect(after.networks.map((n) => [n.name, n.state, n.bridge])).toEqual(before.networks.map((n) => [n.name, n.state, n.bridge]));
    expect(after.endpoints.map((e) => [e.app, e.ifname])).toEqual(before.endpoints.map((e) => [e.app, e.ifname]));
  });
});
