// Names and what apps are told, on the real kernel: upstream DNS through the NI's own port (pinned to it), DHCP
// options (DNS, NTP, domain, classless routes; nothing on a port-less NI), static entries with FQDNs and several
// addresses, `router`, and a port's resolv file that changes under a running NI.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { dhcpLease, lookup, lookupAll } from '../helpers/dhcp.ts';
import { describeKernel, eventually, type Netns } from '../helpers/netns.ts';

const UNIQUE = 'only-upstream.example';
const UNIQUE_IP = '198.51.100.9';

describeKernel('names and DHCP options of local NIs (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let resolver: ChildProcess | undefined;
  let dir: string;
  let dev: Netns, web: Netns, lone: Netns, outside: Netns;

  beforeEach(async () => {
    ({ dev, web, lone, out: outside } = await t.namespaces(['dev', 'web', 'lone', 'out'], { uplink: true }));
    dir = await mkdtemp(join(tmpdir(), 'edgenet-dns-'));
    await chmod(dir, 0o755);
    // the resolver behind the port: the only place that knows UNIQUE; it logs each query with its source address
    resolver = spawn('ip', ['netns', 'exec', outside.name, 'dnsmasq', '--keep-in-foreground', '--no-resolv', '--no-hosts', '--bind-interfaces',
      '--listen-address=192.168.77.2', `--address=/${UNIQUE}/${UNIQUE_IP}`, '--log-queries', `--log-facility=${join(dir, 'resolver.log')}`,
      '--pid-file=', '--user=root'], { stdio: 'ignore' });
  });

  afterEach(async () => {
    if (resolver?.pid) resolver.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  const resolverLog = (): Promise<string> => readFile(join(dir, 'resolver.log'), 'utf8').catch(() => '');

  it('resolves through the port\'s own DNS server, pinned to the port; a port-less NI has no upstream', async () => {
    daemon = await TestDaemon.start(dev, `ports:
  - { name: up0, ifname: eth1, dns: [192.168.77.2] }
networks:
  - { name: lan, type: local, port: up0, subnet: 10.50.0.0/24 }
  - { name: iso, type: local, subnet: 10.60.0.0/24 }
apps:
  - { name: web, interfaces: [{ network: lan, netns: ${web.path}, ip: 10.50.0.10 }] }
  - { name: lone, interfaces: [{ network: iso, netns: ${lone.path}, ip: 10.60.0.10 }] }
`);
    const conf = await readFile(join(daemon.stateDir, 'lan', 'servers'), 'utf8');
    expect(conf).toBe('server=192.168.77.2@eth1\n');
    const lease = await dhcpLease(web);
    expect(lease).toMatchObject({ router: '10.50.0.1', dns: '10.50.0.1' });
    expect(await lookup(web, UNIQUE, '10.50.0.1')).toBe(UNIQUE_IP);
    // the query reached the resolver from the device's address on the port
    expect(await resolverLog()).toMatch(new RegExp(`query\\[A\\] ${UNIQUE.replace('.', '\\.')} from 192\\.168\\.77\\.1`));
    // the port-less NI: no upstream at all, and status says so
    expect(await lookup(lone, UNIQUE, '10.60.0.1')).toBeUndefined();
    const s = await daemon.status();
    expect(s.networks.find((n) => n.name === 'lan')?.upstreamDns).toEqual({ from: 'ports', servers: ['192.168.77.2@eth1'] });
    expect(s.networks.find((n) => n.name === 'iso')?.upstreamDns).toMatchObject({ from: 'none', servers: [], note: expect.stringContaining('no port') });
  });

  it('tells apps the configured DNS, NTP, domain and routes; a port-less NI without routes gets no router and no DNS', async () => {
    daemon = await TestDaemon.start(dev, `ports:
  - { name: up0, ifname: eth1 }
networks:
  - name: lan
    type: local
    port: up0
    subnet: 10.50.0.0/24
    dhcp: { dns: [10.50.0.1, 10.50.0.2], ntp: [10.50.0.3, 192.168.77.2], domain: plant.example }
    routes: [{ to: 10.70.0.0/16, via: 10.50.0.20 }, { to: 172.16.0.0/12, via: 192.168.77.2 }]
  - { name: iso, type: local, subnet: 10.60.0.0/24 }
apps:
  - { name: web, interfaces: [{ network: lan, netns: ${web.path}, ip: 10.50.0.10 }] }
  - { name: lone, interfaces: [{ network: iso, netns: ${lone.path}, ip: 10.60.0.10 }] }
`);
    const lease = await dhcpLease(web);
    expect(lease.router).toBe('10.50.0.1');
    expect(lease.options['dns']).toEqual(['10.50.0.1', '10.50.0.2']);
    expect(lease.options['ntpsrv']).toEqual(['10.50.0.3', '192.168.77.2']);
    expect(lease.options['domain']).toEqual(['plant.example']);
    expect(lease.options['search']).toEqual(['plant.example']);
    // an app-gateway's route via the app; a route via a router on the port's subnet via the NI's gateway; the default last
    const routes = ['10.70.0.0/16', '10.50.0.20', '172.16.0.0/12', '10.50.0.1', '0.0.0.0/0', '10.50.0.1'];
    expect(lease.options['staticroutes']).toEqual(routes);
    expect(lease.options['msstaticroutes']).toEqual(routes);
    expect(await web.ip('route', 'show')).toMatch(/10\.70\.0\.0\/16 via 10\.50\.0\.20/);

    const loneLease = await dhcpLease(lone);
    expect(loneLease).toMatchObject({ ip: '10.60.0.10', router: '', dns: '' });
    expect(loneLease.options['staticroutes']).toEqual([]);
    expect(await lone.ip('route', 'show')).not.toMatch(/default/);
  });

  it('resolves the same way for an EVE document whose NIs tell apps their gateway as DNS server (ip.dns)', async () => {
    const eve = JSON.parse(await readFile(new URL('../fixtures/eve/dns-routes.json', import.meta.url), 'utf8')) as { apps: unknown[] };
    const adapter = (network: string, mac: string) => ({ name: 'eth0', networkId: network, macAddress: mac, acls: [{ matches: [{ type: 'ip', value: '0.0.0.0/0' }] }] });
    eve.apps = [
      { uuidandversion: { uuid: 'c0000000-0000-4000-8000-0000000000c1', version: '1' }, displayname: 'web', activate: true, interfaces: [adapter('a1b2c3d4-0001-4000-8000-0000000000a1', '02:16:3e:00:00:21')] },
      { uuidandversion: { uuid: 'c0000000-0000-4000-8000-0000000000c2', version: '1' }, displayname: 'lone', activate: true, interfaces: [adapter('a1b2c3d4-0002-4000-8000-0000000000a2', '02:16:3e:00:00:22')] },
    ];
    daemon = await TestDaemon.start(dev, JSON.stringify(eve, null, 2));
    const s = await daemon.status();
    expect(s.networks.find((n) => n.name === 'plant-lan')?.upstreamDns).toEqual({ from: 'ports', servers: ['192.168.77.2@eth1'] });
    // the hypervisor's taps, played by veths whose far ends are the VMs' NICs
    const taps = s.eve?.names.taps ?? [];
    for (const [app, ns, mac] of [['web', web, '02:16:3e:00:00:21'], ['lone', lone, '02:16:3e:00:00:22']] as const) {
      const ifname = taps.find((t) => t.app === app)?.ifname ?? '';
      await dev.ip('link', 'add', ifname, 'type', 'veth', 'peer', 'name', 'eth0', 'address', mac, 'netns', ns.name);
      await ns.ip('link', 'set', 'eth0', 'up');
      await eventually(`${app}'s tap attached`, async () => (await daemon?.status())?.endpoints.find((e) => e.app === app)?.state === 'ready');
    }
    const lease = await dhcpLease(web);
    expect(lease).toMatchObject({ router: '10.50.0.1', dns: '10.50.0.1' });
    expect(lease.options['domain']).toEqual(['plant.example']);
    expect(lease.options['ntpsrv']).toEqual(['10.50.0.3', '192.168.77.2']);
    expect(await lookup(web, UNIQUE, lease.dns)).toBe(UNIQUE_IP);
    expect(await resolverLog()).toMatch(new RegExp(`query\\[A\\] ${UNIQUE.replace('.', '\\.')} from 192\\.168\\.77\\.1`));
    expect((await lookupAll(web, 'historian.plant.example', '10.50.0.1')).sort()).toEqual(['10.50.0.30', '10.50.0.31']);
    // the port-less Lab NI tells its gateway as DNS server (ip.dns), which knows no upstream
    const loneLease = await dhcpLease(lone);
    expect(loneLease).toMatchObject({ router: '', dns: '10.60.0.1' });
    expect(await lookup(lone, UNIQUE, '10.60.0.1')).toBeUndefined();
  });

  it('answers an FQDN static entry with both its addresses, and router with the gateway', async () => {
    daemon = await TestDaemon.start(dev, `ports:
  - { name: up0, ifname: eth1 }
networks:
  - name: lan
    type: local
    port: up0
    subnet: 10.50.0.0/24
    dns: { hosts: [{ name: historian.plant.example, ips: [10.50.0.30, 10.50.0.31] }, { name: printer, ip: 10.50.0.250 }] }
apps:
  - { name: web, interfaces: [{ network: lan, netns: ${web.path}, ip: 10.50.0.10 }] }
`);
    await dhcpLease(web);
    expect((await lookupAll(web, 'historian.plant.example', '10.50.0.1')).sort()).toEqual(['10.50.0.30', '10.50.0.31']);
    expect(await lookup(web, 'router', '10.50.0.1')).toBe('10.50.0.1');
    expect(await lookup(web, 'printer.lan', '10.50.0.1')).toBe('10.50.0.250');
  });

  it('learns a port\'s servers from its resolv file and reloads only the dnsmasq of the NIs on that port when it changes', async () => {
    const resolv = join(dir, 'resolv.eth1.conf');
    await writeFile(resolv, 'nameserver 192.168.77.9\n');
    daemon = await TestDaemon.start(dev, `ports:
  - { name: up0, ifname: eth1, resolvConf: ${resolv} }
networks:
  - { name: lan, type: local, port: up0, subnet: 10.50.0.0/24 }
  - { name: iso, type: local, subnet: 10.60.0.0/24 }
apps:
  - { name: web, interfaces: [{ network: lan, netns: ${web.path}, ip: 10.50.0.10 }] }
`);
    await dhcpLease(web);
    const before = await daemon.status();
    const pidOf = (s: typeof before, ni: string): number | undefined => s.networks.find((n) => n.name === ni)?.dnsmasqPid;
    expect(before.networks.find((n) => n.name === 'lan')?.upstreamDns?.servers).toEqual(['192.168.77.9@eth1']);
    expect(await lookup(web, UNIQUE, '10.50.0.1')).toBeUndefined();
    // the port's DHCP client writes its file anew (temp + rename)
    await writeFile(`${resolv}.tmp`, '# written by the port\'s DHCP client\nnameserver 192.168.77.2\n');
    await import('node:fs/promises').then((fs) => fs.rename(`${resolv}.tmp`, resolv));
    await eventually('lan to forward to the new server', async () => (await lookup(web, UNIQUE, '10.50.0.1')) === UNIQUE_IP, 15_000, 200);
    const after = await daemon.status();
    expect(after.networks.find((n) => n.name === 'lan')?.upstreamDns?.servers).toEqual(['192.168.77.2@eth1']);
    // a reload (SIGHUP), not a restart: same processes, and the other NI untouched
    expect(pidOf(after, 'lan')).toBe(pidOf(before, 'lan'));
    expect(pidOf(after, 'iso')).toBe(pidOf(before, 'iso'));
    expect(after.writes.dnsmasqStart).toBe(before.writes.dnsmasqStart);
  });
});
