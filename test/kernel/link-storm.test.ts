// Link storms on the real kernel with a stock kernel's event buffer (212992 bytes): the event socket overruns,
// the daemon survives it, logs it, re-reads every link and converges. Before the patched netlink addon, the first
// overrun aborted the process (std::terminate in the addon's poll handler).
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { describeKernel, eventually, run, type Netns } from '../helpers/netns.ts';

/** A stock kernel's net.core.rmem_default: what an event socket gets when nobody enlarges it. */
const STOCK_RCVBUF = '212992';

const pad = (n: number): string => String(n).padStart(4, '0');
const tapName = (i: number): string => `ts${pad(i)}`;

/** 2 local NIs (dnsmasq each) and 18 switch NIs; `taps` tap endpoints spread over them. */
function configOf(taps: number): string {
  const nis: string[] = [];
  for (let i = 0; i < 2; i++) nis.push(`  - { name: l${i}, type: local, subnet: 10.71.${i}.0/24 }`);
  for (let i = 0; i < 18; i++) nis.push(`  - { name: s${i}, type: switch }`);
  const apps: string[] = [];
  for (let i = 0; i < taps; i++) {
    const ni = i % 20 < 2 ? `l${i % 20}` : `s${(i % 20) - 2}`;
    apps.push(`  - { name: a${pad(i)}, interfaces: [{ network: ${ni}, tap: ${tapName(i)} }] }`);
  }
  return `networks:\n${nis.join('\n')}\napps:\n${apps.join('\n')}\n`;
}

describeKernel('link storms with a stock event buffer (kernel)', () => {
  const t = daemonTest({ logTail: 60 });
  let dev: Netns;
  let daemon: TestDaemon | undefined;

  beforeEach(async () => {
    ({ dev } = await t.namespaces(['dev']));
  });

  afterEach(async () => {
    if (daemon && daemon.pid > 0) {
      try {
        process.kill(daemon.pid, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
    daemon = undefined;
  });

  /** One `ip -batch` in the device namespace (the file removed afterwards). */
  async function batch(name: string, lines: string[]): Promise<void> {
    const file = join(tmpdir(), `edgenet-${t.pool.tag}-${name}`);
    await writeFile(file, `${lines.join('\n')}\n`);
    try {
      await dev.ip('-batch', file);
    } finally {
      await rm(file, { force: true });
    }
  }

  async function makeTaps(n: number): Promise<void> {
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(`tuntap add dev ${tapName(i)} mode tap`);
    await batch('taps.batch', lines);
  }

  const logged = (re: RegExp): string[] => (daemon?.log ?? []).filter((l) => re.test(l));

  async function allReady(n: number): Promise<boolean> {
    const s = await daemon?.status();
    const endpoints = s?.endpoints ?? [];
    return endpoints.length === n && endpoints.every((e) => e.state === 'ready');
  }

  async function enslaved(): Promise<number> {
    return (await dev.ip('-o', 'link', 'show', 'type', 'tun')).split('\n').filter((l) => / master enbr-/.test(l)).length;
  }

  it('survives 20 000 link events queued while it is stopped, logs the overflow, resyncs, and every endpoint is ready', async () => {
    const taps = 200;
    await makeTaps(taps);
    daemon = await TestDaemon.start(dev, configOf(taps), { env: { EDGENET_NETLINK_RCVBUF: STOCK_RCVBUF } });
    await eventually('200 endpoints ready', () => allReady(taps), 30_000, 100);
    expect(logged(/link event socket opened/).join('\n')).toContain(`"rcvbuf":${STOCK_RCVBUF}`);

    // the storm: 100 rounds of down/up over every tap, then 10 taps deleted and created again (a VM restart each,
    // whose events are lost in the overrun: only the resync can tell the daemon they are back and not enslaved)
    const lines: string[] = [];
    for (let r = 0; r < 100; r++) for (let i = 0; i < taps; i++) lines.push(`link set ${tapName(i)} ${r % 2 === 0 ? 'down' : 'up'}`);
    const flaps = lines.length;
    for (let i = 0; i < 10; i++) lines.push(`link del ${tapName(i)}`, `tuntap add dev ${tapName(i)} mode tap`);

    // the daemon's event loop does nothing while it is stopped: the kernel queues every event on its socket
    process.kill(daemon.pid, 'SIGSTOP');
    const t0 = Date.now();
    try {
      await batch('storm.batch', lines);
    } finally {
      process.kill(daemon.pid, 'SIGCONT');
    }
    const stormMs = Date.now() - t0;
    const t1 = Date.now();
    await eventually('overflow logged and links resynchronised', () => logged(/netlink event overflow/).length > 0 && logged(/links resynchronised/).length > 0, 20_000, 50);
    await eventually('every endpoint ready, the re-created taps enslaved again', async () => (await allReady(taps)) && (await enslaved()) === taps, 30_000, 100);
    const convergeMs = Date.now() - t1;
    console.log(
      `link storm: ${flaps} link changes + 10 tap re-creations queued in ${stormMs} ms with rcvbuf ${STOCK_RCVBUF} while stopped; ` +
        `${logged(/netlink event overflow/).length} overflow(s) logged; all ${taps} endpoints ready ${convergeMs} ms after SIGCONT ` +
        `(${logged(/links resynchronised/).at(-1)?.match(/"changed":\d+/)?.[0] ?? ''})`,
    );
    expect(daemon.exitCode).toBeNull();
    expect(await daemon.status()).toMatchObject({ networks: expect.arrayContaining([expect.objectContaining({ name: 'l0', state: 'ready' })]) });
    // the overflows are counted in status and in the metrics
    expect((await daemon.status()).linkEvents?.overflows).toBeGreaterThanOrEqual(1);
    expect((await run('curl', ['-s', '--unix-socket', daemon.socketPath, 'http://edgenet/metrics'])).stdout).toMatch(/^edgenet_link_event_overflows_total [1-9]\d*$/m);
  });

  it('survives a cold converge of 2000 taps with a stock event buffer, every endpoint ready', async () => {
    const taps = 2000;
    await makeTaps(taps);
    const t0 = Date.now();
    daemon = await TestDaemon.start(dev, configOf(taps), { env: { EDGENET_NETLINK_RCVBUF: STOCK_RCVBUF }, upTimeoutMs: 60_000 });
    await eventually('2000 endpoints ready and enslaved', async () => (await allReady(taps)) && (await enslaved()) === taps, 60_000, 250);
    const ms = Date.now() - t0;
    console.log(`cold converge of ${taps} taps with rcvbuf ${STOCK_RCVBUF}: all ready in ${ms} ms, ${logged(/netlink event overflow/).length} overflow(s) logged, ${logged(/links resynchronised/).length} resync(s)`);
    expect(daemon.exitCode).toBeNull();
  });
});
