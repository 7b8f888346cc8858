// Runs in the QEMU guest (Debian's stock kernel: 802.1Q and bridge VLAN filtering), booted by
// test/kernel/guest-vlan.test.ts. Acceptance: apps on access VLANs 10 and 20 of one switch NI, a trunk port to an
// outside host with VLAN sub-interfaces 10 and 20: each app reaches only its VLAN; frames on the trunk carry the tag.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestDaemon } from '../helpers/daemon.ts';
import { eventually, NetnsPool, type Netns } from '../helpers/netns.ts';

const CAPTURE = resolve(import.meta.dirname, 'capture-vlan.py');

describe('VLANs on a switch NI (guest kernel)', () => {
  let pool: NetnsPool;
  let daemon: TestDaemon | undefined;
  let dev: Netns, outside: Netns, a10: Netns, b10: Netns, c20: Netns;

  const config = (): string => `
ports:
  - { name: trunk, ifname: eth1 }
networks:
  - { name: plant, type: switch, port: trunk }
apps:
  - { name: a10, interfaces: [{ network: plant, netns: ${a10.path}, accessVlanId: 10 }] }
  - { name: b10, interfaces: [{ network: plant, netns: ${b10.path}, accessVlanId: 10 }] }
  - { name: c20, interfaces: [{ network: plant, netns: ${c20.path}, accessVlanId: 20 }] }
`;

  beforeEach(async () => {
    pool = new NetnsPool();
    dev = await pool.add('dev');
    outside = await pool.add('out');
    a10 = await pool.add('a10');
    b10 = await pool.add('b10');
    c20 = await pool.add('c20');
    await dev.ip('link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside.name);
    await outside.ip('link', 'set', 'eth0', 'up');
    for (const [vid, addr] of [['10', '10.10.0.100/24'], ['20', '10.20.0.100/24']] as const) {
      await outside.ip('link', 'add', 'link', 'eth0', 'name', `eth0.${vid}`, 'type', 'vlan', 'id', vid);
      await outside.ip('addr', 'add', addr, 'dev', `eth0.${vid}`);
      await outside.ip('link', 'set', `eth0.${vid}`, 'up');
    }
  });

  afterEach(async () => {
    await daemon?.remove();
    daemon = undefined;
    await pool.removeAll();
  });

  it('each app reaches only its VLAN (the outside host on that VLAN, the other app of it); the trunk carries 802.1Q tags', async () => {
    daemon = await TestDaemon.start(dev, config(), { upTimeoutMs: 150_000 });
    // up = no NI creating; the trunk's carrier (a veth just set up, on TCG) may still be coming: wait for ready,
    // and say what the state was when it did not come
    let last = '';
    await eventually(
      'plant and its endpoints ready',
      async () => {
        const s = await daemon!.status();
        last = JSON.stringify({ networks: s.networks, endpoints: s.endpoints.map((e) => ({ app: e.app, ifname: e.ifname, state: e.state, reason: e.reason })) });
        return s.networks.every((n) => n.name === 'plant' && n.state === 'ready') && s.endpoints.every((e) => e.state === 'ready');
      },
      60_000,
    ).catch((err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)}; last status: ${last}`);
    });
    const s = await daemon.status();
    expect(await dev.ip('-d', 'link', 'show', 'enbr-plant')).toContain('vlan_filtering 1');

    await a10.ip('addr', 'add', '10.10.0.11/24', 'dev', 'eth0');
    await b10.ip('addr', 'add', '10.10.0.12/24', 'dev', 'eth0');
    // c20 also gets an address in VLAN 10's subnet: only the VLAN keeps it apart
    await c20.ip('addr', 'add', '10.20.0.13/24', 'dev', 'eth0');
    await c20.ip('addr', 'add', '10.10.0.13/24', 'dev', 'eth0');

    const capture = spawn('ip', ['netns', 'exec', outside.name, 'python3', CAPTURE, 'eth0', '6'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let captured = '';
    capture.stdout.on('data', (b: Buffer) => (captured += b.toString()));
    const done = new Promise<void>((r) => capture.on('exit', () => r()));
    await new Promise<void>((r) => capture.stderr.once('data', () => r()));

    expect(await a10.ping('10.10.0.100')).toBe(true);
    expect(await a10.ping('10.10.0.12')).toBe(true);
    expect(await c20.ping('10.20.0.100')).toBe(true);
    expect(await a10.ping('10.10.0.13', { timeoutS: 1 })).toBe(false);
    expect(await c20.ping('10.10.0.100', { timeoutS: 1 })).toBe(false);
    expect(await c20.ping('10.10.0.11', { timeoutS: 1 })).toBe(false);
    await done;

    const macOf = (app: string): string | undefined => s.endpoints.find((e) => e.app === app)?.mac;
    const frames = JSON.parse(captured.trim().split('\n').pop() ?? '[]') as { mac: string; vlan: number | null }[];
    const vlansOf = (mac: string | undefined): (number | null)[] => frames.filter((f) => f.mac === mac).map((f) => f.vlan);
    expect(vlansOf(macOf('a10'))).toEqual([10]);
    expect(vlansOf(macOf('c20'))).toEqual([20]);

    // the bridge's VLAN entries: access members untagged on their VLAN, the trunk port tagged on both
    const entries = JSON.parse(await dev.must('bridge', ['-j', 'vlan', 'show'])) as { ifname: string; vlans: { vlan: number; flags?: string[] }[] }[];
    const trunk = entries.find((e) => e.ifname === 'eth1')?.vlans.map((v) => v.vlan);
    expect(trunk).toEqual(expect.arrayContaining([1, 10, 20]));
    await eventually('nothing else to check', () => true);
  });

  it('moving an app to another VLAN rewrites only its own link', async () => {
    daemon = await TestDaemon.start(dev, config(), { upTimeoutMs: 150_000 });
    const before = (await daemon.status()).writes.link;
    await daemon.apply(config().replace('{ network: plant, netns: ' + b10.path + ', accessVlanId: 10 }', '{ network: plant, netns: ' + b10.path + ', accessVlanId: 20 }'));
    const after = (await daemon.status()).writes.link;
    // the new PVID added, the old one removed, on b10's veth only (the trunk already carries both)
    expect(after - before).toBe(2);
    await b10.ip('addr', 'add', '10.20.0.12/24', 'dev', 'eth0');
    await eventually('b10 reaches VLAN 20', () => b10.ping('10.20.0.100'));
  });
});
