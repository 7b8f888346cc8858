// The real daemon's API over its real socket (issue 7, acceptance 2-4): routes and refusals leave the running state
// alone, the socket is root's only, `edgenet events` reports a port going down within 1 s, /metrics counts.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Status } from '../../src/edgenet-types.ts';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { describeKernel, eventually, run, type Netns } from '../helpers/netns.ts';
import { parsePrometheusText, type Exposition } from '../helpers/prometheus-text.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const NOBODY = '65534';

interface Reply {
  status: number;
  contentType: string;
  body: string;
}

function http(socketPath: string, method: string, path: string, body?: string, contentType?: string): Promise<Reply> {
  return new Promise((resolvePromise, reject) => {
    const req = request({ socketPath, method, path, headers: contentType ? { 'content-type': contentType } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends only the head of a request announcing a body of `length` bytes, and reads the answer. */
function announceBody(socketPath: string, method: string, path: string, length: number, contentType: string): Promise<Reply> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect(socketPath);
    let raw = '';
    socket.on('connect', () => socket.write(`${method} ${path} HTTP/1.1\r\nHost: edgenet\r\nContent-Type: ${contentType}\r\nContent-Length: ${length}\r\n\r\n`));
    socket.on('data', (b: Buffer) => {
      raw += b.toString();
      const head = raw.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(raw.slice(0, head))?.[1];
      if (head < 0 || len === undefined || raw.length - head - 4 < Number(len)) return;
      socket.destroy();
      resolvePromise({
        status: Number(/^HTTP\/1\.1 (\d+)/.exec(raw)?.[1] ?? 0),
        contentType: /content-type: ([^\r]+)/i.exec(raw.slice(0, head))?.[1] ?? '',
        body: raw.slice(head + 4, head + 4 + Number(len)),
      });
    });
    socket.on('error', reject);
  });
}

/** What must not move when a push is refused: config-derived objects and their states, and the kernel writes. */
function stateOf(s: Status): unknown {
  return {
    networks: s.networks.map((n) => [n.name, n.type, n.state, n.subnet, n.dnsmasqPid]),
    endpoints: s.endpoints.map((e) => [e.app, e.network, e.state, e.ip]),
    ports: s.ports.map((p) => [p.name, p.state]),
    writes: s.writes,
  };
}

describeKernel('daemon API over its socket (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let dev: Netns, outside: Netns, web: Netns, db: Netns;
  let cli: ChildProcessWithoutNullStreams | undefined;

  const config = (withDb = false): string => `ports:
  - { name: up0, ifname: eth1 }
networks:
  - { name: lan, type: local, port: up0, subnet: 10.50.0.0/24 }
apps:
  - { name: web, interfaces: [{ network: lan, netns: ${web.path} }] }
${withDb ? `  - { name: db, interfaces: [{ network: lan, netns: ${db.path} }] }\n` : ''}`;

  beforeEach(async () => {
    ({ dev, out: outside, web, db } = await t.namespaces(['dev', 'out', 'web', 'db'], { uplink: true }));
    daemon = await TestDaemon.start(dev, config());
  });

  afterEach(async () => {
    if (cli && cli.exitCode === null && cli.signalCode === null) {
      const done = new Promise<void>((r) => cli?.once('exit', () => r()));
      cli.kill('SIGKILL');
      await done;
    }
    cli = undefined;
  });

  const socketOf = (d: TestDaemon): string => join(d.stateDir, 'api.sock');

  it('serves every route; bad JSON, bad YAML, an invalid config, an oversize body and an unknown route are refused with a message, changing nothing', async () => {
    const d = daemon as TestDaemon;
    const sock = socketOf(d);
    const before = stateOf(await d.status());
    const cases: { what: string; method: string; path: string; body?: string; type?: string; status: number; message: RegExp }[] = [
      { what: 'bad JSON', method: 'PUT', path: '/v1/config', body: '{"networks": [', type: 'application/json', status: 400, message: /not valid JSON/ },
      { what: 'bad YAML', method: 'PUT', path: '/v1/config', body: 'networks:\n  - name: a\n   type: [', type: 'application/yaml', status: 400, message: /not valid YAML/ },
      { what: 'an invalid config', method: 'PUT', path: '/v1/config', body: 'networks:\n  - { name: lan, type: switch, port: nope }\n', type: 'application/yaml', status: 400, message: /networks\[0\]\.port: unknown port "nope"/ },
      { what: 'an unknown route', method: 'GET', path: '/v1/nope', status: 404, message: /no such route/ },
      { what: 'a wrong method', method: 'DELETE', path: '/v1/config', status: 404, message: /no such route/ },
    ];
    for (const c of cases) {
      const r = await http(sock, c.method, c.path, c.body, c.type);
      expect(r.status, c.what).toBe(c.status);
      expect(r.contentType, c.what).toMatch(/^application\/json/);
      expect((JSON.parse(r.body) as { error: string }).error, c.what).toMatch(c.message);
    }
    // an oversize body is refused on its Content-Length, before it is read (a client writing on would get EPIPE)
    const big = await announceBody(sock, 'PUT', '/v1/config', 1024 * 1024 + 1, 'application/yaml');
    expect(big.status).toBe(413);
    expect((JSON.parse(big.body) as { error: string }).error).toMatch(/too large: the limit is 1048576 bytes/);
    expect(stateOf(await d.status())).toEqual(before);

    // the routes themselves
    const status = await http(sock, 'GET', '/v1/status');
    expect(status.status).toBe(200);
    expect((JSON.parse(status.body) as Status).networks).toMatchObject([{ name: 'lan', type: 'local', state: 'ready', bridge: 'enbr-lan', subnet: '10.50.0.0/24', gateway: '10.50.0.1', port: 'up0' }]);
    const metrics = await http(sock, 'GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const same = await http(sock, 'PUT', '/v1/config', config(), 'application/yaml');
    expect(same.status).toBe(200);
    expect(JSON.parse(same.body)).toEqual({ created: [], updated: [], deleted: [], unchanged: 3 });
    expect(stateOf(await d.status())).toEqual(before);
  });

  it('the socket is mode 0600 and root-owned: root connects, a non-root user gets EACCES', async () => {
    const d = daemon as TestDaemon;
    const sock = socketOf(d);
    const st = await stat(sock);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(0);

    const curl = ['curl', '-sS', '--max-time', '5', '--unix-socket', sock, 'http://edgenet/v1/status'];
    const asRoot = await run(curl[0] as string, curl.slice(1));
    expect(asRoot.code, asRoot.stderr).toBe(0);
    expect((JSON.parse(asRoot.stdout) as Status).networks[0]?.name).toBe('lan');

    // the directories on the way are searchable (dnsmasq needs that): only the socket's mode keeps others out
    const asNobody = await run('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...curl]);
    expect(asNobody.code, asNobody.stderr).toBe(7); // curl: couldn't connect

    // the same through node, as the CLI would do it: the client names EACCES
    const probe = `require('node:net').connect(${JSON.stringify(sock)}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(0); });`;
    const viaNode = await run('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, '-e', probe]);
    expect(viaNode.stdout.trim()).toBe('EACCES');
  });

  it('`edgenet events` prints a degraded line within 1 s of the port going down', async () => {
    const d = daemon as TestDaemon;
    // the CLI is only a client of the socket; it runs in the device namespace like everything edgenet here
    cli = spawn('nsenter', [`--net=${dev.path}`, process.execPath, join(REPO, 'bin/edgenet.js'), 'events', '--state-dir', d.stateDir], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
    const lines: { text: string; at: number }[] = [];
    let stderr = '';
    createInterface({ input: cli.stdout }).on('line', (text) => lines.push({ text, at: Date.now() }));
    cli.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    // connected: the CLI's process holds a unix socket in the device namespace (nsenter execs node: same pid)
    await eventually('the events stream to connect', async () => (await dev.exec('ss', ['-xp'])).stdout.includes(`pid=${cli?.pid ?? -1},`), 10_000, 50);
    await new Promise((r) => setTimeout(r, 200));
    expect(cli.exitCode, stderr).toBeNull();

    // when the kernel announces the carrier loss (the same RTM_NEWLINK the daemon gets): the kernel's linkwatch may
    // hold a carrier change back for up to a second after the cable is pulled, which is not edgenet's time to count
    const monitor = spawn('ip', ['-n', dev.name, 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let announced: number | undefined;
    createInterface({ input: monitor.stdout }).on('line', (l) => {
      if (announced === undefined && /\beth1\b.*(NO-CARRIER|LOWERLAYERDOWN)/.test(l)) announced = Date.now();
    });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const pulled = Date.now();
      await outside.ip('link', 'set', 'eth0', 'down');
      const kernel = await eventually('the kernel to announce the carrier loss', () => announced, 10_000, 10);
      const degraded = await eventually('a degraded line', () => lines.find((l) => / network +lan +ready → degraded/.test(l.text)), 10_000, 10);
      expect(degraded.at - kernel, `degraded line ${degraded.at - kernel} ms after the kernel's announcement (${kernel - pulled} ms after the pull)`).toBeLessThan(1000);
      // time, kind, name, from → to, reason
      expect(degraded.text).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\s+network\s+lan\s+ready → degraded\s+\(port up0 \(eth1\) has no carrier\)$/);
      // the port's own line follows the NI's (a separate actor): waited for, not assumed already printed
      await eventually('the port line', () => lines.some((l) => /port +up0 +ready → degraded +\(.*lost carrier\)/.test(l.text)), 2000, 10);
    } finally {
      monitor.kill('SIGKILL');
    }

    await outside.ip('link', 'set', 'eth0', 'up');
    await eventually('a ready line', () => lines.find((l) => / network +lan +degraded → ready/.test(l.text)), 10_000, 10);
    cli.kill('SIGINT');
    const code = await new Promise<number | null>((r) => cli?.once('exit', (c) => r(c)));
    expect(code).toBe(0);
  });

  it('/metrics parses as Prometheus text; transitions count the flap, kernel writes count the push (not the flap)', async () => {
    const d = daemon as TestDaemon;
    const sock = socketOf(d);
    const scrape = async (): Promise<Exposition> => {
      const r = await http(sock, 'GET', '/metrics');
      expect(r.status).toBe(200);
      return parsePrometheusText(r.body);
    };
    const n = (e: Exposition, name: string, labels: Record<string, string>): number => e.value(name, labels) ?? Number.NaN;

    const m0 = await scrape();
    for (const family of ['edgenet_actor_state', 'edgenet_transitions_total', 'edgenet_kernel_writes_total', 'edgenet_apply_duration_seconds', 'edgenet_dnsmasq_restarts_total']) {
      expect(m0.families.has(family), family).toBe(true);
    }
    expect(n(m0, 'edgenet_actor_state', { kind: 'network', name: 'lan', state: 'ready' })).toBe(1);
    expect(n(m0, 'edgenet_actor_state', { kind: 'network', name: 'lan', state: 'degraded' })).toBe(0);
    expect(n(m0, 'edgenet_kernel_writes_total', { kind: 'nft' })).toBeGreaterThan(0);
    expect(n(m0, 'edgenet_apply_duration_seconds_count', { result: 'ok' })).toBe(1); // the file, at start

    // a flap: two network transitions and two port transitions, no kernel write
    await outside.ip('link', 'set', 'eth0', 'down');
    await eventually('lan degraded', async () => (await d.status()).networks[0]?.state === 'degraded');
    const m1 = await scrape();
    expect(n(m1, 'edgenet_actor_state', { kind: 'network', name: 'lan', state: 'degraded' })).toBe(1);
    await outside.ip('link', 'set', 'eth0', 'up');
    await eventually('lan ready', async () => (await d.status()).networks[0]?.state === 'ready');
    const m2 = await scrape();
    const moved = (name: string, labels: Record<string, string>, a = m0, b = m2): number => n(b, name, labels) - n(a, name, labels);
    expect(moved('edgenet_transitions_total', { kind: 'network', to: 'degraded' })).toBe(1);
    expect(moved('edgenet_transitions_total', { kind: 'network', to: 'ready' })).toBe(1);
    expect(moved('edgenet_transitions_total', { kind: 'port', to: 'degraded' })).toBe(1);
    expect(moved('edgenet_transitions_total', { kind: 'endpoint', to: 'degraded' })).toBe(0);
    for (const kind of ['link', 'address', 'nft', 'dnsmasqStart', 'dnsmasqReload', 'sysctl', 'route', 'conntrack']) expect(moved('edgenet_kernel_writes_total', { kind }), kind).toBe(0);

    // a push that adds an app: its veth (link writes), a dnsmasq reload for its name, its anti-spoofing elements (one
    // nft transaction of its own); one more timed apply
    await d.apply(config(true));
    const m3 = await scrape();
    expect(moved('edgenet_kernel_writes_total', { kind: 'link' }, m2, m3)).toBeGreaterThan(0);
    expect(moved('edgenet_kernel_writes_total', { kind: 'dnsmasqReload' }, m2, m3)).toBe(1);
    expect(moved('edgenet_kernel_writes_total', { kind: 'nft' }, m2, m3)).toBe(1);
    expect(moved('edgenet_transitions_total', { kind: 'endpoint', to: 'ready' }, m2, m3)).toBe(1);
    expect(moved('edgenet_apply_duration_seconds_count', { result: 'ok' }, m2, m3)).toBe(1);
    expect(n(m3, 'edgenet_actor_state', { kind: 'endpoint', name: 'db/lan', state: 'ready' })).toBe(1);
    // a refused push is timed as rejected and moves nothing else
    await expect(d.apply('networks: [{ name: Bad, type: switch }]')).rejects.toThrow(/networks\[0\]\.name/);
    const m4 = await scrape();
    expect(moved('edgenet_apply_duration_seconds_count', { result: 'rejected' }, m3, m4)).toBe(1);
    expect(moved('edgenet_kernel_writes_total', { kind: 'link' }, m3, m4)).toBe(0);
  });
});
