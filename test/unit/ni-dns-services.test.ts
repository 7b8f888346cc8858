// The library on fake drivers: a port's DNS servers reach only the dnsmasq of the NIs on that port; what apps are
// told follows the NI's config.
import { afterEach, describe, expect, it } from 'vitest';
import { fakeEdgenet, type FakeSystem } from '../helpers/fake-edgenet.ts';

const config = (upDns: string[]) => ({
  ports: [{ name: 'up0', ifname: 'eth1', dns: upDns }, { name: 'up1', ifname: 'eth2', dns: ['10.9.0.1'] }],
  networks: [
    { name: 'lan', type: 'local', port: 'up0', subnet: '10.50.0.0/24', routes: [{ to: '10.70.0.0/16', via: '10.50.0.20' }] },
    { name: 'lab', type: 'local', port: 'up1', subnet: '10.60.0.0/24' },
    { name: 'iso', type: 'local', subnet: '10.80.0.0/24', dns: { hosts: [{ name: 'historian.plant.example', ips: ['10.80.0.30', '10.80.0.31'] }] } },
  ],
  apps: [{ name: 'gw', interfaces: [{ network: 'lan', netns: '/run/netns/gw', ip: '10.50.0.20' }] }],
});

describe('upstream DNS and DHCP options of local NIs (fake drivers)', () => {
  let sys: FakeSystem;
  afterEach(async () => {
    await sys.net.stop();
  });

  it('pins each NI to its port\'s servers; a change of one port\'s servers reloads only its NI\'s dnsmasq', async () => {
    sys = await fakeEdgenet();
    sys.links.addExternal('eth1', { carrier: true });
    sys.links.addExternal('eth2', { carrier: true });
    sys.links.addNetns('/run/netns/gw');
    await sys.net.apply(config(['192.168.77.2']));
    expect(sys.dhcpdns.spec('lan')?.upstream).toEqual([{ ip: '192.168.77.2', ifname: 'eth1' }]);
    expect(sys.dhcpdns.spec('lab')?.upstream).toEqual([{ ip: '10.9.0.1', ifname: 'eth2' }]);
    expect(sys.dhcpdns.spec('iso')?.upstream).toEqual([]);
    expect(sys.net.status().networks.map((n) => [n.name, n.upstreamDns?.from])).toEqual([['iso', 'none'], ['lab', 'ports'], ['lan', 'ports']]);
    // what apps are told: the router and DNS on NIs with a port; nothing on the port-less one
    expect(sys.dhcpdns.spec('lan')?.dhcp).toEqual({
      router: '10.50.0.1',
      dns: ['10.50.0.1'],
      ntp: [],
      routes: [{ to: '10.70.0.0/16', via: '10.50.0.20' }, { to: '0.0.0.0/0', via: '10.50.0.1' }],
    });
    expect(sys.dhcpdns.spec('iso')?.dhcp).toEqual({ dns: [], ntp: [], routes: [] });
    expect(sys.dhcpdns.spec('iso')?.staticHosts).toEqual([
      { name: 'historian.plant.example', ip: '10.80.0.30' },
      { name: 'historian.plant.example', ip: '10.80.0.31' },
      { name: 'router', ip: '10.80.0.1' },
    ]);

    const pids = Object.fromEntries(['lan', 'lab', 'iso'].map((n) => [n, sys.dhcpdns.pid(n)]));
    const before = sys.dhcpdns.writes.snapshot();
    sys.received.clear();
    const r = await sys.net.apply(config(['192.168.77.3']));
    expect(r.updated).toEqual(['network lan']);
    expect(sys.dhcpdns.spec('lan')?.upstream).toEqual([{ ip: '192.168.77.3', ifname: 'eth1' }]);
    // a reload, not a restart, and only lan's
    const after = sys.dhcpdns.writes.snapshot();
    expect(after.dnsmasqStart).toBe(before.dnsmasqStart);
    expect(after.dnsmasqReload).toBe(before.dnsmasqReload + 1);
    expect(Object.fromEntries(['lan', 'lab', 'iso'].map((n) => [n, sys.dhcpdns.pid(n)]))).toEqual(pids);
    // the actors that heard anything: the root, lan (its createNi re-run is lan's own invoked child) and lan's app,
    // told the bridge is up as before (a no-op in ready); lab and iso heard nothing
    const heard = Object.fromEntries([...sys.received.entries()].filter(([id]) => !id.includes('.networkInstance.')).map(([id, evs]) => [id.replace(/#\d+$/, ''), evs]));
    expect(Object.keys(heard).sort()).toEqual(['edgenet', 'ep:gw/lan', 'ni:lan']);
    expect(heard['ep:gw/lan']).toEqual(['NI_UP']);
    expect(sys.net.status().endpoints.map((e) => e.state)).toEqual(['ready']);
  });
});
