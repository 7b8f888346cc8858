// EVE's NI info and metrics from a running edgenet on fake drivers: the output parses against schemas built from
// eve-api's .proto files, carries the EVE uuids, MACs and addresses, and reports refused NIs in error.
import { afterEach, describe, expect, it } from 'vitest';
import { FakeAddressLearner } from '../../src/drivers/address-learner-fake.ts';
import { FakeLinkStats } from '../../src/drivers/link-stats-fake.ts';
import { createEveReporter, SEVERITY, ZNETINST_STATE } from '../../src/eve/eve-info.ts';
import { validateEveConfig } from '../../src/eve/eve-load.ts';
import { EveRecord } from '../../src/eve/eve-record.ts';
import { fakeEdgenet, type FakeSystem } from '../helpers/fake-edgenet.ts';
import { eveInfoDocument, eveMetricsDocument } from '../helpers/eve-info-schema.ts';

const LAN = 'a1b2c3d4-0001-4000-8000-00000000000a';
const SW = 'a1b2c3d4-0002-4000-8000-00000000000b';
const BAD = 'a1b2c3d4-0003-4000-8000-00000000000c';
const APP = '6f1c2a9b-5d3e-4f60-8a71-92b3c4d5e6f7';
const doc = {
  systemAdapterList: [{ name: 'uplink', lowerLayerName: 'eth1' }, { name: 'field', lowerLayerName: 'eth2' }],
  networkInstances: [
    { uuidandversion: { uuid: LAN, version: '3' }, displayname: 'Plant LAN', instType: 'ZnetInstLocal', activate: true, port: { name: 'uplink' }, ip: { subnet: '10.50.0.0/24', dhcpRange: { start: '10.50.0.100', end: '10.50.0.110' } } },
    { uuidandversion: { uuid: SW, version: '1' }, displayname: 'Fieldbus', instType: 'ZnetInstSwitch', activate: true, port: { name: 'field' } },
    { uuidandversion: { uuid: BAD, version: '1' }, displayname: 'Broken', instType: 'ZnetInstLocal', activate: true, ip: { subnet: '10.50.0.128/25' } },
  ],
  apps: [{ uuidandversion: { uuid: APP }, displayname: 'Web', interfaces: [{ name: 'eth0', networkId: LAN, acls: [] }, { name: 'eth1', networkId: SW, acls: [] }] }],
};

describe('EVE info and metrics (fake drivers)', () => {
  let sys: FakeSystem | undefined;
  afterEach(async () => {
    await sys?.net.stop();
    sys = undefined;
  });

  it('reports ZInfoNetworkInstance and ZMetricNetworkInstance per NI that parse against the eve-api schemas', async () => {
    sys = await fakeEdgenet();
    sys.links.addExternal('eth1');
    sys.links.addExternal('eth2');
    const eve = validateEveConfig(doc);
    await sys.net.apply(eve.config, { partial: true });
    const record = new EveRecord();
    record.applied(eve);
    const learner = new FakeAddressLearner();
    const stats = new FakeLinkStats();
    const net = sys.net;
    const reporter = createEveReporter({ status: () => record.statusOf(net.status()), status$: net.status$, learner, stats });
    const status = record.statusOf(net.status());
    const lan = status.networks.find((n) => n.name === 'plant-lan');
    const sw = status.networks.find((n) => n.name === 'fieldbus');
    const [tapLan, tapSw] = eve.names.taps;
    expect(lan && sw && tapLan && tapSw).toBeTruthy();
    stats.set(lan?.bridge ?? '', { mac: '02:00:00:00:00:01' });
    stats.set(tapLan?.ifname ?? '', { txBytes: 1000n, rxBytes: 2000n, txPackets: 10n, rxPackets: 20n, rxDropped: 1n });
    stats.set(tapSw?.ifname ?? '', { txBytes: 5n, rxBytes: 7n, txPackets: 1n, rxPackets: 1n });

    const info = await reporter.info();
    expect(eveInfoDocument.safeParse(info).error?.issues ?? []).toEqual([]);
    // the switch bridge learns once a switch NI is there
    expect(learner.bridges).toEqual([sw?.bridge]);
    learner.see(tapSw?.mac ?? '', '192.168.9.50', 'dhcp');
    learner.see('02:99:99:99:99:99', '192.168.9.1');
    const again = await reporter.info();
    const byId = new Map(again.map((i) => [i.networkID, i]));
    expect(byId.get(LAN)).toMatchObject({
      displayname: 'Plant LAN',
      instType: 2,
      activated: true,
      ports: ['uplink'],
      bridgeName: lan?.bridge,
      bridgeIPAddr: '10.50.0.1',
      ipAssignments: [
        { macAddress: tapLan?.mac, ipAddress: ['10.50.0.100'] },
        { macAddress: '02:00:00:00:00:01', ipAddress: ['10.50.0.1'] },
      ],
      vifs: [{ vifName: tapLan?.ifname, macAddress: tapLan?.mac, appID: APP }],
      state: ZNETINST_STATE.ONLINE,
      mtu: 1500,
    });
    expect(byId.get(SW)).toMatchObject({ instType: 1, ports: ['field'], bridgeIPAddr: '', ipAssignments: [{ macAddress: tapSw?.mac, ipAddress: ['192.168.9.50'] }] });
    // the overlapping NI is reported in error, with its reason
    expect(byId.get(BAD)).toMatchObject({ displayname: 'Broken', activated: false, state: ZNETINST_STATE.ERROR, networkErr: [{ severity: SEVERITY.ERROR, description: expect.stringMatching(/overlaps subnet 10\.50\.0\.0\/24/) }] });

    const metrics = await reporter.metrics();
    expect(eveMetricsDocument.safeParse(metrics).error?.issues ?? []).toEqual([]);
    const m = metrics.find((x) => x.networkID === LAN);
    expect(m?.network.find((x) => x.iName === tapLan?.ifname)).toMatchObject({ txBytes: '1000', rxBytes: '2000', txPkts: '10', rxPkts: '20', rxDrops: '1', txAclDrops: '0' });
    expect(m?.networkStats).toEqual({ rx: { totalPackets: '20', errors: '0', drops: '1', totalBytes: '2000' }, tx: { totalPackets: '10', errors: '0', drops: '0', totalBytes: '1000' } });
    expect(metrics.map((x) => x.networkID).sort()).toEqual([LAN, SW].sort());
    await reporter.close({ remove: true });
    expect(learner.bridges).toEqual([]);
  });

  it('the schemas refuse what eve-api would not parse (wrong names, enums as text, unknown fields)', () => {
    expect(eveInfoDocument.safeParse([{ networkId: 'x' }]).success).toBe(false);
    expect(eveInfoDocument.safeParse([{ instType: 'ZnetInstLocal' }]).success).toBe(false);
    expect(eveInfoDocument.safeParse([{ state: 7 }]).success).toBe(false);
    expect(eveMetricsDocument.safeParse([{ network: [{ txBytes: '-1' }] }]).success).toBe(false);
    expect(eveInfoDocument.safeParse([{ networkID: 'x', instType: 2, ipAssignments: [{ macAddress: 'm', ipAddress: ['1.2.3.4'] }] }]).success).toBe(true);
  });
});

describe('address learning on nftables (rendering and parsing only)', () => {
  it('renders one table that learns from ARP, IPv4 and DHCP replies ahead of br_netfilter', async () => {
    const { learnScript, parseLearned } = await import('../../src/drivers/address-learner-nft.ts');
    const script = learnScript(['enbr-plant']);
    expect(script).toMatch(/^add table bridge edgenet$/m);
    expect(script).toMatch(/hook forward priority -200/);
    expect(script).toMatch(/arp saddr ip != 0\.0\.0\.0 update @traffic \{ ether saddr \. arp saddr ip \}/);
    expect(script).toMatch(/udp sport 67 udp dport 68 @th,64,8 2 update @dhcp \{ @th,288,48 \. @th,192,32 \}/);
    // nft -j list set: typed elements, and raw integers for the DHCP set
    const traffic = JSON.stringify({ nftables: [{ set: { elem: [{ elem: { val: { concat: ['02:16:3e:aa:bb:cc', '192.168.9.50'] }, expires: 3599 } }] } }] });
    const dhcp = JSON.stringify({ nftables: [{ set: { elem: [{ elem: { val: { concat: [0x02163eaabbcc, 0xc0a80932] } } }, { concat: ['0x02163eaabbcd', 3232237875] }] } }] });
    expect(parseLearned(traffic, 'traffic')).toEqual([{ mac: '02:16:3e:aa:bb:cc', ip: '192.168.9.50', source: 'traffic' }]);
    expect(parseLearned(dhcp, 'dhcp')).toEqual([
      { mac: '02:16:3e:aa:bb:cc', ip: '192.168.9.50', source: 'dhcp' },
      { mac: '02:16:3e:aa:bb:cd', ip: '192.168.9.51', source: 'dhcp' },
    ]);
  });
});
