// A switch NI with several ports on the real kernel: spanning tree breaks a loop, BPDU guard takes a port out.
import { resolve } from 'node:path';
import { beforeEach, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { describeKernel, eventually, type Netns } from '../helpers/netns.ts';

const SEND_BPDU = resolve(import.meta.dirname, 'fixtures', 'send-bpdu.py');

describeKernel('switch NI with several ports: STP and BPDU guard (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let dev: Netns, seg: Netns, leaf: Netns, app1: Netns, app2: Netns;

  // two ports (field-a, field-b) onto one outside segment: a loop; a third (sensors) to a leaf device, guarded
  const config = (stp = '{ forwardDelay: 2, portsWithBpduGuard: [sensors] }'): string => `
ports:
  - { name: field-a, ifname: eth1 }
  - { name: field-b, ifname: eth2 }
  - { name: sensors, ifname: eth3 }
networks:
  - { name: plant, type: switch, ports: [field-a, field-b, sensors]${stp ? `, stp: ${stp}` : ''} }
apps:
  - { name: app1, interfaces: [{ network: plant, netns: ${app1.path} }] }
  - { name: app2, interfaces: [{ network: plant, netns: ${app2.path} }] }
`;

  beforeEach(async () => {
    ({ dev, seg, leaf, a1: app1, a2: app2 } = await t.namespaces(['dev', 'seg', 'leaf', 'a1', 'a2']));
    // the outside segment: a plain bridge without STP (it forwards BPDUs like a hub), the segment's host on it
    await seg.ip('link', 'add', 'br0', 'type', 'bridge');
    for (const [port, peer] of [['eth1', 's1'], ['eth2', 's2']] as const) {
      await dev.ip('link', 'add', port, 'type', 'veth', 'peer', 'name', peer, 'netns', seg.name);
      await seg.ip('link', 'set', peer, 'master', 'br0', 'up');
    }
    await seg.ip('addr', 'add', '10.9.0.100/24', 'dev', 'br0');
    await seg.ip('link', 'set', 'br0', 'up');
    await dev.ip('link', 'add', 'eth3', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', leaf.name);
    await leaf.ip('addr', 'add', '10.9.0.200/24', 'dev', 'eth0');
    await leaf.ip('link', 'set', 'eth0', 'up');
  });


  async function addressApps(): Promise<void> {
    await app1.ip('addr', 'add', '10.9.0.11/24', 'dev', 'eth0');
    await app2.ip('addr', 'add', '10.9.0.12/24', 'dev', 'eth0');
  }

  /** The STP state of a bridge port in the device namespace (`forwarding`, `blocking`, …). */
  async function stpState(ifname: string): Promise<string> {
    const out = await dev.ip('-d', 'link', 'show', ifname);
    return /bridge_slave state (\w+)/.exec(out)?.[1] ?? 'none';
  }

  /** Packets the segment's bridge has received on its two looped ports. */
  async function segmentRx(): Promise<number> {
    const links = JSON.parse(await seg.ip('-j', '-s', 'link', 'show', 'master', 'br0')) as { ifname: string; stats64: { rx: { packets: number } } }[];
    return links.reduce((n, l) => n + l.stats64.rx.packets, 0);
  }

  it('refuses several ports without stp, naming the path; with stp the loop is broken, broadcasts stay bounded and hosts reach the apps', async () => {
    daemon = await TestDaemon.start(dev, 'ports: []\n');
    const refused = daemon.apply(config(''));
    await expect(refused).rejects.toBeInstanceOf(ConfigError);
    await expect(daemon.apply(config(''))).rejects.toThrow(/networks\[0\]\.ports: 3 ports on switch network "plant" need stp: true/);
    // nothing was built
    expect(await dev.ip('-o', 'link', 'show')).not.toContain('enbr-plant');

    await daemon.apply(config());
    expect(await dev.ip('-d', 'link', 'show', 'enbr-plant')).toMatch(/forward_delay 200 .*stp_state 1/);
    // the bridge hears its own BPDU back on one of the looped ports and blocks that one
    const states = await eventually('one looped port forwarding, the other blocking', async () => {
      const s = [await stpState('eth1'), await stpState('eth2')].sort();
      return s[0] === 'blocking' && s[1] === 'forwarding' ? s : undefined;
    }, 20_000, 100);
    expect(states).toEqual(['blocking', 'forwarding']);

    await addressApps();
    // app ports listen and learn for 2 × forwardDelay before they forward
    await eventually('the segment host reaches app1', () => seg.ping('10.9.0.11'), 20_000, 200);
    expect(await seg.ping('10.9.0.12')).toBe(true);
    expect(await app1.ping('10.9.0.100')).toBe(true);
    expect(await leaf.ping('10.9.0.11')).toBe(true);

    // one broadcast into the loop (ARP for an address nobody has): counted over 5 s it stays a handful of frames
    // (ARP retries and BPDUs every 2 s), where a loop without STP forwards it endlessly
    const before = await segmentRx();
    await seg.exec('ping', ['-c', '1', '-W', '1', '10.9.0.222']);
    await new Promise((r) => setTimeout(r, 5000));
    const during = (await segmentRx()) - before;
    expect(during).toBeLessThan(50);

    const s = await daemon.status();
    expect(s.networks).toMatchObject([{ name: 'plant', state: 'ready' }]);
    expect(s.ports.map((p) => [p.name, p.state])).toEqual([
      ['field-a', 'ready'],
      ['field-b', 'ready'],
      ['sensors', 'ready'],
    ]);
  });

  it('a port flap moves only that port; the NI is degraded only when no port is up', async () => {
    daemon = await TestDaemon.start(dev, config());
    await eventually('all ports ready', async () => (await daemon?.status())?.ports.every((p) => p.state === 'ready'));
    await seg.ip('link', 'set', 's1', 'down');
    await eventually('field-a degraded', async () => (await daemon?.status())?.ports.find((p) => p.name === 'field-a')?.state === 'degraded');
    let s = await daemon.status();
    expect(s.networks[0]?.state).toBe('ready');
    expect(s.ports.filter((p) => p.state === 'ready').map((p) => p.name)).toEqual(['field-b', 'sensors']);

    await seg.ip('link', 'set', 's2', 'down');
    await leaf.ip('link', 'set', 'eth0', 'down');
    await eventually('NI degraded: no port up', async () => (await daemon?.status())?.networks[0]?.reason?.startsWith('no port up'));
    s = await daemon.status();
    expect(s.networks[0]).toMatchObject({ state: 'degraded' });
    expect(s.networks[0]?.reason).toContain('port field-a has no carrier');

    await seg.ip('link', 'set', 's2', 'up');
    await eventually('NI ready again with one port up', async () => (await daemon?.status())?.networks[0]?.state === 'ready');
  });

  it('a BPDU on a guarded port disables it; port and NI say why; a carrier cycle brings it back', async () => {
    daemon = await TestDaemon.start(dev, config());
    await addressApps();
    await eventually('the leaf reaches app1 through the guarded port', () => leaf.ping('10.9.0.11'), 20_000, 200);
    expect(await dev.ip('-d', 'link', 'show', 'eth3')).toContain('guard on');
    expect(await dev.ip('-d', 'link', 'show', 'eth1')).toContain('guard off');

    // someone plugs a bridge into the sensors port
    await leaf.must('python3', [SEND_BPDU, 'eth0']);
    const port = await eventually('the sensors port degraded by BPDU guard', async () => {
      const p = (await daemon?.status())?.ports.find((x) => x.name === 'sensors');
      return p?.state === 'degraded' ? p : undefined;
    });
    expect(port.reason).toMatch(/port sensors \(eth3\) disabled by BPDU guard: a BPDU arrived on it; it forwards again after its carrier cycles/);
    expect(await stpState('eth3')).toBe('disabled');
    const ni = (await daemon.status()).networks[0];
    expect(ni?.state).toBe('degraded');
    expect(ni?.reason).toContain('port sensors (eth3) disabled by BPDU guard');
    expect(await leaf.ping('10.9.0.11', { timeoutS: 1 })).toBe(false);
    // the other ports keep forwarding
    expect(await seg.ping('10.9.0.11')).toBe(true);

    // a push of the same config does not clear it
    await daemon.apply(config());
    expect((await daemon.status()).ports.find((p) => p.name === 'sensors')?.state).toBe('degraded');

    // the operator removes the offending device: the carrier cycles, the kernel enables the port, edgenet follows
    await leaf.ip('link', 'set', 'eth0', 'down');
    await leaf.ip('link', 'set', 'eth0', 'up');
    await eventually('sensors port and NI ready again', async () => {
      const s = await daemon?.status();
      return s?.networks[0]?.state === 'ready' && s.ports.find((p) => p.name === 'sensors')?.state === 'ready';
    }, 20_000);
    await eventually('the leaf reaches app1 again', () => leaf.ping('10.9.0.11'), 20_000, 200);
  });
});
