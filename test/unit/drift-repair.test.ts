// Drift on fake drivers: what someone changes behind edgenet's back reaches its one owner, which turns degraded
// with the reason and repairs it; nothing else moves.
import { afterEach, describe, expect, it } from 'vitest';
import type { Transition } from '../../src/edgenet-types.ts';
import { fakeEdgenet, type FakeSystem } from '../helpers/fake-edgenet.ts';

const config = {
  ports: [{ name: 'up0', ifname: 'eth1' }],
  networks: [
    { name: 'lan', type: 'local', port: 'up0', subnet: '10.50.0.0/24', mtu: 1400 },
    { name: 'plant', type: 'switch' },
  ],
  apps: [{ name: 'web', interfaces: [{ network: 'lan', netns: '/run/netns/web' }] }],
};

async function until(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('drift repair (fake drivers)', () => {
  let sys: FakeSystem;
  let seen: Transition[];
  afterEach(async () => {
    await sys.net.stop();
  });

  async function started(): Promise<FakeSystem> {
    sys = await fakeEdgenet();
    sys.links.addExternal('eth1', { carrier: true });
    sys.links.addNetns('/run/netns/web');
    await sys.net.apply(config);
    seen = [];
    sys.net.transitions$.subscribe((t) => seen.push(t));
    expect(sys.net.status().device).toEqual({ state: 'ready' });
    return sys;
  }

  /** The owner went degraded with a reason matching `reason` and is ready again; nobody else moved. */
  async function repairedBy(kind: Transition['kind'], name: string, reason: RegExp): Promise<void> {
    await until(`${kind} ${name} degraded`, () => seen.some((t) => t.kind === kind && t.name === name && t.to === 'degraded' && reason.test(t.reason ?? '')));
    await until(`${kind} ${name} ready again`, () => seen.at(-1)?.to === 'ready' && sys.net.status().networks.every((n) => n.state === 'ready') && sys.net.status().device?.state === 'ready');
    expect(seen.filter((t) => t.kind !== kind || t.name !== name)).toEqual([]);
  }

  const lanBridge = async () => (await sys.links.list()).find((l) => l.ifname === 'enbr-lan' || l.alias === 'edgenet:ni:lan');

  const cases: { name: string; tamper: (s: FakeSystem) => void; reason: RegExp; check: (s: FakeSystem) => Promise<void> }[] = [
    {
      name: 'bridge set down',
      tamper: (s) => s.links.tamper('enbr-lan', { up: false }),
      reason: /bridge enbr-lan set down/,
      check: async () => expect((await lanBridge())?.up).toBe(true),
    },
    {
      name: 'bridge MTU changed',
      tamper: (s) => s.links.tamper('enbr-lan', { mtu: 1300 }),
      reason: /MTU 1300, want 1400/,
      check: async () => expect((await lanBridge())?.mtu).toBe(1400),
    },
    {
      name: 'bridge alias removed',
      tamper: (s) => s.links.tamper('enbr-lan', { alias: null }),
      reason: /alias removed/,
      check: async () => expect((await lanBridge())?.alias).toBe('edgenet:ni:lan'),
    },
    {
      name: 'bridge renamed',
      tamper: (s) => s.links.tamper('enbr-lan', { ifname: 'enbr-zz' }),
      reason: /renamed to enbr-zz/,
      check: async (s) => {
        const links = await s.links.list();
        expect(links.filter((l) => l.kind === 'bridge').map((l) => l.ifname).sort()).toEqual(['enbr-lan', 'enbr-plant']);
      },
    },
    {
      name: 'gateway removed',
      tamper: (s) => s.links.tamperAddress('enbr-lan', 'del', '10.50.0.1', 24),
      reason: /gateway 10\.50\.0\.1\/24 missing on enbr-lan/,
      check: async (s) => expect((await s.links.listAddresses('enbr-lan')).map((a) => a.address)).toEqual(['10.50.0.1']),
    },
    {
      name: 'foreign address added',
      tamper: (s) => s.links.tamperAddress('enbr-lan', 'add', '10.50.0.9', 24),
      reason: /foreign address 10\.50\.0\.9\/24 on enbr-lan/,
      check: async (s) => expect((await s.links.listAddresses('enbr-lan')).map((a) => a.address)).toEqual(['10.50.0.1']),
    },
  ];

  it.each(cases)('$name: the NI repairs it', async ({ tamper, reason, check }) => {
    const s = await started();
    tamper(s);
    await repairedBy('network', 'lan', reason);
    await check(s);
  });

  it('a switch NI bridge set down is its own repair too', async () => {
    const s = await started();
    s.links.tamper('enbr-plant', { up: false });
    await repairedBy('network', 'plant', /bridge enbr-plant set down/);
  });

  it('a foreign rule in the table base and ip_forward turned off: the device actor repairs, no NI moves', async () => {
    const s = await started();
    s.firewall.tamperBase('foreign rule in base chain forward: accept');
    await repairedBy('device', 'device', /foreign rule in base chain forward: accept/);
    expect(await s.firewall.baseDrift()).toEqual([]);
    seen = [];
    s.firewall.ipForward = false;
    await repairedBy('device', 'device', /ip_forward turned off/);
    expect(s.firewall.ipForward).toBe(true);
  });

  it('a failing repair stays degraded with the reason and is retried with backoff', async () => {
    const s = await started();
    s.firewall.failNext('ensureBase');
    s.firewall.tamperBase('foreign chain sneaky in table inet edgenet');
    await until('device degraded with the failure', () => /repair failed: .*injected failure/.test(s.net.status().device?.reason ?? ''));
    await until('device ready', () => s.net.status().device?.state === 'ready');
  });
});
