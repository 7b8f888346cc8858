// Local (L3) network instance on the real kernel: DHCP and DNS from dnsmasq, NAT out of the port, isolation.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { dhcpLease, lookup } from '../helpers/dhcp.ts';
import { describeKernel, eventually, type Netns } from '../helpers/netns.ts';

describeKernel('local network instance (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let resolver: ChildProcess | undefined;
  let dev: Netns, web: Netns, db: Netns, lone: Netns, outside: Netns;

  const apps = {
    web: () => `  - { name: web, interfaces: [{ network: lan, netns: ${web.path}, ip: 10.50.0.10 }] }\n`,
    db: () => `  - { name: db, interfaces: [{ network: lan, netns: ${db.path} }] }\n`,
    lone: () => `  - { name: lone, interfaces: [{ network: iso, netns: ${lone.path} }] }\n`,
  };
  const isoNet = `  - { name: iso, type: local, subnet: 10.60.0.0/24 }\n`;
  const config = (parts: { db?: boolean; iso?: boolean } = {}): string =>
    `ports:
  - { name: up0, ifname: eth1 }
networks:
  - name: lan
    type: local
    port: up0
    subnet: 10.50.0.0/24
    dhcpRange: { start: 10.50.0.100, end: 10.50.0.199 }
    dns: { forwarders: [192.168.77.2], hosts: [{ name: printer, ip: 10.50.0.250 }] }
${parts.iso === false ? '' : isoNet}apps:
${apps.web()}${parts.db === false ? '' : apps.db()}${parts.iso === false ? '' : apps.lone()}`;

  beforeEach(async () => {
    ({ dev, web, db, lone, out: outside } = await t.namespaces(['dev', 'web', 'db', 'lone', 'out'], { uplink: true }));
    // an upstream resolver on the outside host, which the NI's dnsmasq forwards to
    resolver = spawn('ip', ['netns', 'exec', outside.name, 'dnsmasq', '--keep-in-foreground', '--no-resolv', '--no-hosts', '--bind-interfaces',
      '--listen-address=192.168.77.2', '--address=/ext.example/198.51.100.7', '--pid-file=', '--user=root'], { stdio: 'ignore' });
  });

  afterEach(async () => {
    if (resolver?.pid) resolver.kill('SIGKILL');
  });

  it('serves DHCP and DNS, NATs out of the port and keeps the outside and other NIs out', async () => {
    daemon = await TestDaemon.start(dev, config());
    const s = await daemon.status();
    expect(s.networks.map((n) => [n.name, n.state])).toEqual([
      ['iso', 'ready'],
      ['lan', 'ready'],
    ]);
    expect(s.networks.find((n) => n.name === 'lan')).toMatchObject({ subnet: '10.50.0.0/24', gateway: '10.50.0.1', bridge: 'enbr-lan' });

    // leases: the static ip is what web gets; db gets its reservation from the range; the router is the gateway
    const webLease = await dhcpLease(web);
    expect(webLease).toMatchObject({ ip: '10.50.0.10', router: '10.50.0.1', dns: '10.50.0.1' });
    const dbLease = await dhcpLease(db);
    const dbIp = s.endpoints.find((e) => e.app === 'db')?.ip;
    expect(dbLease.ip).toBe(dbIp);
    expect(dbLease.ip).toMatch(/^10\.50\.0\.1\d\d$/);
    const loneLease = await dhcpLease(lone);
    // status shows the leases dnsmasq handed out
    const leases = (await daemon.status()).networks.find((n) => n.name === 'lan')?.leases ?? [];
    expect(leases.map((l) => l.ip).sort()).toEqual([dbLease.ip, '10.50.0.10'].sort());
    expect(loneLease.ip).toMatch(/^10\.60\.0\./);

    // the gateway and each other
    expect(await web.ping('10.50.0.1')).toBe(true);
    expect(await web.ping(dbLease.ip)).toBe(true);
    // names: app, app.ni, a static entry, and the outside through the forwarder
    expect(await lookup(web, 'db', '10.50.0.1')).toBe(dbLease.ip);
    expect(await lookup(db, 'web.lan', '10.50.0.1')).toBe('10.50.0.10');
    expect(await lookup(web, 'printer', '10.50.0.1')).toBe('10.50.0.250');
    expect(await lookup(web, 'ext.example', '10.50.0.1')).toBe('198.51.100.7');

    // NAT: web reaches the outside host, which has no route back to 10.50.0.0/24
    expect(await web.ping('192.168.77.2')).toBe(true);
    // nothing gets in: even with a route to the subnet, the outside cannot open a connection to the app
    await outside.ip('route', 'add', '10.50.0.0/24', 'via', '192.168.77.1');
    expect(await outside.ping('10.50.0.10')).toBe(false);
    // an NI without a port reaches nothing outside; NIs cannot reach each other
    expect(await lone.ping('192.168.77.2')).toBe(false);
    expect(await lone.ping('10.50.0.10')).toBe(false);
    expect(await web.ping(loneLease.ip)).toBe(false);
    // ip_forward was set in the device namespace only because a local NI has a port
    expect((await dev.must('cat', ['/proc/sys/net/ipv4/ip_forward'])).trim()).toBe('1');
  });

  it('restarts a killed dnsmasq: the NI goes degraded, then ready with a new dnsmasq, and leases work', async () => {
    daemon = await TestDaemon.start(dev, config({ iso: false }));
    await dhcpLease(web);
    const pid = (await daemon.status()).networks.find((n) => n.name === 'lan')?.dnsmasqPid;
    expect(pid).toBeGreaterThan(0);
    const seen: string[] = [];
    const ac = new AbortController();
    const events = daemon.api.events((t) => {
      if (t.kind === 'network' && t.name === 'lan') seen.push(`${t.from}->${t.to}`);
    }, ac.signal);
    await new Promise((r) => setTimeout(r, 200));
    process.kill(pid as number, 'SIGKILL');
    const next = await eventually('a new dnsmasq and lan ready', async () => {
      const n = (await daemon?.status())?.networks.find((x) => x.name === 'lan');
      return n?.state === 'ready' && n.dnsmasqPid !== undefined && n.dnsmasqPid !== pid ? n : undefined;
    });
    expect(next.dnsmasqPid).not.toBe(pid);
    await eventually('degraded then ready in the events', () => seen.includes('ready->degraded') && seen.includes('degraded->ready'), 3000);
    ac.abort();
    await events;
    expect((await dhcpLease(web)).ip).toBe('10.50.0.10');
    expect(await lookup(web, 'db', '10.50.0.1')).toMatch(/^10\.50\.0\.1\d\d$/);
  });

  it('gives a removed and re-added app its address back; removing an NI removes only its objects', async () => {
    daemon = await TestDaemon.start(dev, config());
    await dhcpLease(web);
    const first = await dhcpLease(db);
    await daemon.apply(config({ db: false }));
    expect(await lookup(web, 'db', '10.50.0.1')).toBeUndefined();
    await daemon.apply(config());
    expect((await dhcpLease(db)).ip).toBe(first.ip);

    const rulesBefore = await dev.must('nft', ['list', 'table', 'inet', 'edgenet']);
    expect(rulesBefore).toContain('enbr-iso');
    const isoPid = (await daemon.status()).networks.find((n) => n.name === 'iso')?.dnsmasqPid;
    const lanPid = (await daemon.status()).networks.find((n) => n.name === 'lan')?.dnsmasqPid;
    await daemon.apply(config({ iso: false }));
    const links = await dev.ip('-o', 'link', 'show');
    expect(links).not.toContain('enbr-iso');
    expect(links).toContain('enbr-lan');
    const rulesAfter = await dev.must('nft', ['list', 'table', 'inet', 'edgenet']);
    expect(rulesAfter).not.toContain('enbr-iso');
    expect(rulesAfter).toContain('enbr-lan');
    expect(() => process.kill(isoPid as number, 0)).toThrow();
    expect((await daemon.status()).networks.find((n) => n.name === 'lan')?.dnsmasqPid).toBe(lanPid);
    expect(await web.ping('192.168.77.2')).toBe(true);
  });
});
