// An EVE EdgeDevConfig with ACLs and port maps (eve-api config/fw.proto), applied as written: it behaves as the
// native config of acl.test.ts (allow tcp fport 80 to 192.0.2.0/24) and portmap.test.ts (lport 8080 → app tcp 80).
import { beforeEach, expect, it } from 'vitest';
import { convertEveConfig } from '../../src/eve/eve-convert.ts';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { dhcpLease } from '../helpers/dhcp.ts';
import { connects, serveHello } from '../helpers/http.ts';
import { describeKernel, eventually, type Netns } from '../helpers/netns.ts';

const LAN = 'a1b2c3d4-0001-4000-8000-00000000000a';
const WEB = '6f1c2a9b-5d3e-4f60-8a71-92b3c4d5e6f7';
const SRV = '7e2d3bac-1111-4222-8333-444455556666';
const PEER = '8a3e4cbd-2222-4333-8444-555566667777';

function edgeDevConfig(): Record<string, unknown> {
  return {
    deviceIoList: [{ ptype: 'PhyIoNetEth', phylabel: 'eth1', logicallabel: 'eth1', phyaddrs: { Ifname: 'eth1' }, usage: 'PhyIoUsageMgmtAndApps' }],
    systemAdapterList: [{ name: 'uplink', lowerLayerName: 'eth1', uplink: true, sharedLabels: ['portfwd'] }],
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
    ],
    apps: [
      {
        uuidandversion: { uuid: WEB, version: '1' },
        displayname: 'web',
        activate: true,
        interfaces: [
          {
            name: 'eth0',
            networkId: LAN,
            addr: '10.50.0.10',
            acls: [{ id: 1, matches: [{ type: 'protocol', value: 'tcp' }, { type: 'fport', value: '80' }, { type: 'ip', value: '192.0.2.0/24' }] }],
          },
        ],
      },
      {
        uuidandversion: { uuid: SRV, version: '1' },
        displayname: 'srv',
        activate: true,
        interfaces: [
          {
            name: 'eth0',
            networkId: LAN,
            addr: '10.50.0.20',
            acls: [
              { id: 7, matches: [{ type: 'protocol', value: 'tcp' }, { type: 'lport', value: '8080' }, { type: 'adapter', value: 'portfwd' }], actions: [{ portmap: true, appPort: 80 }] },
            ],
          },
        ],
      },
      {
        uuidandversion: { uuid: PEER, version: '1' },
        displayname: 'peer',
        activate: true,
        interfaces: [{ name: 'eth0', networkId: LAN, addr: '10.50.0.30', acls: [{ matches: [{ type: 'ip', value: '0.0.0.0/0' }] }] }],
      },
    ],
  };
}

describeKernel('EVE ACLs and port maps (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let dev: Netns, web: Netns, srv: Netns, peer: Netns, outside: Netns;

  beforeEach(async () => {
    ({ dev, web, srv, peer, out: outside } = await t.namespaces(['dev', 'web', 'srv', 'peer', 'out'], { uplink: true }));
    await outside.ip('addr', 'add', '192.0.2.10/24', 'dev', 'eth0');
    await dev.ip('route', 'add', '192.0.2.0/24', 'via', '192.168.77.2');
    t.children.push(await serveHello(outside, '192.0.2.10', 80), await serveHello(outside, '192.0.2.10', 22));
  });


  it('behaves as the native config: allow tcp/80 to 192.0.2.0/24 only; lport 8080 → app tcp 80, hairpin, renumbering', async () => {
    const doc = edgeDevConfig();
    const conversion = convertEveConfig(doc);
    expect(conversion.config.apps?.map((a) => [a.name, a.interfaces?.[0]?.acls])).toEqual([
      ['web', [{ id: 1, match: { protocol: 'tcp', fport: 80, ip: '192.0.2.0/24' } }]],
      ['srv', [{ id: 7, match: { protocol: 'tcp', lport: 8080, adapter: 'uplink' }, action: 'portmap', appPort: 80 }]],
      ['peer', undefined],
    ]);
    daemon = await TestDaemon.start(dev, JSON.stringify(doc, null, 2));
    // the hypervisor's taps, played by veths whose far ends are the VMs' NICs
    for (const [app, ns] of [['web', web], ['srv', srv], ['peer', peer]] as const) {
      const tap = conversion.names.taps.find((t) => t.app === app);
      await dev.ip('link', 'add', tap?.ifname ?? '', 'type', 'veth', 'peer', 'name', 'eth0', 'address', tap?.mac ?? '', 'netns', ns.name);
      await ns.ip('link', 'set', 'eth0', 'up');
    }
    await eventually('the taps attached', async () => (await daemon?.status())?.endpoints.every((e) => e.state === 'ready'));
    expect((await dhcpLease(web)).ip).toBe('10.50.0.10');
    expect((await dhcpLease(srv)).ip).toBe('10.50.0.20');
    expect((await dhcpLease(peer)).ip).toBe('10.50.0.30');

    // test 1's behaviour
    await eventually('outside services', () => connects(peer, '192.0.2.10', 22));
    expect(await connects(web, '192.0.2.10', 80)).toBe(true);
    expect(await connects(web, '192.0.2.10', 22)).toBe(false);
    expect(await web.ping('192.0.2.10')).toBe(false);
    expect(await peer.ping('192.0.2.10')).toBe(true);

    // test 3's behaviour (srv's own ACL is only the port map: it may not open anything itself)
    t.children.push(await serveHello(srv, '10.50.0.20', 80));
    await eventually('httpd in the app', async () => (await srv.exec('curl', ['-s', '--max-time', '1', 'http://10.50.0.20/'])).stdout.includes('hello'));
    expect(await connects(outside, '192.168.77.1', 8080)).toBe(true);
    expect(await connects(peer, '192.168.77.1', 8080)).toBe(true);
    expect(await srv.ping('192.168.77.2')).toBe(false);
    const nft = (await daemon.status()).writes.nft;
    await dev.ip('addr', 'del', '192.168.77.1/24', 'dev', 'eth1');
    await dev.ip('addr', 'add', '192.168.77.5/24', 'dev', 'eth1');
    expect(await eventually('the forward on the new address', () => connects(outside, '192.168.77.5', 8080))).toBe(true);
    expect((await daemon.status()).writes.nft).toBe(nft);
    const rules = (await daemon.status()).endpoints.find((e) => e.app === 'srv')?.rules;
    expect(rules?.map((r) => `${r.rule}:${r.action}`)).toEqual(['7:portmap', 'default:deny', 'anti-spoofing:drop']);
  });
});
