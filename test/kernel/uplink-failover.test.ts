// A local NI with two ports on the real kernel (issue 14, acceptance 3): traffic leaves by the lower-cost port;
// its carrier cut (far end down) moves the app's running ping to the other port within 2 s (measured, printed);
// back → traffic returns after the hold-down; a port with carrier whose probe fails is not selected. Another
// local NI on one of the ports never leaves `ready` through all of it.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { TestDaemon } from '../helpers/daemon.ts';
import { dhcpLease } from '../helpers/dhcp.ts';
import { RunningPing } from '../helpers/running-ping.ts';
import { addSecondUplink, addUplink, describeKernel, eventually, NetnsPool, type Netns } from '../helpers/netns.ts';

const FAR = '203.0.113.1';

describeKernel('a local NI with two ports: selection, failover, probe (kernel)', () => {
  let pool: NetnsPool;
  let daemon: TestDaemon | undefined;
  let ping: RunningPing | undefined;
  let dev: Netns, out1: Netns, out2: Netns, a1: Netns, a2: Netns;

  beforeEach(async () => {
    pool = new NetnsPool();
    dev = await pool.add('dev');
    out1 = await pool.add('o1');
    out2 = await pool.add('o2');
    a1 = await pool.add('a1');
    a2 = await pool.add('a2');
    // eth1: 192.168.77.1/24, router .2 (out1); eth2: 192.168.78.1/24, router .2 (out2); both routers are also the
    // far host FAR (on their lo), so the app's ping is answered by whichever path it takes
    await addUplink(dev, out1);
    await addSecondUplink(dev, out2);
    await dev.ip('route', 'add', 'default', 'via', '192.168.77.2', 'dev', 'eth1', 'metric', '100');
    await dev.ip('route', 'add', 'default', 'via', '192.168.78.2', 'dev', 'eth2', 'metric', '200');
    for (const out of [out1, out2]) {
      await out.ip('addr', 'add', `${FAR}/32`, 'dev', 'lo');
      // what reaches FAR on this router, and a chain to play a dead path in (before the counter)
      await out.must('nft', ['-f', '-'], {
        input: `table inet t {
  chain cut { type filter hook input priority -10; }
  chain count { type filter hook input priority 0; ip daddr ${FAR} icmp type echo-request counter; }
}`,
      });
    }
  });

  afterEach(async (ctx) => {
    ping?.stop();
    ping = undefined;
    if (ctx.task.result?.state === 'fail') console.log(daemon?.log.filter((l) => !l.includes('"level":20')).join('\n'));
    await daemon?.remove();
    daemon = undefined;
    await pool.removeAll();
  });

  const farEchoes = async (out: Netns): Promise<number> => {
    const text = await out.must('nft', ['list', 'chain', 'inet', 't', 'count']);
    return Number(/counter packets (\d+)/.exec(text)?.[1] ?? NaN);
  };
  /** Pings FAR from a1 until `out` has seen `n` more of them. */
  const leavesBy = async (out: Netns, n = 3): Promise<boolean> => {
    const before = await farEchoes(out);
    await eventually(`echoes through ${out.name}`, async () => (await a1.ping(FAR, { timeoutS: 1 })) && (await farEchoes(out)) - before >= n, 10_000, 50);
    return true;
  };

  it('leaves by the lower cost, fails over within 2 s of a carrier cut, returns; a failing probe demotes a port with carrier', async () => {
    daemon = await TestDaemon.start(
      dev,
      `ports:
  - { name: up1, ifname: eth1, probe: { kind: ping, intervalMs: 200, timeoutMs: 200 } }
  - { name: up2, ifname: eth2, cost: 10 }
networks:
  - { name: multi, type: local, ports: [up1, up2], subnet: 10.91.0.0/24 }
  - { name: solo, type: local, port: up2, subnet: 10.92.0.0/24 }
apps:
  - { name: a1, interfaces: [{ network: multi, netns: ${a1.path} }] }
  - { name: a2, interfaces: [{ network: solo, netns: ${a2.path} }] }
`,
    );
    const ni = async (name: string) => (await daemon?.status())?.networks.find((n) => n.name === name);
    await dhcpLease(a1);
    await dhcpLease(a2);
    await eventually('up1 probed ok and selected', async () => (await ni('multi'))?.selectedPort === 'up1');
    expect(await ni('multi')).toMatchObject({ state: 'ready', ports: ['up1', 'up2'], selectedPort: 'up1' });
    expect(await leavesBy(out1)).toBe(true);
    expect(await a2.ping(FAR)).toBe(true);
    const o2 = await farEchoes(out2);

    // 1. carrier cut on up1 (its far end down) while a1's ping runs
    ping = new RunningPing(a1, FAR, ['-O', '-W', '0.2']);
    await eventually('the running ping answered', () => (ping?.replies.length ?? 0) > 5, 5000);
    const cut = Date.now();
    await out1.ip('link', 'set', 'eth0', 'down');
    await eventually('replies again after the cut', () => ping?.resumedAfter(cut) !== undefined, 10_000, 20);
    const resumedMs = (ping.resumedAfter(cut) ?? NaN) - cut;
    console.log(`failover: carrier cut on up1 → a1's running ping answered again through up2 after ${resumedMs.toFixed(0)} ms (shared, loaded VM: noisy)`);
    expect(resumedMs).toBeLessThanOrEqual(2000);
    // (the switchover's last step, the conntrack flush, may still be reporting back when the reply arrives)
    await eventually('multi on up2', async () => (await ni('multi'))?.selectedPort === 'up2', 2000);
    expect(await ni('multi')).toMatchObject({ state: 'ready', selectedPort: 'up2', selectedReason: expect.stringMatching(/port up1 \(eth1\) has no carrier/) });
    expect(await farEchoes(out2)).toBeGreaterThan(o2);
    ping.stop();

    // 2. carrier back: after the hold-down, traffic returns to up1
    await out1.ip('link', 'set', 'eth0', 'up');
    await eventually('back on up1', async () => (await ni('multi'))?.selectedPort === 'up1', 15_000);
    expect(await leavesBy(out1)).toBe(true);

    // 3. carrier up, path dead: up1's probe fails → not selected
    await out1.must('nft', ['add', 'rule', 'inet', 't', 'cut', 'ip', 'saddr', '192.168.77.1', 'drop']);
    await eventually('up1 demoted by its probe', async () => (await ni('multi'))?.selectedPort === 'up2', 10_000);
    expect((await ni('multi'))?.selectedReason).toMatch(/port up1 \(eth1\) probe failed/);
    expect((await daemon.status()).ports.find((p) => p.name === 'up1')).toMatchObject({ carrier: true });
    expect(await leavesBy(out2)).toBe(true);
    await out1.must('nft', ['flush', 'chain', 'inet', 't', 'cut']);
    await eventually('up1 taken back once its probe answers (after the hold-down)', async () => (await ni('multi'))?.selectedPort === 'up1', 15_000);
    expect(await leavesBy(out1)).toBe(true);

    // solo (on up2 alone, which stayed up) never left ready
    const soloMoves = daemon.log.flatMap((l) => {
      try {
        const j = JSON.parse(l) as { kind?: string; name?: string; from?: string; to?: string };
        return j.kind === 'network' && j.name === 'solo' && j.from === 'ready' ? [`${j.from} → ${j.to}`] : [];
      } catch {
        return [];
      }
    });
    expect(soloMoves).toEqual([]);
    expect(await ni('solo')).toMatchObject({ state: 'ready' });
    expect(await a2.ping(FAR)).toBe(true);
  });
});
