// The dnsmasq driver against real dnsmasq processes in network namespaces: DHCP via busybox udhcpc, DNS via
// busybox nslookup, forwarding to a second dnsmasq playing the upstream resolver.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { DhcpDns, DhcpDnsEvent, DhcpDnsSpec } from '../../src/drivers/dhcpdns.ts';
import { createDnsmasqDriver, dnsmasqPaths, findOwnedDnsmasq, isOwnedDnsmasq } from '../../src/drivers/dhcpdns-dnsmasq.ts';
import { KernelError } from '../../src/errors.ts';
import type { EdgenetLogger } from '../../src/util/logger.ts';
import { Ipam } from '../../src/services/ipam.ts';
import { describeKernel, eventually, NetnsPool, type Netns } from '../helpers/netns.ts';

const DNSMASQ = '/usr/sbin/dnsmasq';

/** Keeps every line (message and fields) a driver logs. */
function recordingLogger(lines: string[]): EdgenetLogger {
  const fn = (a: object | string, b?: string): void => {
    lines.push(typeof a === 'string' ? a : `${b ?? ''} ${JSON.stringify(a)}`);
  };
  const logger: EdgenetLogger = { error: fn, warn: fn, info: fn, debug: fn, child: () => logger, isLevelEnabled: () => true };
  return logger;
}
const MAC1 = '02:73:00:00:00:01';
const MAC2 = '02:73:00:00:00:02';
const MAC3 = '02:73:00:00:00:03';
const RANGE = { start: '10.73.0.100', end: '10.73.0.150' };

interface Topology {
  dev: Netns;
  app1: Netns;
  app2: Netns;
}

describeKernel('dnsmasq driver (real dnsmasq in namespaces)', () => {
  let pool: NetnsPool;
  let tmp: string;
  let stateDir: string;
  let script: string;
  const drivers: DhcpDns[] = [];
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    pool = new NetnsPool();
    tmp = await mkdtemp(join(tmpdir(), 'edgenet-dnsmasq-'));
    // mkdtemp makes it 0700: the driver must let dnsmasq's unprivileged user through.
    stateDir = join(tmp, 'state');
    await mkdir(stateDir, { mode: 0o700 });
    await chmod(tmp, 0o755);
    // udhcpc runs this on each event: configure the address (so the app can query DNS) and say what it got.
    script = join(tmp, 'udhcpc.sh');
    await writeFile(
      script,
      '#!/bin/sh\ncase "$1" in bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/$mask" dev "$interface"; echo "LEASE $ip";; esac\nexit 0\n',
    );
    await chmod(script, 0o755);
  });

  afterEach(async () => {
    for (const d of drivers.splice(0)) await d.close().catch(() => undefined);
    for (const c of children.splice(0)) if (c.pid !== undefined && c.exitCode === null) c.kill('SIGTERM');
    await pool.removeAll();
    await rm(tmp, { recursive: true, force: true });
  });

  function driver(opts: { adoptPollMs?: number } = {}, dev?: Netns): DhcpDns {
    const d = createDnsmasqDriver({
      stateDir,
      ...(dev ? { exec: ['ip', 'netns', 'exec', dev.name] } : {}),
      backoff: { initialMs: 100, maxMs: 1000 },
      stopTimeoutMs: 2000,
      ...opts,
    });
    drivers.push(d);
    return d;
  }

  /** Device namespace with bridge enbr-x (10.73.0.1/24) and two app namespaces on it by veths with fixed MACs. */
  async function topology(): Promise<Topology> {
    const dev = await pool.add('dev');
    await dev.ip('link', 'add', 'enbr-x', 'type', 'bridge');
    await dev.ip('addr', 'add', '10.73.0.1/24', 'dev', 'enbr-x');
    await dev.ip('link', 'set', 'enbr-x', 'up');
    const apps: Netns[] = [];
    for (const [i, mac] of [MAC1, MAC2].entries()) {
      const app = await pool.add(`app${i + 1}`);
      await dev.ip('link', 'add', `vapp${i + 1}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', app.name);
      await dev.ip('link', 'set', `vapp${i + 1}`, 'master', 'enbr-x', 'up');
      await app.ip('link', 'set', 'eth0', 'address', mac, 'up');
      apps.push(app);
    }
    const [app1, app2] = apps as [Netns, Netns];
    return { dev, app1, app2 };
  }

  /** A "resolver" namespace linked to the device (10.74.0.1 <-> 10.74.0.2) running an upstream dnsmasq. */
  async function upstreamResolver(dev: Netns): Promise<string> {
    const res = await pool.add('res');
    await dev.ip('link', 'add', 'vres', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', res.name);
    await dev.ip('addr', 'add', '10.74.0.1/30', 'dev', 'vres');
    await dev.ip('link', 'set', 'vres', 'up');
    await res.ip('addr', 'add', '10.74.0.2/30', 'dev', 'eth0');
    await res.ip('link', 'set', 'eth0', 'up');
    const child = spawn(
      'ip',
      [
        'netns', 'exec', res.name, DNSMASQ, '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts',
        '--bind-interfaces', '--listen-address=10.74.0.2', '--address=/ext.example/198.51.100.7', `--pid-file=${join(tmp, 'resolver.pid')}`,
      ],
      { stdio: 'ignore' },
    );
    children.push(child);
    await eventually('upstream resolver answers', async () => (await lookup(res, 'ext.example', '10.74.0.2')) === '198.51.100.7');
    return '10.74.0.2';
  }

  async function dhcp(app: Netns): Promise<string | undefined> {
    const r = await app.exec('busybox', ['udhcpc', '-i', 'eth0', '-n', '-q', '-t', '5', '-T', '1', '-s', script], { timeoutMs: 30_000 });
    return /LEASE (\S+)/.exec(r.stdout)?.[1];
  }

  async function lookup(from: Netns, name: string, server = '10.73.0.1'): Promise<string | undefined> {
    const r = await from.exec('busybox', ['nslookup', '-type=a', name, server], { timeoutMs: 10_000 });
    return /Name:\s*\S+\s*\nAddress:\s*(\S+)/.exec(r.stdout)?.[1];
  }

  function baseSpec(forwarder: string, app2Ip: string): DhcpDnsSpec {
    return {
      ni: 'x',
      bridge: 'enbr-x',
      subnet: '10.73.0.0',
      gateway: '10.73.0.1',
      prefixlen: 24,
      range: RANGE,
      forwarders: [forwarder],
      staticHosts: [{ name: 'printer', ip: '10.73.0.250' }],
      reservations: [
        { name: 'app1', mac: MAC1, ip: '10.73.0.10' },
        { name: 'app2', mac: MAC2, ip: app2Ip },
      ],
    };
  }

  it('serves DHCP reservations and DNS, reloads, survives a crash, evicts leases and cleans up', async () => {
    const { dev, app1, app2 } = await topology();
    const forwarder = await upstreamResolver(dev);
    const ipam = await Ipam.open(stateDir);
    ipam.reserve('x', 'app1/x', { range: RANGE, static: '10.73.0.10', taken: ['10.73.0.1'] });
    const app2Ip = ipam.reserve('x', 'app2/x', { range: RANGE, taken: ['10.73.0.1', '10.73.0.10', '10.73.0.250'] });
    expect(app2Ip).toBe('10.73.0.100');
    await ipam.save();

    const d = driver({}, dev);
    const events: DhcpDnsEvent[] = [];
    d.events$.subscribe((e) => events.push(e));
    const spec = baseSpec(forwarder, app2Ip);
    const { pid } = await d.ensure(spec);
    expect(d.pid('x')).toBe(pid);
    expect(d.writes.snapshot()).toMatchObject({ dnsmasqStart: 1, dnsmasqReload: 0 });

    // an operator can tell which process serves which NI; it dropped root; its files are readable after that
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    const paths = dnsmasqPaths(stateDir, 'x');
    expect(argv).toEqual(expect.arrayContaining(['--keep-in-foreground', `--conf-file=${paths.conf}`, '--interface=enbr-x']));
    expect(await readFile(`/proc/${pid}/status`, 'utf8')).not.toMatch(/^Uid:\s+0\s/m);
    // its own account's group may read what it re-reads; nobody else (setup.sh creates edgenet-dns)
    expect((await stat(paths.dir)).mode & 0o777).toBe(0o750);
    expect((await stat(paths.hosts)).mode & 0o777).toBe(0o640);
    expect((await stat(paths.leases)).mode & 0o777).toBe(0o600);
    expect((await stat(paths.pid)).uid).toBe(0);
    expect((await stat(stateDir)).mode & 0o001).toBe(0o001);
    expect(await findOwnedDnsmasq(stateDir, 'x')).toBe(pid);

    // DHCP: the static reservation and the one from the range
    expect(await dhcp(app1)).toBe('10.73.0.10');
    expect(await dhcp(app2)).toBe(app2Ip);
    expect((await d.leases('x')).map((l) => [l.mac, l.ip]).sort()).toEqual([
      [MAC1, '10.73.0.10'],
      [MAC2, app2Ip],
    ]);

    // DNS: app names plain and in the NI's domain, a static entry, and an outside name via the forwarder
    expect(await lookup(app1, 'app2')).toBe(app2Ip);
    expect(await lookup(app1, 'app2.x')).toBe(app2Ip);
    expect(await lookup(app2, 'app1.x')).toBe('10.73.0.10');
    expect(await lookup(app1, 'printer')).toBe('10.73.0.250');
    expect(await lookup(app1, 'ext.example')).toBe('198.51.100.7');

    // the same spec again costs nothing
    await d.ensure(structuredClone(spec));
    expect(d.writes.snapshot()).toMatchObject({ dnsmasqStart: 1, dnsmasqReload: 0 });

    // a new reservation: one SIGHUP, same process, and the name resolves (read as dnsmasq's unprivileged user)
    const withApp3 = { ...spec, reservations: [...spec.reservations, { name: 'app3', mac: MAC3, ip: '10.73.0.101' }] };
    expect(await d.ensure(withApp3)).toEqual({ pid });
    expect(d.writes.snapshot()).toMatchObject({ dnsmasqStart: 1, dnsmasqReload: 1 });
    // ensure() resolved after dnsmasq said it re-read the files: the name is live now
    expect(await lookup(app1, 'app3.x')).toBe('10.73.0.101');
    expect(await lookup(app1, 'app2')).toBe(app2Ip);

    // a crash: exited, then a restart with backoff, then started; DHCP works again
    process.kill(pid, 'SIGKILL');
    await eventually('exited and started events', () => events.length >= 2, 15_000);
    const [exited, started] = events;
    expect(exited).toMatchObject({ type: 'exited', ni: 'x', pid, signal: 'SIGKILL' });
    expect(started).toMatchObject({ type: 'started', ni: 'x' });
    const pid2 = d.pid('x');
    expect(pid2).toBeDefined();
    expect(pid2).not.toBe(pid);
    expect(started).toEqual({ type: 'started', ni: 'x', pid: pid2 });
    expect(await dhcp(app2)).toBe(app2Ip);
    expect(await lookup(app2, 'app3')).toBe('10.73.0.101');

    // evict: the lease goes, the reservation stays, the app gets the same address again
    await d.evictLease('x', MAC2);
    expect((await d.leases('x')).map((l) => l.mac)).not.toContain(MAC2);
    const pid3 = d.pid('x');
    expect(await dhcp(app2)).toBe(app2Ip);
    // evicting a MAC without a lease costs nothing
    const before = d.writes.snapshot();
    await d.evictLease('x', '02:73:00:00:00:99');
    expect(d.writes.snapshot()).toEqual(before);
    expect(d.pid('x')).toBe(pid3);

    // why eviction matters: app1 comes back with a new MAC and its old address; the old lease would block it
    const newMac1 = '02:73:00:00:01:01';
    await app1.ip('link', 'set', 'eth0', 'address', newMac1);
    const moved = { ...withApp3, reservations: withApp3.reservations.map((r) => (r.name === 'app1' ? { ...r, mac: newMac1 } : r)) };
    await d.ensure(moved);
    await d.evictLease('x', MAC1);
    expect(await dhcp(app1)).toBe('10.73.0.10');
    expect(events).toHaveLength(2);

    // two apps removed in one push: their leases go in one restart, as EVE prunes a change's obsolete hosts
    expect((await d.leases('x')).map((l) => l.mac)).toEqual(expect.arrayContaining([MAC2, newMac1]));
    const starts = d.writes.snapshot().dnsmasqStart;
    await Promise.all([d.evictLease('x', MAC2), d.evictLease('x', newMac1)]);
    expect(d.writes.snapshot().dnsmasqStart).toBe(starts + 1);
    expect((await d.leases('x')).map((l) => l.mac)).not.toEqual(expect.arrayContaining([MAC2]));
    expect((await d.leases('x')).map((l) => l.mac)).not.toContain(newMac1);
    expect(await dhcp(app1)).toBe('10.73.0.10');

    // remove: process gone, files gone
    const last = d.pid('x');
    expect(last).toBeDefined();
    await d.remove('x');
    expect(d.pid('x')).toBeUndefined();
    expect(await isOwnedDnsmasq(last ?? 0, paths.conf)).toBe(false);
    await expect(stat(paths.dir)).rejects.toMatchObject({ code: 'ENOENT' });
    await d.remove('x'); // absent is success
    expect(events).toHaveLength(2);
  });

  it('a new app is one file per dir that dnsmasq reads by itself (no SIGHUP); a removed or changed one is a SIGHUP', async () => {
    const { dev, app1, app2 } = await topology();
    const lines: string[] = [];
    const logger = recordingLogger(lines);
    const d = createDnsmasqDriver({ stateDir, exec: ['ip', 'netns', 'exec', dev.name], logger, stopTimeoutMs: 2000 });
    drivers.push(d);
    const paths = dnsmasqPaths(stateDir, 'x');
    // app2's reservation lies outside the dynamic range: a lease from the range tells "not reserved" apart
    const r2 = { name: 'app2', mac: MAC2, ip: '10.73.0.200' };
    const spec: DhcpDnsSpec = { ...baseSpec('10.74.0.2', '10.73.0.100'), forwarders: [], reservations: [{ name: 'app1', mac: MAC1, ip: '10.73.0.10' }] };
    const { pid } = await d.ensure(spec);
    expect(await dhcp(app1)).toBe('10.73.0.10');

    // +1 app: its two files, no SIGHUP (dnsmasq logs `cleared cache` on one); ensure() resolved once dnsmasq said it
    // read them, so the first DHCP request gets the reservation and the name resolves at once
    lines.length = 0;
    const withApp2 = { ...spec, reservations: [...spec.reservations, r2] };
    expect(await d.ensure(withApp2)).toEqual({ pid });
    expect(lines.filter((l) => /cleared cache|reloaded \(SIGHUP\)/.test(l))).toEqual([]);
    expect(lines.some((l) => l.includes('dnsmasq read the new reservations (no SIGHUP)'))).toBe(true);
    // confirmed by dnsmasq's own lines, not ended by the 2 s wait
    expect(lines.filter((l) => l.includes('did not confirm'))).toEqual([]);
    expect(await readFile(join(paths.hostsDir, '02-73-00-00-00-02'), 'utf8')).toBe('10.73.0.200 app2 app2.x\n');
    expect(await readFile(join(paths.dhcpHostsDir, '02-73-00-00-00-02'), 'utf8')).toBe(`${MAC2},10.73.0.200,app2\n`);
    expect((await stat(join(paths.dhcpHostsDir, '02-73-00-00-00-02'))).mode & 0o777).toBe(0o640);
    expect(await lookup(app1, 'app2.x')).toBe('10.73.0.200');
    expect(await dhcp(app2)).toBe('10.73.0.200');
    // no temp file is left in the watched dirs or beside them
    expect((await readdir(paths.dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    // -1 app: its files go, no SIGHUP: dnsmasq forgets the hosts file's names by itself (ensure() resolved once it said
    // so), and keeps the DHCP record until its next SIGHUP or restart. With its lease evicted (as LocalServices does:
    // a restart, the lease being there) the name no longer resolves (a lease's name is served while it lasts) and the
    // reservation is gone from dnsmasq
    lines.length = 0;
    expect(await d.ensure(spec)).toEqual({ pid });
    expect(lines.filter((l) => /cleared cache|reloaded \(SIGHUP\)/.test(l))).toEqual([]);
    expect(lines.some((l) => l.includes('dnsmasq forgot the removed names (no SIGHUP)'))).toBe(true);
    expect(lines.filter((l) => l.includes('did not confirm'))).toEqual([]);
    expect(await readdir(paths.hostsDir)).toEqual(['02-73-00-00-00-01']);
    expect(await readdir(paths.dhcpHostsDir)).toEqual(['02-73-00-00-00-01']);
    expect(await eventually('the record says dnsmasq holds more than the files', async () => (await readFile(paths.applied, 'utf8')).includes('"staleDhcp":{"02-73-00-00-00-02":"10.73.0.200"}'))).toBe(true);
    await d.evictLease('x', MAC2);
    expect(await lookup(app1, 'app2.x')).toBeUndefined();
    expect(await lookup(app1, 'app2')).toBeUndefined();
    const dynamic = await dhcp(app2);
    expect(dynamic).toMatch(/^10\.73\.0\.1[0-5]\d$/);
    expect(dynamic).not.toBe('10.73.0.200');

    // a changed reservation (same MAC, another address) is a SIGHUP too; after the eviction the new address is leased
    lines.length = 0;
    await d.ensure({ ...spec, reservations: [{ name: 'app1', mac: MAC1, ip: '10.73.0.11' }] });
    expect(lines.some((l) => l.includes('dnsmasq reloaded (SIGHUP)'))).toBe(true);
    await d.evictLease('x', MAC1);
    expect(await dhcp(app1)).toBe('10.73.0.11');
    expect(await lookup(app2, 'app1.x')).toBe('10.73.0.11');

    // a restarted edgenet does not know what the adopted dnsmasq read, and cannot read its log: a SIGHUP
    const running = d.pid('x');
    await d.close();
    const again = createDnsmasqDriver({ stateDir, exec: ['ip', 'netns', 'exec', dev.name], logger, stopTimeoutMs: 2000 });
    drivers.push(again);
    lines.length = 0;
    const spec11 = { ...spec, reservations: [{ name: 'app1', mac: MAC1, ip: '10.73.0.11' }] };
    expect((await again.ensure({ ...spec11, reservations: [...spec11.reservations, r2] })).pid).toBe(running);
    expect(lines.some((l) => l.includes('dnsmasq reloaded (SIGHUP)'))).toBe(true);
    expect(await eventually('app2 resolves again', async () => (await lookup(app1, 'app2.x')) === '10.73.0.200')).toBe(true);
  });

  it('a removed reservation\'s DHCP record, kept by dnsmasq, is cleared by a SIGHUP before its name or address is served again', async () => {
    const { dev, app2 } = await topology();
    const lines: string[] = [];
    const d = createDnsmasqDriver({ stateDir, exec: ['ip', 'netns', 'exec', dev.name], logger: recordingLogger(lines), stopTimeoutMs: 2000 });
    drivers.push(d);
    const r1 = { name: 'app1', mac: MAC1, ip: '10.73.0.10' };
    const r2 = { name: 'app2', mac: MAC2, ip: '10.73.0.200' };
    const spec: DhcpDnsSpec = { ...baseSpec('10.74.0.2', '10.73.0.100'), forwarders: [], reservations: [r1, r2] };
    const { pid } = await d.ensure(spec);
    const reloads = (): number => lines.filter((l) => l.includes('dnsmasq reloaded (SIGHUP)')).length;

    // app2 removed without a lease: no SIGHUP, no restart; dnsmasq still holds its DHCP record
    await d.ensure({ ...spec, reservations: [r1] });
    expect(reloads()).toBe(0);
    // another app comes (another name and address): its files alone, still no SIGHUP
    const r3 = { name: 'app3', mac: MAC3, ip: '10.73.0.30' };
    await d.ensure({ ...spec, reservations: [r1, r3] });
    expect(reloads()).toBe(0);
    // app2 back under another address: beside its old record dnsmasq would keep serving that one, so this is a SIGHUP,
    // and app2 is leased its new address
    await d.ensure({ ...spec, reservations: [r1, r3, { ...r2, ip: '10.73.0.201' }] });
    expect(reloads()).toBe(1);
    expect(await dhcp(app2)).toBe('10.73.0.201');
    expect(d.pid('x')).toBe(pid);

    // app2 removed again (its lease evicted: a restart), then app3, and a new app on app3's old address: beside app3's
    // record dnsmasq would drop the new one's address, so this is a SIGHUP too, after which the address is app4's
    await d.ensure({ ...spec, reservations: [r1, r3] });
    await d.evictLease('x', MAC2);
    await d.ensure({ ...spec, reservations: [r1] });
    const before = reloads();
    await d.ensure({ ...spec, reservations: [r1, { name: 'app4', mac: MAC2, ip: '10.73.0.30' }] });
    expect(reloads()).toBe(before + 1);
    expect(await dhcp(app2)).toBe('10.73.0.30');
    expect(await lookup(app2, 'app4.x')).toBe('10.73.0.30');
    expect(await lookup(app2, 'app3.x')).toBeUndefined();

    // the record lists the records dnsmasq holds beyond the files: a restarted edgenet adopting it knows them, and the
    // same spec again costs nothing (no SIGHUP); its first change is a SIGHUP (an adopted dnsmasq's log is not ours
    // to read), which clears them
    await d.ensure({ ...spec, reservations: [r1] });
    const running = d.pid('x');
    // (written behind the change: close() waits for it)
    await d.close();
    expect(JSON.parse(await readFile(dnsmasqPaths(stateDir, 'x').applied, 'utf8'))).toMatchObject({ staleDhcp: { '02-73-00-00-00-02': '10.73.0.30' } });
    const again = createDnsmasqDriver({ stateDir, exec: ['ip', 'netns', 'exec', dev.name], logger: recordingLogger(lines), stopTimeoutMs: 2000 });
    drivers.push(again);
    const adoptedReloads = reloads();
    expect((await again.ensure({ ...spec, reservations: [r1] })).pid).toBe(running);
    expect(reloads()).toBe(adoptedReloads);
    await again.ensure({ ...spec, reservations: [r1, r3] });
    expect(lines.filter((l) => l.includes('dnsmasq reloaded (SIGHUP)')).length).toBe(adoptedReloads + 1);
    expect(JSON.parse(await readFile(dnsmasqPaths(stateDir, 'x').applied, 'utf8'))).not.toHaveProperty('staleDhcp');
  });

    it('a restarted edgenet adopts the running dnsmasq, reloads it and supervises it; stale pid files are not trusted', async () => {
    const { dev, app1 } = await topology();
    const spec: DhcpDnsSpec = { ...baseSpec('10.74.0.2', '10.73.0.100'), forwarders: [] };
    const first = driver({}, dev);
    const { pid } = await first.ensure(spec);
    await first.close();
    // close() leaves the data plane running
    expect(await isOwnedDnsmasq(pid, dnsmasqPaths(stateDir, 'x').conf)).toBe(true);
    expect(await dhcp(app1)).toBe('10.73.0.10');

    const second = driver({ adoptPollMs: 100 }, dev);
    const events: DhcpDnsEvent[] = [];
    second.events$.subscribe((e) => events.push(e));
    expect(await second.ensure(spec)).toEqual({ pid });
    expect(second.writes.snapshot()).toMatchObject({ dnsmasqStart: 0, dnsmasqReload: 0 });
    const withHost = { ...spec, staticHosts: [...spec.staticHosts, { name: 'nas', ip: '10.73.0.251' }] };
    expect(await second.ensure(withHost)).toEqual({ pid });
    expect(second.writes.snapshot()).toMatchObject({ dnsmasqStart: 0, dnsmasqReload: 1 });
    expect(await eventually('nas resolves', async () => (await lookup(app1, 'nas.x')) === '10.73.0.251')).toBe(true);

    // the adopted process is not our child: its death is noticed by polling, and it is restarted
    process.kill(pid, 'SIGKILL');
    await eventually('exited and started', () => events.length >= 2, 15_000);
    expect(events[0]).toMatchObject({ type: 'exited', ni: 'x', pid });
    expect(events[1]).toMatchObject({ type: 'started', ni: 'x' });
    const pid2 = second.pid('x');
    expect(pid2).not.toBe(pid);
    expect(await lookup(app1, 'nas')).toBe('10.73.0.251');

    // a config change restarts it
    expect((await second.ensure({ ...withHost, mtu: 1400 })).pid).not.toBe(pid2);
    expect(second.writes.snapshot()).toMatchObject({ dnsmasqStart: 2, dnsmasqReload: 1 });

    // the pid edgenet recorded is the truth: a pid file pointed elsewhere changes nothing, and a record naming a
    // PID that is not our dnsmasq (recycled) is never trusted
    await second.close();
    const paths = dnsmasqPaths(stateDir, 'x');
    const running = await findOwnedDnsmasq(stateDir, 'x');
    expect(running).toBeDefined();
    await writeFile(paths.pid, `${process.pid}\n`);
    expect(await findOwnedDnsmasq(stateDir, 'x')).toBe(running);
    const record = await readFile(paths.applied, 'utf8');
    await writeFile(paths.applied, record.replace(/"pid":\d+/, `"pid":${process.pid}`));
    expect(await findOwnedDnsmasq(stateDir, 'x')).toBeUndefined();
    await writeFile(paths.applied, record);
    await writeFile(paths.pid, `${running}\n`);

    // a fresh driver removes what an earlier one left (found by pid file, confirmed by /proc)
    const third = driver({}, dev);
    await third.remove('x');
    expect(await isOwnedDnsmasq(running ?? 0, paths.conf)).toBe(false);
    await expect(stat(paths.dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a state dir that dnsmasq could not re-read after dropping root, naming the directory', async () => {
    const { dev } = await topology();
    const locked = join(tmp, 'locked');
    await mkdir(join(locked, 'state'), { recursive: true, mode: 0o700 });
    await chmod(locked, 0o700);
    const d = createDnsmasqDriver({ stateDir: join(locked, 'state'), exec: ['ip', 'netns', 'exec', dev.name] });
    drivers.push(d);
    await expect(d.ensure(baseSpec('10.74.0.2', '10.73.0.100'))).rejects.toThrow(
      new RegExp(`${locked} \\(mode 700\\) is not searchable by others: dnsmasq drops root`),
    );
    expect(d.pid('x')).toBeUndefined();
    expect(d.writes.snapshot().dnsmasqStart).toBe(0);
  });

  it('runs one dnsmasq per NI side by side, and reports a start failure with dnsmasq\'s reason', async () => {
    const { dev, app1 } = await topology();
    await dev.ip('link', 'add', 'enbr-y', 'type', 'bridge');
    await dev.ip('addr', 'add', '10.75.0.1/24', 'dev', 'enbr-y');
    await dev.ip('link', 'set', 'enbr-y', 'up');
    const d = driver({}, dev);
    const x = baseSpec('10.74.0.2', '10.73.0.100');
    const y: DhcpDnsSpec = {
      ...x,
      ni: 'y',
      bridge: 'enbr-y',
      subnet: '10.75.0.0',
      gateway: '10.75.0.1',
      range: { start: '10.75.0.100', end: '10.75.0.150' },
      staticHosts: [{ name: 'printer', ip: '10.75.0.250' }],
      reservations: [],
    };
    const px = await d.ensure(x);
    const py = await d.ensure(y);
    expect(px.pid).not.toBe(py.pid);
    expect(await dhcp(app1)).toBe('10.73.0.10');
    expect(await lookup(app1, 'printer.x')).toBe('10.73.0.250');
    // each answers only for its own NI (x's app has no route to y's gateway: ask x for y's domain)
    expect(await lookup(app1, 'printer.y')).toBeUndefined();

    const z: DhcpDnsSpec = { ...y, ni: 'z', bridge: 'enbr-nope', gateway: '10.76.0.1', range: { start: '10.76.0.100', end: '10.76.0.150' } };
    const err = await d.ensure(z).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KernelError);
    expect((err as Error).message).toMatch(/^start dnsmasq z failed \(exited at start: dnsmasq: .*(enbr-nope|10\.76\.0\.1)/);
    expect(d.pid('z')).toBeUndefined();
    await d.remove('z');
    await d.remove('y');
    expect(d.pid('x')).toBe(px.pid);
  });
});
