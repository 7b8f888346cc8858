// The library on fake drivers: a link event reaches exactly the actor that owns the link.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeEdgenet, type FakeSystem } from '../helpers/fake-edgenet.ts';

const config = {
  ports: [{ name: 'up0', ifname: 'eth1' }, { name: 'field', ifname: 'eth2' }],
  networks: [
    { name: 'lan', type: 'local', port: 'up0', subnet: '10.50.0.0/24' },
    { name: 'plant', type: 'switch', port: 'field' },
  ],
  apps: [
    { name: 'web', interfaces: [{ network: 'lan', netns: '/run/netns/web' }] },
    { name: 'vm', interfaces: [{ network: 'lan', tap: 'vif7' }] },
    { name: 'plc', interfaces: [{ network: 'plant', tap: 'vif8' }] },
  ],
};

describe('link event routing', () => {
  let sys: FakeSystem;
  afterEach(async () => {
    await sys.net.stop();
  });

  async function started(): Promise<FakeSystem> {
    sys = await fakeEdgenet();
    sys.links.addExternal('eth1', { carrier: true });
    sys.links.addExternal('eth2', { carrier: true });
    sys.links.addExternal('vif7', { carrier: true });
    sys.links.addExternal('vif8', { carrier: true });
    sys.links.addNetns('/run/netns/web');
    await sys.net.apply(config);
    expect(sys.net.status().networks.map((n) => n.state)).toEqual(['ready', 'ready']);
    sys.received.clear();
    return sys;
  }

  const linkEventsBy = (s: FakeSystem): Record<string, string[]> =>
    Object.fromEntries(
      [...s.received.entries()]
        .map(([id, evs]) => [id, evs.filter((e) => e === 'LINK_NEW' || e === 'LINK_DEL' || e === 'BRIDGE_GONE')] as const)
        .filter(([, evs]) => evs.length > 0),
    );

  it('a carrier change of a port reaches only that port actor (and its NI hears it from the system actor)', async () => {
    const s = await started();
    s.links.setCarrier('eth2', false);
    // waited for, not slept on: the NI's state is the last thing the event moves
    await vi.waitFor(() => expect(s.net.status().networks.find((n) => n.name === 'plant')?.state).toBe('degraded'), { timeout: 5000 });
    const byPrefix = (evs: Record<string, string[]>): Record<string, string[]> =>
      Object.fromEntries(Object.entries(evs).map(([id, e]) => [id.replace(/#\d+$/, ''), e]));
    expect(byPrefix(linkEventsBy(s))).toEqual({ 'port:field': ['LINK_NEW'] });
    // the port actor tells the system actor (the root), which tells the one NI that uses the port: nobody else hears
    expect([...s.received.keys()].map((id) => id.replace(/#\d+$/, '')).sort()).toEqual(['edgenet', 'ni:plant', 'port:field']);
    expect(s.net.status().networks.find((n) => n.name === 'plant')?.state).toBe('degraded');
    expect(s.net.status().networks.find((n) => n.name === 'lan')?.state).toBe('ready');
  });

  it('a tap going away reaches only its endpoint actor', async () => {
    const s = await started();
    s.links.removeExternal('vif7');
    await vi.waitFor(() => expect(s.net.status().endpoints.find((e) => e.app === 'vm')?.state).toBe('pending'), { timeout: 5000 });
    expect(Object.keys(linkEventsBy(s)).map((id) => id.replace(/#\d+$/, ''))).toEqual(['ep:vm/lan']);
    expect(s.net.status().endpoints.find((e) => e.app === 'vm')).toMatchObject({ state: 'pending', reason: 'tap vif7 gone' });
  });

  it('a link edgenet does not own reaches no actor', async () => {
    const s = await started();
    s.links.addExternal('eth9', { carrier: true });
    // a sentinel after it that does reach an actor: once it has arrived, eth9's event has been routed too
    s.links.setCarrier('eth2', false);
    await vi.waitFor(() => expect(Object.keys(linkEventsBy(s)).some((id) => id.startsWith('port:field'))).toBe(true), { timeout: 5000 });
    expect(Object.keys(linkEventsBy(s)).map((id) => id.replace(/#\d+$/, ''))).toEqual(['port:field']);
  });

  it('a flap costs no kernel write', async () => {
    const s = await started();
    const before = s.net.status().writes;
    s.links.setCarrier('eth1', false);
    await vi.waitFor(() => expect(s.net.status().networks.find((n) => n.name === 'lan')?.state).toBe('degraded'), { timeout: 5000 });
    s.links.setCarrier('eth1', true);
    await vi.waitFor(() => expect(s.net.status().networks.find((n) => n.name === 'lan')?.state).toBe('ready'), { timeout: 5000 });
    expect(s.net.status().writes).toEqual(before);
  });

  it('the firewall audit repairs rules flushed behind our back, for the NI that owns them', async () => {
    const s = await started();
    s.firewall.flushBehindOurBack();
    // the rules are back while the repair runs; the NI is ready once it is done (a moment later)
    await vi.waitFor(
      () => {
        expect(s.firewall.rulesFor('lan')?.masqueradeOut).toBe('eth1');
        expect(s.net.status().networks.find((n) => n.name === 'lan')?.state).toBe('ready');
      },
      { timeout: 5000 },
    );
  });

  it('a port that does not exist yet keeps its NI degraded until it appears', async () => {
    sys = await fakeEdgenet();
    sys.links.addNetns('/run/netns/web');
    await sys.net.apply({
      ports: [{ name: 'up0', ifname: 'eth1' }],
      networks: [{ name: 'lan', type: 'local', port: 'up0', subnet: '10.50.0.0/24' }],
      apps: [{ name: 'web', interfaces: [{ network: 'lan', netns: '/run/netns/web' }] }],
    });
    const lan = (): unknown => sys.net.status().networks[0];
    expect(lan()).toMatchObject({ state: 'degraded', reason: 'port up0 (eth1) not present' });
    // it still serves its apps
    expect(sys.net.status().endpoints[0]).toMatchObject({ state: 'ready' });
    expect(sys.dhcpdns.networks()).toEqual(['lan']);
    sys.links.addExternal('eth1', { carrier: true });
    await vi.waitFor(() => {
      expect(lan()).toMatchObject({ state: 'ready' });
      expect(sys.net.status().ports[0]).toMatchObject({ name: 'up0', state: 'ready', carrier: true });
    }, { timeout: 5000 });
  });
});
