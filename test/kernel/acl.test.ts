// ACLs and anti-spoofing of app interfaces on a local NI, on the real kernel with real traffic.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, onTestFinished } from 'vitest';
import { endpointTag } from '../../src/drivers/firewall-acl.ts';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { dhcpLease, lookup } from '../helpers/dhcp.ts';
import { connects, serveHello } from '../helpers/http.ts';
import { describeKernel, eventually, must, type Netns } from '../helpers/netns.ts';

describeKernel('ACLs and anti-spoofing (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let dev: Netns, web: Netns, db: Netns, evil: Netns, outside: Netns;

  const WEB_ACLS = '[{ match: { protocol: tcp, fport: 80, ip: 192.0.2.0/24 } }]';
  const config = (extra = '', webAcls = WEB_ACLS): string => `ports:
  - { name: up0, ifname: eth1 }
networks:
  - { name: lan, type: local, port: up0, subnet: 10.50.0.0/24, dhcpRange: { start: 10.50.0.100, end: 10.50.0.199 }, dns: { forwarders: [192.168.77.2] } }
apps:
  - name: web
    interfaces:
      - network: lan
        netns: ${web.path}
        ip: 10.50.0.10
        acls: ${webAcls}
  - { name: db, interfaces: [{ network: lan, netns: ${db.path}, ip: 10.50.0.20 }] }
  - { name: evil, interfaces: [{ network: lan, netns: ${evil.path}, ip: 10.50.0.30 }] }
${extra}`;

  const serve = async (ns: Netns, addr: string, port: number): Promise<void> => {
    t.children.push(await serveHello(ns, addr, port));
  };

  beforeEach(async () => {
    ({ dev, web, db, evil, out: outside } = await t.namespaces(['dev', 'web', 'db', 'evil', 'out'], { uplink: true }));
    // a host "behind the port" in 192.0.2.0/24, and one outside it on the same host
    await outside.ip('addr', 'add', '192.0.2.10/24', 'dev', 'eth0');
    await outside.ip('addr', 'add', '192.0.2.11/24', 'dev', 'eth0');
    await outside.ip('addr', 'add', '198.51.100.10/24', 'dev', 'eth0');
    await dev.ip('route', 'add', '192.0.2.0/24', 'via', '192.168.77.2');
    await dev.ip('route', 'add', '198.51.100.0/24', 'via', '192.168.77.2');
    await serve(outside, '192.0.2.10', 80);
    await serve(outside, '192.0.2.10', 22);
    await serve(outside, '192.0.2.11', 80);
    await serve(outside, '198.51.100.10', 80);
  });

  /** The resolver behind the port: answers svc.example with `ip` (restarted to change it). */
  let resolver: ChildProcess | undefined;
  const resolve = async (ip: string): Promise<void> => {
    if (resolver) {
      const old = resolver;
      const gone = new Promise((r) => old.once('exit', r));
      old.kill('SIGKILL');
      await gone;
    }
    resolver = spawn('ip', ['netns', 'exec', outside.name, 'dnsmasq', '--keep-in-foreground', '--no-resolv', '--no-hosts', '--bind-interfaces',
      '--listen-address=192.168.77.2', `--address=/svc.example/${ip}`, '--pid-file=', '--user=root'], { stdio: 'ignore' });
    t.children.push(resolver);
    await eventually('the resolver answering', async () => (await lookup(outside, 'svc.example', '192.168.77.2')) === ip);
  };

  afterEach(async () => {
    resolver = undefined;
  });

  it('allow tcp fport 80 to 192.0.2.0/24: that and DHCP/DNS only; an app without ACLs is unaffected', async () => {
    daemon = await TestDaemon.start(dev, config());
    // DHCP and DNS keep working for the app with ACLs
    expect((await dhcpLease(web)).ip).toBe('10.50.0.10');
    await dhcpLease(db);
    await eventually('outside services', () => connects(db, '192.0.2.10', 80));
    expect(await lookup(db, 'db', '10.50.0.1')).toBe('10.50.0.20');
    // what the rule allows, and nothing else
    expect(await connects(web, '192.0.2.10', 80)).toBe(true);
    expect(await connects(web, '192.0.2.10', 22)).toBe(false);
    expect(await connects(web, '198.51.100.10', 80)).toBe(false);
    expect(await web.ping('192.0.2.10')).toBe(false);
    expect(await web.ping('10.50.0.1')).toBe(false);
    expect(await web.ping('10.50.0.20')).toBe(false);
    // the neighbour without ACLs keeps what its NI allows
    expect(await connects(db, '192.0.2.10', 22)).toBe(true);
    expect(await db.ping('192.0.2.10')).toBe(true);
    expect(await db.ping('10.50.0.1')).toBe(true);
    // status shows web's rules with packet counts (read by the audit)
    const rules = await eventually('counted packets in status', async () => {
      const ep = (await daemon?.status())?.endpoints.find((e) => e.app === 'web');
      const r = ep?.rules;
      return r && (r.find((x) => x.rule === '1')?.packets ?? 0) > 0 && (r.find((x) => x.rule === 'default')?.packets ?? 0) > 0 ? r : undefined;
    }, 5000);
    console.log('web rules:', JSON.stringify(rules));
    expect(rules.map((r) => [r.rule, r.action])).toEqual([
      ['1', 'allow'],
      ['default', 'deny'],
      ['anti-spoofing', 'drop'],
    ]);
    const metrics = await must('curl', ['-s', '--unix-socket', join(daemon.stateDir, 'api.sock'), 'http://edgenet/metrics']);
    expect(metrics).toMatch(/edgenet_acl_packets_total\{ni="lan",app="web",rule="1",action="allow"\} [1-9]/);
  });

  it('anti-spoofing: another app\'s address or a foreign MAC gets nothing through; an app\'s DHCP server leases to no one', async () => {
    daemon = await TestDaemon.start(dev, config());
    await dhcpLease(evil);
    expect(await evil.ping('10.50.0.1')).toBe(true);
    // evil takes db's address: nothing gets through, to the gateway or out
    await evil.ip('addr', 'flush', 'dev', 'eth0');
    await evil.ip('addr', 'add', '10.50.0.20/24', 'dev', 'eth0');
    await evil.ip('route', 'add', 'default', 'via', '10.50.0.1');
    expect(await evil.ping('10.50.0.1')).toBe(false);
    expect(await evil.ping('192.168.77.2')).toBe(false);
    // its own address back, but a foreign MAC: nothing either
    await evil.ip('addr', 'flush', 'dev', 'eth0');
    await evil.ip('addr', 'add', '10.50.0.30/24', 'dev', 'eth0');
    await evil.ip('route', 'add', 'default', 'via', '10.50.0.1');
    expect(await evil.ping('10.50.0.1')).toBe(true);
    const mac = (await evil.ip('-br', 'link', 'show', 'eth0')).split(/\s+/)[2] ?? '';
    await evil.ip('link', 'set', 'eth0', 'address', '02:aa:bb:cc:dd:ee');
    expect(await evil.ping('10.50.0.1')).toBe(false);
    await evil.ip('link', 'set', 'eth0', 'address', mac);
    expect(await evil.ping('10.50.0.1')).toBe(true);

    // evil runs a DHCP server on its interface: db still gets its lease from the NI's dnsmasq, every time
    const dir = await mkdtemp(join(tmpdir(), 'edgenet-evil-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'leases'), '');
    t.children.push(
      spawn('ip', ['netns', 'exec', evil.name, 'dnsmasq', '--keep-in-foreground', '--no-resolv', '--no-hosts', '--port=0', '--bind-interfaces', '--interface=eth0',
        '--dhcp-range=10.50.0.50,10.50.0.60,1h', '--dhcp-authoritative', `--dhcp-leasefile=${join(dir, 'leases')}`, '--pid-file=', '--user=root'], { stdio: 'ignore' }),
    );
    await eventually('the rogue DHCP server listening', async () => (await evil.must('ss', ['-lun'])).includes(':67 '));
    for (let i = 0; i < 3; i++) expect((await dhcpLease(db)).ip).toBe('10.50.0.20');
    const spoof = await eventually('anti-spoofing drops counted', async () => {
      const r = (await daemon?.status())?.endpoints.find((e) => e.app === 'evil')?.rules?.find((x) => x.rule === 'anti-spoofing');
      return r && r.packets > 0 ? r : undefined;
    }, 5000);
    console.log('evil anti-spoofing drops:', spoof.packets);

    // DHCP hostnames are not published: evil asking for "wpad" or its neighbour's name claims nothing
    for (const name of ['wpad', 'db']) {
      await evil.exec('busybox', ['udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '5', '-T', '1', '-s', '/bin/true', '-x', `hostname:${name}`], { timeoutMs: 20_000 });
    }
    expect(await lookup(db, 'wpad', '10.50.0.1')).toBeUndefined();
    expect(await lookup(db, 'db', '10.50.0.1')).toBe('10.50.0.20');
    expect(await lookup(db, 'evil', '10.50.0.1')).toBe('10.50.0.30');
  });

  it('host rule: the app reaches the address its lookup gave, not a neighbour on the same host, and follows a change', async () => {
    await resolve('192.0.2.10');
    daemon = await TestDaemon.start(dev, config('', '[{ match: { host: svc.example, protocol: tcp, fport: 80 } }]'));
    await dhcpLease(web);
    await dhcpLease(db);
    await eventually('outside services', () => connects(db, '192.0.2.11', 80));
    // before any lookup: nothing
    expect(await connects(web, '192.0.2.10', 80)).toBe(false);
    expect(await lookup(web, 'svc.example', '10.50.0.1')).toBe('192.0.2.10');
    expect(await connects(web, '192.0.2.10', 80)).toBe(true);
    expect(await connects(web, '192.0.2.11', 80)).toBe(false);
    // the name moves to the neighbour address: after the next lookup the rule follows
    await resolve('192.0.2.11');
    expect(await eventually('the new address through the NI', async () => (await lookup(web, 'svc.example', '10.50.0.1')) === '192.0.2.11')).toBe(true);
    expect(await connects(web, '192.0.2.11', 80)).toBe(true);
    const set = await dev.must('nft', ['list', 'table', 'inet', 'edgenet']);
    console.log('host set:', set.split('\n').filter((l) => l.includes('elements')).join(' | '));
  });

  it('limit 10/s: a 100-packet flood gets through at about that rate', async () => {
    daemon = await TestDaemon.start(dev, config('', '[{ match: { protocol: icmp }, action: limit, limit: { rate: 10, unit: second, burst: 10 } }]'));
    await dhcpLease(web);
    const t0 = Date.now();
    const r = await web.exec('ping', ['-c', '100', '-i', '0.02', '-W', '1', '-q', '192.168.77.2'], { timeoutMs: 30_000 });
    const seconds = (Date.now() - t0) / 1000;
    const received = Number(/(\d+) received/.exec(r.stdout)?.[1] ?? -1);
    console.log(`limit 10/s burst 10: ${received} of 100 echo requests answered in ${seconds.toFixed(1)} s (${(received / seconds).toFixed(1)}/s)`);
    // 100 packets over ~2 s: the burst (10) plus ~10/s
    expect(received).toBeGreaterThanOrEqual(15);
    expect(received).toBeLessThanOrEqual(45);
    const limit = await eventually('limit counted', async () => {
      const x = (await daemon?.status())?.endpoints.find((e) => e.app === 'web')?.rules?.find((y) => y.rule === '1');
      return x && x.packets >= received ? x : undefined;
    }, 5000);
    expect(limit.action).toBe('limit');
  });

  it('an app removed while edgenet is down: its rules are swept at the next start, the others stay', async () => {
    daemon = await TestDaemon.start(dev, config());
    const table = async (): Promise<string> => (await dev.must('nft', ['list', 'ruleset'])) ;
    expect(await table()).toContain(`edgenet ep=${endpointTag('evil/lan')}`);
    await daemon.stop('SIGKILL');
    const text = await readFile(daemon.configPath, 'utf8');
    await writeFile(daemon.configPath, text.split('\n').filter((l) => !l.includes('name: evil')).join('\n'));
    await daemon.restart();
    const after = await table();
    expect(after).not.toContain(`edgenet ep=${endpointTag('evil/lan')}`);
    expect(after).toContain(`edgenet ep=${endpointTag('db/lan')}`);
    expect(after).toContain(`ep-${endpointTag('web/lan')}-out`);
    expect((await dhcpLease(web)).ip).toBe('10.50.0.10');
    expect(await connects(web, '192.0.2.10', 80)).toBe(true);
  });
});
