// Backoff that holds on the real kernel: an app that made its own eth0 makes every create of its veth fail (the
// half-built pair is deleted again). The endpoint ends degraded with a reason naming eth0 and the namespace, and its
// attempts follow the backoff schedule (they looped 17 times a second when the undo's LINK_DEL re-entered creating).
import { beforeEach, expect, it } from 'vitest';
import { backoffMs } from '../../machines/specs.ts';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { describeKernel, eventually, type Netns } from '../helpers/netns.ts';

/** Attempts the schedule allows within `windowMs` of the first one (attempt durations not even counted). */
function scheduledAttempts(windowMs: number): number {
  let attempts = 1;
  let t = 0;
  for (let retries = 1; ; retries++) {
    t += backoffMs(retries);
    if (t > windowMs) return attempts;
    attempts++;
  }
}

describeKernel('backoff that holds (kernel)', () => {
  const t = daemonTest({ logTail: 40 });
  let dev: Netns, web: Netns;
  let daemon: TestDaemon | undefined;

  beforeEach(async () => {
    ({ dev, web } = await t.namespaces(['dev', 'web']));
  });


  it('eth0 already in the app namespace: degraded with that reason, create attempts within the backoff schedule, ready once it is gone', async () => {
    // the app's own eth0 (a veth pair inside its namespace)
    await web.ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'own1');
    const config = `networks:\n  - { name: lan, type: local, subnet: 10.73.0.0/24 }\napps:\n  - { name: web, interfaces: [{ network: lan, netns: ${web.path} }] }\n`;
    daemon = await TestDaemon.start(dev, config);
    const d = daemon;
    const endpoint = async () => (await d.status()).endpoints.find((e) => e.app === 'web');

    const degraded = await eventually('web degraded', async () => {
      const e = await endpoint();
      return e?.state === 'degraded' ? e : undefined;
    }, 10_000, 20);
    expect(degraded.reason).toContain(`eth0 already exists in ${web.path}`);

    // count the attempts to create the pair over 10 s from the first one (refused at once: the app side is made in
    // the app's namespace, where its name is taken)
    const creations = (): number[] =>
      d.log.filter((l) => l.includes('"msg":"veth created"') || l.includes('"msg":"veth not created')).map((l) => (JSON.parse(l) as { time: number }).time);
    const first = creations()[0] as number;
    expect(first).toBeTypeOf('number');
    await eventually('10 s since the first attempt', () => Date.now() - first > 10_000, 12_000, 100);
    const inWindow = creations().filter((t) => t - first <= 10_000).length;
    const allowed = scheduledAttempts(10_000);
    console.log(`eth0 taken in the app namespace: ${inWindow} create attempts in 10 s (backoff schedule allows ${allowed}); reason: ${degraded.reason}`);
    expect(inWindow).toBeGreaterThanOrEqual(2);
    expect(inWindow).toBeLessThanOrEqual(allowed);
    expect((await endpoint())?.state).toBe('degraded');
    // nothing half-built is left between two attempts
    await eventually('no veth of ours left over in the device', async () => !/env[0-9a-f]{12}/.test(await dev.ip('-o', 'link', 'show')), 10_000, 50);

    // the app gives its eth0 up: the next retry (at most 10 s away) builds the endpoint
    await web.ip('link', 'del', 'eth0');
    await eventually('web ready', async () => (await endpoint())?.state === 'ready', 15_000, 100);
    expect(await web.ip('-o', 'link', 'show', 'eth0')).toContain('eth0');
  });
});
