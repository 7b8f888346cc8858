// Metrics: parse as Prometheus text, states and writes follow status(), counters move with transitions, apply is timed,
// and the API / daemon serve them on GET /metrics.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { request } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startApiServer } from '../../src/api/server.ts';
import { loadConfigFile } from '../../src/config/config-load.ts';
import { runDaemon } from '../../src/daemon/daemon.ts';
import type { Status, Transition } from '../../src/edgenet-types.ts';
import { ConfigError } from '../../src/errors.ts';
import { createMetrics, isDnsmasqRestart, type EdgenetMetrics } from '../../src/daemon/metrics.ts';
import { parsePrometheusText } from '../helpers/prometheus-text.ts';
import { packageVersion } from '../../src/util/package-info.ts';
import { parseListenAddress, startMetricsListener } from '../../src/daemon/metrics-listen.ts';
import { emptyStatus, FakeEdgenet } from './api-fake-edgenet.ts';

function get(socketPath: string, path: string): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: 'GET', path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

const transition = (t: Partial<Transition> & Pick<Transition, 'kind' | 'name' | 'to'>): Transition => ({ from: null, at: new Date().toISOString(), ...t });

const status = (over: Partial<Status>): Status => ({ ...emptyStatus(), ...over });

describe('metrics', () => {
  let net: FakeEdgenet;
  let metrics: EdgenetMetrics;
  const scrape = async () => parsePrometheusText(await metrics.metrics());

  beforeEach(() => {
    net = new FakeEdgenet();
    metrics = createMetrics(net);
  });
  afterEach(() => metrics.close());

  it('parses as Prometheus text with every family prefixed edgenet_ and typed', async () => {
    const text = await metrics.metrics();
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = parsePrometheusText(text);
    expect(Object.fromEntries([...m.families].map(([name, f]) => [name, f.type]))).toEqual({
      edgenet_build_info: 'gauge',
      edgenet_last_apply_timestamp_seconds: 'gauge',
      edgenet_dhcp_leases: 'gauge',
      edgenet_actor_state: 'gauge',
      edgenet_kernel_writes_total: 'counter',
      edgenet_link_event_overflows_total: 'counter',
      edgenet_transitions_total: 'counter',
      edgenet_dnsmasq_restarts_total: 'counter',
      edgenet_apply_duration_seconds: 'histogram',
      edgenet_acl_packets_total: 'counter',
    });
    for (const f of m.families.values()) expect(f.help).toBeTruthy();
    // series exist (at 0) before anything happened, so rate() and alerts see them from the start
    expect(m.value('edgenet_transitions_total', { kind: 'network', to: 'degraded' })).toBe(0);
    expect(m.value('edgenet_kernel_writes_total', { kind: 'nft' })).toBe(0);
    expect(m.value('edgenet_apply_duration_seconds_count', { result: 'ok' })).toBe(0);
  });

  it('a filtered scrape builds a status only for a family that reads one (at 10 000 endpoints a status is ~20 ms)', async () => {
    const calls = vi.spyOn(net, 'status');
    await metrics.metrics(['edgenet_apply_duration_seconds', 'edgenet_build_info']);
    expect(calls).not.toHaveBeenCalled();
    // the writes are read from the drivers' counters, not from a status
    const writes = vi.spyOn(net, 'writes');
    await metrics.metrics(['edgenet_kernel_writes_total']);
    expect(calls).not.toHaveBeenCalled();
    expect(writes).toHaveBeenCalledTimes(1);
    await metrics.metrics(['edgenet_actor_state', 'edgenet_kernel_writes_total']);
    // one status for the scrape, shared by both families
    expect(calls).toHaveBeenCalledTimes(1);
  });

  it('a filtered scrape collects as a whole one: the event-loop lag percentiles are read, not left as they were', async () => {
    const withProcess = createMetrics(net, { processMetrics: true });
    try {
      const p99 = async (): Promise<number> => parsePrometheusText(await withProcess.metrics(['nodejs_eventloop_lag_p99_seconds'])).value('nodejs_eventloop_lag_p99_seconds') ?? 0;
      // block the loop until the histogram has a delay to report (its sampler sees it once the loop turns)
      const deadline = Date.now() + 5000;
      let seen = 0;
      while (seen <= 0 && Date.now() < deadline) {
        const until = Date.now() + 30;
        while (Date.now() < until);
        await new Promise((r) => setTimeout(r, 15));
        seen = await p99();
      }
      expect(seen).toBeGreaterThan(0);
    } finally {
      withProcess.close();
    }
  });

  it('reads actor states off status() at each scrape (1 for the current state, 0 for the others)', async () => {
    net.statusSubject.next(
      status({
        networks: [{ name: 'lan', type: 'local', state: 'ready', bridge: 'enlan' }],
        endpoints: [{ app: 'web', network: 'lan', kind: 'veth', state: 'pending', ifname: 'enweb' }],
        ports: [{ name: 'up0', ifname: 'eth1', state: 'ready', carrier: true }],
      }),
    );
    let m = await scrape();
    expect(m.value('edgenet_actor_state', { kind: 'network', name: 'lan', state: 'ready' })).toBe(1);
    expect(m.value('edgenet_actor_state', { kind: 'network', name: 'lan', state: 'degraded' })).toBe(0);
    expect(m.value('edgenet_actor_state', { kind: 'endpoint', name: 'web/lan', state: 'pending' })).toBe(1);
    expect(m.value('edgenet_actor_state', { kind: 'port', name: 'up0', state: 'ready' })).toBe(1);

    // a rebuilt NI has two actors for a while; an object gone from status is gone from the metrics
    net.statusSubject.next(
      status({
        networks: [
          { name: 'lan', type: 'local', state: 'deleting', bridge: 'enlan' },
          { name: 'lan', type: 'local', state: 'pending', bridge: 'enlan' },
        ],
      }),
    );
    m = await scrape();
    expect(m.value('edgenet_actor_state', { kind: 'network', name: 'lan', state: 'ready' })).toBe(0);
    expect(m.value('edgenet_actor_state', { kind: 'network', name: 'lan', state: 'deleting' })).toBe(1);
    expect(m.value('edgenet_actor_state', { kind: 'network', name: 'lan', state: 'pending' })).toBe(1);
    expect(m.value('edgenet_actor_state', { kind: 'endpoint', name: 'web/lan', state: 'pending' })).toBeUndefined();
  });

  it('writes the per-object families as prom-client does: metrics() is registry.metrics() byte for byte', async () => {
    const rules = [
      { rule: '1', action: 'allow' as const, packets: 7 },
      { rule: 'default', action: 'deny' as const, packets: 2 ** 40 },
      { rule: 'anti-spoofing', action: 'drop' as const, packets: 0 },
    ];
    net.statusSubject.next(
      status({
        networks: [
          { name: 'lan', type: 'local', state: 'deleting', bridge: 'enlan' },
          { name: 'lan', type: 'local', state: 'pending', bridge: 'enlan' },
          { name: 'odd"\\\nname', type: 'switch', state: 'degraded', bridge: 'enodd' },
        ],
        endpoints: [
          { app: 'web', network: 'lan', kind: 'veth', state: 'ready', ifname: 'enweb', rules },
          // the same labels twice add up, as a counter's inc() does
          { app: 'web', network: 'lan', kind: 'tap', state: 'creating', ifname: 'vif1', rules },
          { app: 'db"x', network: 'odd"\\\nname', kind: 'tap', state: 'pending', ifname: 'vif2' },
        ],
        ports: [{ name: 'up0', ifname: 'eth1', state: 'ready', carrier: true }],
      }),
    );
    net.transitions.next(transition({ kind: 'network', name: 'lan', from: 'pending', to: 'creating' }));
    const text = await metrics.metrics();
    expect(text).toBe(await metrics.registry.metrics());
    const m = parsePrometheusText(text);
    expect(m.value('edgenet_acl_packets_total', { ni: 'lan', app: 'web', rule: '1', action: 'allow' })).toBe(14);
    expect(m.value('edgenet_actor_state', { kind: 'endpoint', name: 'web/lan', state: 'ready' })).toBe(1);
    expect(m.samples.filter((x) => x.name === 'edgenet_actor_state')).toHaveLength(5 * 5);
  });

  it('counts transitions by kind and target state, and dnsmasq restarts', async () => {
    net.transitions.next(transition({ kind: 'network', name: 'lan', from: null, to: 'pending' }));
    net.transitions.next(transition({ kind: 'network', name: 'lan', from: 'pending', to: 'creating' }));
    net.transitions.next(transition({ kind: 'network', name: 'lan', from: 'creating', to: 'ready' }));
    net.transitions.next(transition({ kind: 'endpoint', name: 'web/lan', from: 'creating', to: 'ready' }));
    let m = await scrape();
    expect(m.value('edgenet_transitions_total', { kind: 'network', to: 'ready' })).toBe(1);
    expect(m.value('edgenet_transitions_total', { kind: 'network', to: 'creating' })).toBe(1);
    expect(m.value('edgenet_transitions_total', { kind: 'endpoint', to: 'ready' })).toBe(1);
    expect(m.value('edgenet_transitions_total', { kind: 'port', to: 'ready' })).toBe(0);

    net.transitions.next(transition({ kind: 'network', name: 'lan', from: 'ready', to: 'degraded', reason: 'dnsmasq (pid 42) exited with signal SIGKILL' }));
    net.transitions.next(transition({ kind: 'network', name: 'lan', from: 'degraded', to: 'ready', reason: 'dnsmasq running (pid 43)' }));
    net.transitions.next(transition({ kind: 'network', name: 'lan', from: 'ready', to: 'degraded', reason: 'port up0 (eth1) has no carrier' }));
    m = await scrape();
    expect(m.value('edgenet_transitions_total', { kind: 'network', to: 'degraded' })).toBe(2);
    expect(m.value('edgenet_transitions_total', { kind: 'network', to: 'ready' })).toBe(2);
    expect(m.value('edgenet_dnsmasq_restarts_total', { ni: 'lan' })).toBe(1);
  });

  it('has edgenet_build_info, no always-zero deleted series, and per-NI dnsmasq restarts and leases', async () => {
    net.statusSubject.next(
      status({
        networks: [
          { name: 'lan', type: 'local', state: 'ready', bridge: 'enlan', leases: [{ mac: '02:00:00:00:00:01', ip: '10.1.0.100' }, { mac: '02:00:00:00:00:02', ip: '10.1.0.101' }] },
          { name: 'lab', type: 'local', state: 'ready', bridge: 'enlab' },
          { name: 'plant', type: 'switch', state: 'ready', bridge: 'enplant' },
        ],
      }),
    );
    net.transitions.next(transition({ kind: 'network', name: 'lab', from: 'ready', to: 'degraded', reason: 'dnsmasq (pid 42) exited with code 1' }));
    const m = await scrape();
    const info = m.samples.filter((x) => x.name === 'edgenet_build_info');
    expect(info).toEqual([{ name: 'edgenet_build_info', family: 'edgenet_build_info', labels: { version: packageVersion(), node: process.version }, value: 1 }]);
    expect(m.samples.filter((x) => x.name === 'edgenet_actor_state' && x.labels.state === 'deleted')).toEqual([]);
    expect(m.samples.filter((x) => x.labels.state === 'deleted')).toEqual([]);
    expect(m.value('edgenet_dhcp_leases', { ni: 'lan' })).toBe(2);
    expect(m.value('edgenet_dhcp_leases', { ni: 'lab' })).toBe(0);
    expect(m.value('edgenet_dhcp_leases', { ni: 'plant' })).toBeUndefined();
    expect(m.value('edgenet_dnsmasq_restarts_total', { ni: 'lab' })).toBe(1);
    expect(m.value('edgenet_dnsmasq_restarts_total', { ni: 'lan' })).toBe(0);
    // no process metrics unless asked for (an agent serves its own)
    expect([...m.families.keys()].filter((f) => !f.startsWith('edgenet_'))).toEqual([]);
  });

  it('with processMetrics: prom-client\'s process and Node metrics as well', async () => {
    const withProcess = createMetrics(net, { processMetrics: true });
    try {
      const m = parsePrometheusText(await withProcess.metrics());
      expect(m.value('process_resident_memory_bytes')).toBeGreaterThan(0);
      expect(m.value('process_cpu_seconds_total')).toBeGreaterThan(0);
      expect(m.families.get('nodejs_eventloop_lag_seconds')?.type).toBe('gauge');
      expect(m.families.get('nodejs_heap_size_used_bytes')?.type).toBe('gauge');
    } finally {
      withProcess.close();
    }
  });

  it('sets the last apply timestamp when an apply succeeds (not when it is rejected)', async () => {
    expect((await scrape()).value('edgenet_last_apply_timestamp_seconds')).toBe(0);
    const apply = metrics.instrumentApply((config: unknown) => net.apply(config));
    const before = Date.now() / 1000;
    await apply({ networks: [{ name: 'plant', type: 'switch' }] });
    const at = (await scrape()).value('edgenet_last_apply_timestamp_seconds') ?? 0;
    expect(at).toBeGreaterThanOrEqual(Math.floor(before));
    expect(at).toBeLessThanOrEqual(Date.now() / 1000);
    await expect(apply({ networks: [{ name: 'plant', type: 'nope' }] })).rejects.toBeInstanceOf(ConfigError);
    expect((await scrape()).value('edgenet_last_apply_timestamp_seconds')).toBe(at);
  });

  it('reports kernel writes from writes() (what status().writes says)', async () => {
    net.statusSubject.next(status({ writes: { link: 7, address: 2, nft: 3, dnsmasqStart: 1, dnsmasqReload: 4, sysctl: 2, route: 0, conntrack: 0 } }));
    let m = await scrape();
    expect(m.value('edgenet_kernel_writes_total', { kind: 'link' })).toBe(7);
    expect(m.value('edgenet_kernel_writes_total', { kind: 'dnsmasqReload' })).toBe(4);
    net.statusSubject.next(status({ writes: { link: 9, address: 2, nft: 4, dnsmasqStart: 1, dnsmasqReload: 4, sysctl: 2, route: 0, conntrack: 0 } }));
    m = await scrape();
    expect(m.value('edgenet_kernel_writes_total', { kind: 'link' })).toBe(9);
    expect(m.value('edgenet_kernel_writes_total', { kind: 'nft' })).toBe(4);
  });

  it('times applies by result', async () => {
    const apply = metrics.instrumentApply((config: unknown) => net.apply(config));
    await apply({ networks: [{ name: 'plant', type: 'switch' }] });
    await expect(apply({ networks: [{ name: 'plant', type: 'nope' }] })).rejects.toBeInstanceOf(ConfigError);
    const failing = metrics.instrumentApply(() => Promise.reject(new Error('netlink went away')));
    await expect(failing()).rejects.toThrow('netlink went away');
    const m = await scrape();
    expect(m.value('edgenet_apply_duration_seconds_count', { result: 'ok' })).toBe(1);
    expect(m.value('edgenet_apply_duration_seconds_count', { result: 'rejected' })).toBe(1);
    expect(m.value('edgenet_apply_duration_seconds_count', { result: 'failed' })).toBe(1);
    expect(m.value('edgenet_apply_duration_seconds_bucket', { result: 'ok', le: '+Inf' })).toBe(1);
    expect(m.value('edgenet_apply_duration_seconds_sum', { result: 'ok' })).toBeGreaterThanOrEqual(0);
  });

  it('stops counting after close()', async () => {
    metrics.close();
    net.transitions.next(transition({ kind: 'port', name: 'up0', to: 'ready' }));
    expect((await scrape()).value('edgenet_transitions_total', { kind: 'port', to: 'ready' })).toBe(0);
  });

  it('counts as a dnsmasq restart only a serving NI degraded by its dnsmasq', () => {
    const base = { kind: 'network', name: 'lan', to: 'degraded', reason: 'dnsmasq (pid 1) exited with code 1' } as const;
    expect(isDnsmasqRestart(transition({ ...base, from: 'ready' }))).toBe(true);
    expect(isDnsmasqRestart(transition({ ...base, from: 'creating' }))).toBe(false);
    expect(isDnsmasqRestart(transition({ ...base, from: 'ready', kind: 'endpoint' }))).toBe(false);
    expect(isDnsmasqRestart(transition({ ...base, from: 'ready', reason: 'port up0 not present' }))).toBe(false);
  });
});

describe('GET /metrics', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-metrics-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is served by the API as Prometheus text', async () => {
    const net = new FakeEdgenet();
    const sock = join(dir, 'api.sock');
    const server = await startApiServer({ net, socketPath: sock });
    try {
      net.transitions.next(transition({ kind: 'network', name: 'lan', to: 'pending' }));
      const res = await get(sock, '/metrics');
      expect(res.status).toBe(200);
      expect(res.type).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(parsePrometheusText(res.body).value('edgenet_transitions_total', { kind: 'network', to: 'pending' })).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('?name= gives those families alone, as they read in the whole text; a bad filter is a 400 naming it', async () => {
    const net = new FakeEdgenet();
    net.statusSubject.next(status({ networks: [{ name: 'lan', type: 'local', state: 'ready', bridge: 'enbr-lan' }] }));
    const sock = join(dir, 'api.sock');
    const server = await startApiServer({ net, socketPath: sock });
    try {
      const whole = (await get(sock, '/metrics')).body;
      const section = (name: string): string => {
        const from = whole.indexOf(`# HELP ${name} `);
        const to = whole.indexOf('\n\n', from);
        return whole.slice(from, to < 0 ? whole.length - 1 : to);
      };
      const one = await get(sock, '/metrics?name=edgenet_apply_duration_seconds');
      expect(one.status).toBe(200);
      expect(one.body).toBe(`${section('edgenet_apply_duration_seconds')}\n`);
      const two = await get(sock, '/metrics?name=edgenet_actor_state&name=edgenet_kernel_writes_total&name=no_such_family');
      expect(two.body).toBe(`${section('edgenet_actor_state')}\n\n${section('edgenet_kernel_writes_total')}\n`);
      expect((await get(sock, '/metrics?name=no_such_family')).body).toBe('');
      const bad = await get(sock, '/metrics?name=a-b');
      expect(bad.status).toBe(400);
      expect(JSON.parse(bad.body)).toEqual({ error: 'name="a-b" is not a metric family name ([a-zA-Z_:][a-zA-Z0-9_:]*)' });
      const other = await get(sock, '/metrics?match=x');
      expect(other.status).toBe(400);
      expect(JSON.parse(other.body).error).toMatch(/unknown query parameter "match"/);
    } finally {
      await server.close();
    }
  });

  it('is served by the daemon, with the applies of the file and of the API timed', async () => {
    const net = new FakeEdgenet();
    const file = join(dir, 'config.yaml');
    await writeFile(file, 'networks:\n  - { name: plant, type: switch }\n');
    const stop = new AbortController();
    let sock: string | undefined;
    const daemon = runDaemon(
      { configPath: file, stateDir: join(dir, 'state'), logger: pino({ level: 'silent' }), signal: stop.signal, onReady: (i) => (sock = i.socketPath) },
      { createEdgenet: () => net, loadConfigFile },
    );
    try {
      const end = Date.now() + 5000;
      while (!sock && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      if (!sock) throw new Error('the daemon did not start');
      net.statusSubject.next(status({ networks: [{ name: 'plant', type: 'switch', state: 'ready', bridge: 'enplant' }] }));
      const m = parsePrometheusText((await get(sock, '/metrics')).body);
      expect(m.value('edgenet_apply_duration_seconds_count', { result: 'ok' })).toBe(1);
      expect(m.value('edgenet_actor_state', { kind: 'network', name: 'plant', state: 'ready' })).toBe(1);
    } finally {
      stop.abort();
      expect(await daemon).toBe(0);
    }
  });

  it('--metrics-listen: the daemon serves /metrics over TCP too (process metrics, build info), and only /metrics', async () => {
    const net = new FakeEdgenet();
    const file = join(dir, 'config.yaml');
    await writeFile(file, 'networks:\n  - { name: plant, type: switch }\n');
    const stop = new AbortController();
    let url: string | undefined;
    const daemon = runDaemon(
      { configPath: file, stateDir: join(dir, 'state'), logger: pino({ level: 'silent' }), signal: stop.signal, metricsListen: { host: '127.0.0.1', port: 0 }, onReady: (i) => (url = i.metricsUrl) },
      { createEdgenet: () => net, loadConfigFile },
    );
    try {
      const end = Date.now() + 5000;
      while (!url && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      if (!url) throw new Error('the daemon did not start');
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const m = parsePrometheusText(await res.text());
      expect(m.value('edgenet_build_info', { version: packageVersion() })).toBe(1);
      expect(m.value('process_resident_memory_bytes')).toBeGreaterThan(0);
      expect(m.value('edgenet_last_apply_timestamp_seconds')).toBeGreaterThan(0);
      expect(m.samples.filter((x) => x.labels.state === 'deleted')).toEqual([]);
      expect((await fetch(url.replace('/metrics', '/v1/status'))).status).toBe(404);
      // the same filter as the API's: process metrics too
      const lag = await (await fetch(`${url}?name=nodejs_eventloop_lag_p99_seconds`)).text();
      expect(lag).toMatch(/^# HELP nodejs_eventloop_lag_p99_seconds /);
      expect(lag).not.toMatch(/edgenet_/);
      const bad = await fetch(`${url}?name=1x`);
      expect(bad.status).toBe(400);
      expect(await bad.text()).toMatch(/name="1x" is not a metric family name/);
    } finally {
      stop.abort();
      expect(await daemon).toBe(0);
    }
  });

  it('--metrics-listen on a port in use is fatal (exit 3) before anything is applied', async () => {
    const busy = await startMetricsListener({ metrics: async () => '', contentType: 'text/plain' }, { host: '127.0.0.1', port: 0 });
    try {
      const port = Number(new URL(busy.url).port);
      const net = new FakeEdgenet();
      const file = join(dir, 'config.yaml');
      await writeFile(file, 'networks:\n  - { name: plant, type: switch }\n');
      let err = '';
      const code = await runDaemon(
        { configPath: file, stateDir: join(dir, 'state'), logger: pino({ level: 'silent' }), metricsListen: { host: '127.0.0.1', port }, stderr: (t) => (err += t) },
        { createEdgenet: () => net, loadConfigFile },
      );
      expect(code).toBe(3);
      expect(err).toMatch(new RegExp(`cannot serve metrics on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
      expect(net.running).toBeUndefined();
    } finally {
      await busy.close();
    }
  });

  it('parses HOST:PORT', () => {
    expect(parseListenAddress('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListenAddress('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListenAddress('localhost:80')).toEqual({ host: 'localhost', port: 80 });
    for (const bad of ['9464', '127.0.0.1', '127.0.0.1:70000', ':9464', '::1:9464', '127.0.0.1:x']) expect(parseListenAddress(bad), bad).toBeUndefined();
  });
});
