// edgenet as a service on the real kernel: the daemon under a supervisor speaking the sd_notify protocol (a test
// socket as NOTIFY_SOCKET) sees READY only once the first apply has settled, and STOPPING on stop; SIGHUP applies a
// changed file (with --no-watch) and the daemon and its socket stay; a reboot (daemon stopped, the device's network
// stack and the runtime dir — tmpfs — gone) keeps reservations, MACs and the last good config, and apps their
// addresses; /healthz, /readyz and `status --check` answer in each state; the systemd unit passes systemd-analyze.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readJournaled } from '../../src/util/journaled-file.ts';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { dhcpLease } from '../helpers/dhcp.ts';
import { addUplink, describeKernel, eventually, kernelRequired, run, type Netns } from '../helpers/netns.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const BIN = join(REPO, 'bin/edgenet.js');

/** `edgenet status --check` (the compiled CLI) against a socket: its exit code and stderr. */
async function statusCheck(socket: string): Promise<{ code: number; stderr: string }> {
  const r = await run(process.execPath, [BIN, 'status', '--check', '--socket', socket]);
  return { code: r.code, stderr: r.stderr };
}

/** A notify socket like systemd's (test/fixtures/notify/notify-socket.py): `received` is every message so far. */
class NotifySocket {
  private text = '';
  private constructor(
    readonly path: string,
    private readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (b: Buffer) => (this.text += b.toString()));
  }

  static async open(dir: string): Promise<NotifySocket> {
    const path = join(dir, 'notify.sock');
    const child = spawn('python3', ['-u', join(REPO, 'test/fixtures/notify/notify-socket.py'), path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const sock = new NotifySocket(path, child);
    await eventually('the notify socket', () => sock.received.startsWith('listening'), 10_000, 20);
    return sock;
  }

  get received(): string {
    return this.text;
  }

  close(): void {
    this.child.kill('SIGTERM');
  }
}

describeKernel('edgenet as a service (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let dev: Netns, web: Netns, outside: Netns;
  let dir: string;
  let notify: NotifySocket | undefined;

  const config = (extra = ''): string => `ports:
  - { name: up0, ifname: eth1 }
networks:
  - { name: lan, type: local, port: up0, subnet: 10.50.0.0/24, dhcpRange: { start: 10.50.0.100, end: 10.50.0.199 } }
${extra}apps:
  - { name: web, interfaces: [{ network: lan, netns: ${web.path} }] }
`;

  beforeEach(async () => {
    ({ dev, web, out: outside } = await t.namespaces(['dev', 'web', 'out']));
    await addUplink(dev, outside);
    dir = await mkdtemp(join(tmpdir(), 'edgenet-service-'));
    // dnsmasq drops root and re-reads its hosts files from the runtime dir: the path must be searchable
    await chmod(dir, 0o755);
  });

  afterEach(async () => {
    notify?.close();
    notify = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('under a notify supervisor: READY=1 only after the first apply has settled, STOPPING=1 on SIGTERM', async () => {
    notify = await NotifySocket.open(dir);
    const sock = notify;
    daemon = await TestDaemon.start(dev, config(), { dir: join(dir, 'd'), env: { NOTIFY_SOCKET: sock.path } });
    await eventually('READY=1', () => sock.received.includes('READY=1'), 10_000);
    // systemd-notify's barrier completed (the socket closed its fd like systemd does): no warning in the log
    expect(daemon.log.filter((l) => l.includes('telling the supervisor'))).toEqual([]);
    // when READY arrived the start-up apply had settled: the log says so before, and everything is ready
    const appliedAt = daemon.log.findIndex((l) => l.includes('config applied (start)'));
    expect(appliedAt).toBeGreaterThanOrEqual(0);
    expect(sock.received).toMatch(/STATUS=running: 1 networks, 1 endpoints/);
    expect(sock.received).toContain(`MAINPID=${daemon.pid}`);
    const s = await daemon.status();
    expect(s.networks.map((n) => n.state)).toEqual(['ready']);
    expect(sock.received).not.toContain('STOPPING=1');
    expect(await daemon.stop('SIGTERM')).toBe(0);
    expect(sock.received.indexOf('STOPPING=1')).toBeGreaterThan(sock.received.indexOf('READY=1'));
    // SIGTERM keeps the data plane
    expect(await dev.ip('-br', 'link', 'show', 'enbr-lan')).toContain('enbr-lan');
  });

  it('SIGHUP re-reads a changed file and applies it (--no-watch); the daemon keeps running and its socket stays', async () => {
    daemon = await TestDaemon.start(dev, config(), { dir: join(dir, 'd'), args: ['--no-watch'] });
    const pid = daemon.pid;
    await writeFile(daemon.configPath, config('  - { name: iso, type: local, subnet: 10.60.0.0/24 }\n'));
    await new Promise((r) => setTimeout(r, 600));
    expect((await daemon.status()).networks.map((n) => n.name), '--no-watch: not re-applied on change').toEqual(['lan']);
    daemon.signal('SIGHUP');
    const d = daemon;
    await eventually('iso applied after SIGHUP', async () => (await d.status()).networks.find((n) => n.name === 'iso')?.state === 'ready', 20_000);
    expect(daemon.log.some((l) => l.includes('reload (SIGHUP)'))).toBe(true);
    expect(daemon.exitCode).toBeNull();
    expect(daemon.pid).toBe(pid);
    expect(existsSync(daemon.socketPath)).toBe(true);
    expect(await dev.ip('-br', 'link', 'show', 'enbr-iso')).toContain('enbr-iso');
    // a second SIGHUP with the file unchanged changes nothing and the daemon still serves
    daemon.signal('SIGHUP');
    await eventually('second reload logged', () => d.log.filter((l) => l.includes('reload (SIGHUP)')).length >= 2);
    expect((await daemon.status()).networks.map((n) => n.state)).toEqual(['ready', 'ready']);
  });

  it('survives a reboot: runtime dir wiped, device network stack gone; reservations, MACs, last good config and app addresses stay', async () => {
    const stateDir = join(dir, 'lib');
    const runtimeDir = join(dir, 'run');
    daemon = await TestDaemon.start(dev, config(), { dir: join(dir, 'd1'), stateDir, runtimeDir });
    const lease = await dhcpLease(web);
    const before = (await daemon.status()).endpoints[0];
    expect(before?.ip).toBe(lease.ip);
    expect(lease.ip).toMatch(/^10\.50\.0\.1\d\d$/);
    const appMac = (await web.ip('-br', 'link', 'show', 'eth0')).split(/\s+/)[2];
    expect(appMac).toBe(before?.mac);
    // the layout: persistent files in the state dir, runtime files (socket, dnsmasq's) in the runtime dir
    expect((await readdir(stateDir)).sort()).toEqual(['config.json', 'config.json.journal', 'instance-id', 'reservations.json', 'reservations.json.journal']);
    expect(await readdir(runtimeDir)).toEqual(expect.arrayContaining(['api.sock', 'lan']));

    // the reboot: the daemon stops, the device's network stack goes (its namespace: links, rules, dnsmasq), tmpfs is empty
    await daemon.remove();
    daemon = undefined;
    await t.pool.remove(dev);
    await rm(runtimeDir, { recursive: true, force: true });
    // the kernel destroys a deleted namespace's links (and so the outside's end of the uplink) asynchronously
    await eventually('the old uplink gone', async () => !(await run('ip', ['-n', outside.name, 'link', 'show', 'eth0'])).stdout.includes('eth0'), 10_000);
    dev = await t.pool.readd(dev);
    await addUplink(dev, outside);

    // started again without -c: the last good config from the state dir
    daemon = await TestDaemon.start(dev, '', { dir: join(dir, 'd2'), stateDir, runtimeDir, resume: true });
    const after = (await daemon.status()).endpoints[0];
    expect(after).toMatchObject({ state: 'ready', ip: before?.ip, mac: before?.mac });
    expect((await web.ip('-br', 'link', 'show', 'eth0')).split(/\s+/)[2]).toBe(appMac);
    expect((await dhcpLease(web)).ip).toBe(lease.ip);
    expect(await web.ping('10.50.0.1')).toBe(true);
    expect(JSON.parse((await readJournaled(join(stateDir, 'config.json'))) ?? '')).toMatchObject({ networks: [{ name: 'lan' }] });
  });

  it('answers /healthz, /readyz and status --check: no daemon, ready, degraded (carrier lost), pending (app namespace missing)', async () => {
    const socket = join(dir, 'd', 'state', 'api.sock');
    expect((await statusCheck(socket)).code, 'no daemon').toBe(2);
    const ghost = '/run/netns/ent-ghost-never-there';
    daemon = await TestDaemon.start(dev, config(), { dir: join(dir, 'd') });
    const d = daemon;
    expect(await d.api.health()).toEqual({ code: 200, body: { alive: true, actors: 'running' } });
    expect(await d.api.ready()).toEqual({ code: 200, body: { ready: true } });
    expect(await statusCheck(d.socketPath)).toMatchObject({ code: 0 });

    // degraded: the port loses its carrier; settled (readyz 200), but not all ready (4)
    await outside.ip('link', 'set', 'eth0', 'down');
    await eventually('lan degraded', async () => (await d.status()).networks[0]?.state === 'degraded');
    expect((await d.api.ready()).code).toBe(200);
    const degraded = await statusCheck(d.socketPath);
    expect(degraded.code).toBe(4);
    expect(degraded.stderr).toMatch(/not ready: network lan degraded/);
    await outside.ip('link', 'set', 'eth0', 'up');
    await eventually('lan ready again', async () => (await d.status()).networks[0]?.state === 'ready');
    expect((await statusCheck(d.socketPath)).code).toBe(0);

    // pending: an app whose namespace does not exist yet waits (settled from the API's view), status --check says 4
    await d.apply(`${config()}  - { name: late, interfaces: [{ network: lan, netns: ${ghost} }] }\n`);
    expect((await d.api.ready()).code).toBe(200);
    const pending = await statusCheck(d.socketPath);
    expect(pending.code).toBe(4);
    expect(pending.stderr).toMatch(/not ready: endpoint late\/lan pending/);
    expect(await d.api.health()).toMatchObject({ code: 200 });
  });
});

// `systemd-analyze verify` of the unit install-service writes (the shipped unit with ExecStart pointing at this
// checkout's node and bin/edgenet.js, so the command exists): no output at all, i.e. no warnings.
const analyze = (await run('systemd-analyze', ['--version'])).code === 0;
const describeSystemd = analyze ? describe : kernelRequired ? describe : describe.skip;
describeSystemd(analyze ? 'systemd unit' : 'systemd unit (skipped: systemd-analyze is not installed; apt-get install systemd)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-unit-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the shipped unit has what the service needs, and the installed one passes systemd-analyze verify without warnings', async () => {
    if (!analyze) throw new Error('systemd-analyze is required (EDGENET_REQUIRE_KERNEL=1): apt-get install systemd');
    const shipped = await readFile(join(REPO, 'systemd/edgenet.service'), 'utf8');
    for (const line of ['Type=notify', 'NotifyAccess=all', 'KillMode=process', 'Restart=on-failure', 'StateDirectory=edgenet', 'RuntimeDirectory=edgenet', 'RuntimeDirectoryPreserve=yes', 'ExecReload=/bin/kill -HUP $MAINPID']) {
      expect(shipped.split('\n'), line).toContain(line);
    }
    const r = await run(process.execPath, [BIN, 'install-service', '--unit-dir', dir, '-c', '/etc/edgenet/config.yaml']);
    expect(r.code, r.stderr).toBe(0);
    const unit = join(dir, 'edgenet.service');
    expect(await readFile(unit, 'utf8')).toContain(`ExecStart=${process.execPath} ${BIN} run -c /etc/edgenet/config.yaml\n`);
    const v = await run('systemd-analyze', ['verify', unit]);
    expect({ code: v.code, output: (v.stdout + v.stderr).trim() }).toEqual({ code: 0, output: '' });
  });
});
