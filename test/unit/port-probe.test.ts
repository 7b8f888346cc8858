// The probe runner (src/services/port-probe.ts) on the fake drivers: which ports are probed, what a ping probe
// targets, demotion after failures in a row, one report per change, and a failing probe steering a multi-port
// local NI's selection.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/config-load.ts';
import { createEdgenet } from '../../src/edgenet.ts';
import { PortProber, probeTargets, PROBE_FAILURES_TO_DEMOTE } from '../../src/services/port-probe.ts';
import { createFakeDrivers, createFakeProbeDriver, createFakeRouteDriver } from '../../src/testing.ts';

async function waitUntil(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('probeTargets', () => {
  it('probes the ports with a probe that a local NI uses, on the interface carrying their addresses', () => {
    const config = parseConfigText(`
ports:
  - { name: a, ifname: eth1, probe: { kind: ping } }
  - { name: b, ifname: eth2, gateway: 192.0.2.1, probe: { kind: tcp, host: 198.51.100.7, port: 443, intervalMs: 500 } }
  - { name: c, ifname: eth3, probe: { kind: ping } }
  - { name: d, ifname: eth4 }
networks:
  - { name: l1, type: local, ports: [a, b, d], subnet: 10.1.0.0/24 }
  - { name: s1, type: switch, port: c }
`);
    expect(probeTargets(config)).toEqual([
      { port: 'a', ifname: 'eth1', portIfname: 'eth1', probe: { kind: 'ping' } },
      { port: 'b', ifname: 'eth2', portIfname: 'eth2', gateway: '192.0.2.1', probe: { kind: 'tcp', host: '198.51.100.7', port: 443, intervalMs: 500 } },
    ]);
  });
});

describe('PortProber', () => {
  let prober: PortProber | undefined;
  afterEach(() => prober?.close());

  it('pings the configured gateway, else the default route\'s; demotes after failures in a row, promotes at once, reports changes only', async () => {
    const probes = createFakeProbeDriver();
    const routes = createFakeRouteDriver();
    routes.setMainRoute({ to: 'default', via: '192.168.77.2', dev: 'eth1' });
    const reports: string[] = [];
    prober = new PortProber({ probes, routes, report: (port, ok) => reports.push(`${port}:${ok ? 'ok' : 'fail'}`) });
    prober.update([
      { port: 'a', ifname: 'eth1', portIfname: 'eth1', probe: { kind: 'ping', intervalMs: 100 } },
      { port: 'b', ifname: 'enbrsw', portIfname: 'eth2', gateway: '192.0.2.1', probe: { kind: 'ping', intervalMs: 100 } },
    ]);
    await waitUntil(() => reports.length === 2);
    expect(reports.sort()).toEqual(['a:ok', 'b:ok']);
    expect(probes.calls).toEqual(expect.arrayContaining(['ping eth1 192.168.77.2', 'ping enbrsw 192.0.2.1']));

    probes.setReachable('eth1', false);
    const callsBefore = probes.calls.filter((c) => c.startsWith('ping eth1')).length;
    await waitUntil(() => reports.includes('a:fail'));
    // not before PROBE_FAILURES_TO_DEMOTE failed probes in a row
    expect(probes.calls.filter((c) => c.startsWith('ping eth1')).length - callsBefore).toBeGreaterThanOrEqual(PROBE_FAILURES_TO_DEMOTE);
    expect(prober.verdicts()['a']).toMatchObject({ ok: false, detail: expect.stringMatching(/no answer.*2 in a row/) });
    await new Promise((r) => setTimeout(r, 250));
    expect(reports.filter((r) => r === 'a:fail')).toHaveLength(1);

    probes.setReachable('eth1', true);
    await waitUntil(() => reports.at(-1) === 'a:ok');
    // the current verdicts again, for actors made by a push
    const n = reports.length;
    prober.resend();
    expect(reports.slice(n).sort()).toEqual(['a:ok', 'b:ok']);
    // a port dropped from the targets is no longer probed
    prober.update([{ port: 'b', ifname: 'enbrsw', portIfname: 'eth2', gateway: '192.0.2.1', probe: { kind: 'ping', intervalMs: 100 } }]);
    const aCalls = probes.calls.filter((c) => c.startsWith('ping eth1')).length;
    await new Promise((r) => setTimeout(r, 250));
    expect(probes.calls.filter((c) => c.startsWith('ping eth1')).length).toBe(aCalls);
  });

  it('fails a ping probe of a port without a known gateway, saying so', async () => {
    const reports: string[] = [];
    prober = new PortProber({ probes: createFakeProbeDriver(), routes: createFakeRouteDriver(), report: (port, ok, detail) => reports.push(`${port}:${ok}:${detail}`) });
    prober.update([{ port: 'a', ifname: 'eth1', portIfname: 'eth1', probe: { kind: 'ping', intervalMs: 100 } }]);
    await waitUntil(() => reports.length === 1);
    expect(reports[0]).toMatch(/^a:false:port a has no known gateway to ping/);
  });
});

describe('a failing probe steers a multi-port local NI (fake drivers)', () => {
  let dir: string;
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('a port with carrier whose probe fails is not selected; back when the probe recovers (after the hold-down)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-unit-'));
    const drivers = createFakeDrivers();
    drivers.links.addExternal('eth1');
    drivers.links.addExternal('eth2');
    drivers.routes.setMainRoute({ to: 'default', via: '192.0.2.1', dev: 'eth1' });
    drivers.routes.setMainRoute({ to: 'default', via: '198.51.100.1', dev: 'eth2', metric: 100 });
    drivers.probes.setReachable('eth1', false);
    const net = createEdgenet({ stateDir: dir, drivers, auditIntervalMs: 0, linkThrottleMs: 0 });
    try {
      await net.apply({
        ports: [
          { name: 'wan', ifname: 'eth1', probe: { kind: 'ping', intervalMs: 100 } },
          { name: 'lte', ifname: 'eth2', cost: 10 },
        ],
        networks: [{ name: 'multi', type: 'local', ports: ['wan', 'lte'], subnet: '10.60.0.0/24', holdDownMs: 200 }],
      });
      const ni = () => net.status().networks.find((n) => n.name === 'multi');
      await waitUntil(() => ni()?.selectedPort === 'lte');
      expect(ni()).toMatchObject({ state: 'ready', selectedReason: expect.stringMatching(/port wan \(eth1\) probe failed: ping 192\.0\.2\.1 via eth1/) });
      drivers.probes.setReachable('eth1', true);
      await waitUntil(() => ni()?.selectedPort === 'wan');
      expect(drivers.routes.tableText(ni()?.table ?? 0)).toContain('default via 192.0.2.1 dev eth1');
    } finally {
      await net.stop();
    }
  });
});
