// The daemon's event loop stays free while big pushes are validated and applied: GET /v1/status keeps answering
// through a 1000-endpoint push, and a 10 001-NI push is refused at once. Figures are printed (the machine is shared
// and noisy: the assertions are on what must hold, with bounds far from the figures).
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { describeKernel, eventually, type Netns } from '../helpers/netns.ts';

const pad = (n: number): string => String(n).padStart(4, '0');

function pushOf(taps: number): string {
  const networks = [
    ...Array.from({ length: 2 }, (_, i) => ({ name: `l${i}`, type: 'local', subnet: `10.72.${i}.0/24` })),
    ...Array.from({ length: 18 }, (_, i) => ({ name: `s${i}`, type: 'switch' })),
  ];
  const apps = Array.from({ length: taps }, (_, i) => ({ name: `a${pad(i)}`, interfaces: [{ network: networks[i % 20]?.name, tap: `tl${pad(i)}` }] }));
  return JSON.stringify({ networks, apps });
}

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

describeKernel('the event loop stays free during big pushes (kernel)', () => {
  const t = daemonTest({ logTail: 40 });
  let dev: Netns;
  let daemon: TestDaemon | undefined;

  beforeEach(async () => {
    ({ dev } = await t.namespaces(['dev']));
  });


  it('answers GET /v1/status throughout a 1000-endpoint push, and refuses a 10 001-NI push at once', async () => {
    const taps = 1000;
    const file = join(tmpdir(), `edgenet-${t.pool.tag}-taps.batch`);
    await writeFile(file, Array.from({ length: taps }, (_, i) => `tuntap add dev tl${pad(i)} mode tap\n`).join(''));
    try {
      await dev.ip('-batch', file);
    } finally {
      await rm(file, { force: true });
    }
    daemon = await TestDaemon.start(dev, 'networks: []\n');
    const d = daemon;

    // a poller: one status request at a time, every 10 ms, each round trip timed
    const latencies: { at: number; ms: number }[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const t = performance.now();
        await d.status();
        latencies.push({ at: t, ms: performance.now() - t });
        await new Promise((r) => setTimeout(r, 10));
      }
    })();

    const t0 = performance.now();
    const result = await d.apply(pushOf(taps));
    const t1 = performance.now();
    await eventually('1000 endpoints ready', async () => {
      const s = await d.status();
      return s.endpoints.length === taps && s.endpoints.every((e) => e.state === 'ready');
    }, 60_000, 200);
    const t2 = performance.now();

    // a 10 001-NI push (under the 1 MiB body limit) is refused by the caps
    const huge = JSON.stringify({ networks: Array.from({ length: 10_001 }, (_, i) => ({ name: `n${i}`, type: 'local', subnet: `10.${(i >> 8) & 255}.${i & 255}.0/24` })) });
    const t3 = performance.now();
    const refusal = await d.api.putConfig(huge, 'application/json').then(
      () => undefined,
      (err: unknown) => err,
    );
    const refusedMs = performance.now() - t3;
    polling = false;
    await poller;

    const during = latencies.filter((l) => l.at >= t0 && l.at <= t1).map((l) => l.ms);
    const converging = latencies.filter((l) => l.at >= t0 && l.at <= t2).map((l) => l.ms);
    console.log(
      `1000-endpoint push: apply returned after ${(t1 - t0).toFixed(0)} ms, all ready after ${(t2 - t0).toFixed(0)} ms; ` +
        `GET /v1/status answered ${during.length} times during apply (p50 ${percentile(during, 50).toFixed(1)} ms, p99 ${percentile(during, 99).toFixed(1)} ms, max ${Math.max(...during).toFixed(1)} ms), ` +
        `${converging.length} times until ready (max ${Math.max(...converging).toFixed(1)} ms); ` +
        `10 001-NI push (${(huge.length / 1024).toFixed(0)} KiB) refused in ${refusedMs.toFixed(0)} ms`,
    );

    expect(result.created).toHaveLength(20 + taps);
    // answered all along the push, not once before and once after it
    expect(during.length).toBeGreaterThanOrEqual(Math.floor((t1 - t0) / 1000));
    expect(refusal).toBeInstanceOf(ConfigError);
    expect((refusal as ConfigError).issues).toContainEqual({ path: 'networks', message: '10001 network instances exceed the limit of 1000 (limits.networks, edgenet run --max-networks)' });
    expect(refusedMs).toBeLessThan(2000);
    expect(d.exitCode).toBeNull();
  });
});
