import { describe, expect, it } from 'vitest';
import type { DhcpDnsSpec } from '../../src/drivers/dhcpdns.ts';
import { lanSpec } from '../fixtures/dhcpdns-spec.ts';
import { dnsmasqPaths, parseLeases, renderDnsmasqFiles, withoutLease } from '../../src/drivers/dhcpdns-dnsmasq.ts';
import { ConfigError } from '../../src/errors.ts';

const spec: DhcpDnsSpec = lanSpec({
  mtu: 1400,
  forwarders: ['1.1.1.1', '9.9.9.9#5353'],
  staticHosts: [{ name: 'printer', ip: '10.50.0.250' }],
  reservations: [
  { name: 'web', mac: '02:AA:00:00:00:01', ip: '10.50.0.10' },
  { name: 'db', mac: '02:aa:00:00:00:02', ip: '10.50.0.100' },
  ],
});
const paths = dnsmasqPaths('/run/edgenet', 'lan');

describe('renderDnsmasqFiles', () => {
  it('puts the conf file and the bridge on the command line', () => {
    expect(renderDnsmasqFiles(spec, paths).args).toEqual([
      '--keep-in-foreground',
      '--conf-file=/run/edgenet/lan/dnsmasq.conf',
      '--interface=enbr-lan',
    ]);
  });

  it('renders the conf: bound to the bridge, forwarders, range, files under the state dir, options 3/6/26', () => {
    const lines = renderDnsmasqFiles(spec, paths).conf.split('\n');
    for (const l of [
      'bind-interfaces',
      'except-interface=lo',
      'listen-address=10.50.0.1',
      'no-hosts',
      'no-resolv',
      'servers-file=/run/edgenet/lan/servers',
      'domain=lan',
      'local=/lan/',
      'dhcp-authoritative',
      'dhcp-range=10.50.0.100,10.50.0.199,255.255.255.0,1h',
      'dhcp-leasefile=/run/edgenet/lan/leases',
      'dhcp-hostsdir=/run/edgenet/lan/dhcp-hosts.d',
      'hostsdir=/run/edgenet/lan/hosts.d',
      'addn-hosts=/run/edgenet/lan/hosts',
      'pid-file=/run/edgenet/_dnsmasq-pids/lan.pid',
      'dhcp-option=3,10.50.0.1',
      'dhcp-option=6,10.50.0.1',
      'dhcp-option=26,1400',
    ]) {
      expect(lines).toContain(l);
    }
    const noMtu = renderDnsmasqFiles({ ...spec, mtu: undefined }, paths).conf;
    expect(noMtu).not.toContain('dhcp-option=26');
  });

  it('renders reservations and static hosts, sorted, so order does not matter', () => {
    const f = renderDnsmasqFiles(spec, paths);
    expect(f.dhcpHosts).toBe('02:aa:00:00:00:01,10.50.0.10,web\n02:aa:00:00:00:02,10.50.0.100,db\n');
    expect(f.hosts).toBe('10.50.0.10 web web.lan\n10.50.0.100 db db.lan\n10.50.0.250 printer printer.lan\n');
    // one file per reservation (named by its MAC) in each dir; the hosts file holds the static names alone
    expect(f.entries).toEqual([
      { name: '02-aa-00-00-00-01', hosts: '10.50.0.10 web web.lan\n', dhcp: '02:aa:00:00:00:01,10.50.0.10,web\n' },
      { name: '02-aa-00-00-00-02', hosts: '10.50.0.100 db db.lan\n', dhcp: '02:aa:00:00:00:02,10.50.0.100,db\n' },
    ]);
    expect(f.staticHosts).toBe('10.50.0.250 printer printer.lan\n');
    const reordered = renderDnsmasqFiles({ ...spec, reservations: [...spec.reservations].reverse() }, paths);
    expect(reordered).toEqual(f);
  });

  it('separates reload changes (hosts files) from restart changes (args, conf)', () => {
    const base = renderDnsmasqFiles(spec, paths);
    const moreHosts = renderDnsmasqFiles({ ...spec, staticHosts: [...spec.staticHosts, { name: 'nas', ip: '10.50.0.251' }] }, paths);
    expect(moreHosts.conf).toBe(base.conf);
    expect(moreHosts.args).toEqual(base.args);
    expect(moreHosts.hosts).not.toBe(base.hosts);
    // upstream servers are in the servers file, which dnsmasq re-reads on SIGHUP
    const newFwd = renderDnsmasqFiles({ ...spec, forwarders: ['8.8.8.8'] }, paths);
    expect(newFwd.conf).toBe(base.conf);
    expect(newFwd.servers).not.toBe(base.servers);
    const newOptions = renderDnsmasqFiles({ ...spec, dhcp: { router: '10.50.0.1', dns: ['10.50.0.1'], ntp: ['10.50.0.2'], routes: [] } }, paths);
    expect(newOptions.conf).not.toBe(base.conf);
    const newBridge = renderDnsmasqFiles({ ...spec, bridge: 'enbr-x' }, paths);
    expect(newBridge.args).not.toEqual(base.args);
  });

  it.each([
    ['ni', { ni: '../etc' }, /ni: must be a DNS label/],
    ['bridge', { bridge: 'a b' }, /bridge: must be an interface name/],
    ['gateway', { gateway: '10.50.0.1\naddress=/#/6.6.6.6' }, /gateway: must be an IPv4 address/],
    ['forwarder', { forwarders: ['dns.google'] }, /forwarders\[0\]: must be an IP address/],
    ['static host', { staticHosts: [{ name: 'bad name', ip: '10.0.0.1' }] }, /staticHosts\[0\]\.name: must be a DNS name/],
    ['mac', { reservations: [{ name: 'a', mac: '02:00', ip: '10.50.0.2' }] }, /reservations\[0\]\.mac: must be a MAC address/],
    [
      'duplicate mac',
      {
        reservations: [
          { name: 'a', mac: '02:00:00:00:00:01', ip: '10.50.0.2' },
          { name: 'b', mac: '02:00:00:00:00:01', ip: '10.50.0.3' },
        ],
      },
      /reservations\[1\]\.mac: 02:00:00:00:00:01 is reserved twice/,
    ],
    ['prefixlen', { prefixlen: 33 }, /prefixlen: must be 1\.\.30/],
    ['upstream ip', { upstream: [{ ip: '1.1.1.1\nserver=6.6.6.6', ifname: 'eth1' }] }, /upstream\[0\]\.ip: must be an IPv4 address/],
    ['upstream ifname', { upstream: [{ ip: '1.1.1.1', ifname: 'eth 1' }] }, /upstream\[0\]\.ifname: must be an interface name/],
    ['DHCP DNS server', { dhcp: { dns: ['ns1'], ntp: [], routes: [] } }, /dhcp\.dns\[0\]: must be an IPv4 address/],
    ['DHCP domain', { dhcp: { dns: [], ntp: [], domain: 'a b', routes: [] } }, /dhcp\.domain: must be a DNS name/],
    ['DHCP route', { dhcp: { dns: [], ntp: [], routes: [{ to: '10.0.0.0/33', via: '10.50.0.5' }] } }, /dhcp\.routes\[0\]\.to: must be an IPv4 prefix/],
  ])('rejects a bad %s with a ConfigError naming the field', (_what, patch, why) => {
    const bad = { ...spec, ...patch } as DhcpDnsSpec;
    expect(() => renderDnsmasqFiles(bad, paths)).toThrow(ConfigError);
    expect(() => renderDnsmasqFiles(bad, paths)).toThrow(why);
  });
});

describe('leases', () => {
  const file = [
    '1700000000 02:aa:00:00:00:01 10.50.0.10 web 01:02:aa:00:00:00:01',
    '0 02:AA:00:00:00:02 10.50.0.100 * *',
    'duid 00:01:00:01:2c:00:00:00:02:aa:00:00:00:03',
    '',
  ].join('\n');

  it('parses dnsmasq lease lines (IPv4), lower-casing MACs', () => {
    expect(parseLeases(file)).toEqual([
      { mac: '02:aa:00:00:00:01', ip: '10.50.0.10', hostname: 'web', expires: 1700000000 },
      { mac: '02:aa:00:00:00:02', ip: '10.50.0.100', expires: 0 },
    ]);
  });

  it('drops one MAC and keeps the other lines as they were', () => {
    const out = withoutLease(file, '02:aa:00:00:00:02');
    expect(out).toBe(
      ['1700000000 02:aa:00:00:00:01 10.50.0.10 web 01:02:aa:00:00:00:01', 'duid 00:01:00:01:2c:00:00:00:02:aa:00:00:00:03', ''].join('\n'),
    );
  });
});

describe('DHCP options and upstream servers', () => {
  const lines = (s: DhcpDnsSpec): string[] => renderDnsmasqFiles(s, paths).conf.split('\n');

  it('pins each port server to its port and keeps forwarders unpinned, in the servers file', () => {
    const f = renderDnsmasqFiles(lanSpec({ forwarders: ['1.1.1.1'], upstream: [{ ip: '192.168.77.2', ifname: 'eth1' }] }), paths);
    expect(f.servers).toBe('server=1.1.1.1\nserver=192.168.77.2@eth1\n');
    expect(f.conf).not.toContain('server=');
  });

  it('sends no router and no DNS server when told so (empty options), and NTP, domain and search list when given', () => {
    const bare = lines(lanSpec({ dhcp: { dns: [], ntp: [], routes: [] } }));
    expect(bare).toContain('dhcp-option=3');
    expect(bare).toContain('dhcp-option=6');
    expect(bare.some((l) => /^dhcp-option=(42|15|119|121|249),/.test(l))).toBe(false);
    const full = lines(lanSpec({ dhcp: { router: '10.50.0.1', dns: ['10.50.0.1', '10.50.0.2'], ntp: ['10.50.0.3'], domain: 'plant.example', routes: [] } }));
    expect(full).toEqual(expect.arrayContaining([
      'dhcp-option=3,10.50.0.1',
      'dhcp-option=6,10.50.0.1,10.50.0.2',
      'dhcp-option=42,10.50.0.3',
      'dhcp-option=15,plant.example',
      'dhcp-option=119,plant.example',
    ]));
  });

  it('offers classless routes as 121 and 249; the app-gateway of a route is tagged and not offered routes via itself', () => {
    const routes = [{ to: '10.60.0.0/24', via: '10.50.0.5' }, { to: '0.0.0.0/0', via: '10.50.0.1' }];
    const f = renderDnsmasqFiles(
      lanSpec({
        dhcp: { router: '10.50.0.1', dns: ['10.50.0.1'], ntp: [], routes },
        reservations: [{ name: 'g', mac: '02:00:00:00:00:05', ip: '10.50.0.5' }, { name: 'c', mac: '02:00:00:00:00:06', ip: '10.50.0.6' }],
      }),
      paths,
    );
    const conf = f.conf.split('\n');
    for (const code of [121, 249]) {
      expect(conf).toContain(`dhcp-option=tag:!gw-10-50-0-5,${code},10.60.0.0/24,10.50.0.5,0.0.0.0/0,10.50.0.1`);
      expect(conf).toContain(`dhcp-option=tag:gw-10-50-0-5,${code},0.0.0.0/0,10.50.0.1`);
    }
    expect(f.dhcpHosts).toBe('02:00:00:00:00:05,set:gw-10-50-0-5,10.50.0.5,g\n02:00:00:00:00:06,10.50.0.6,c\n');
  });

  it('serves a name with several addresses and FQDNs as they are', () => {
    const f = renderDnsmasqFiles(lanSpec({ staticHosts: [{ name: 'svc.plant.example', ip: '10.50.0.30' }, { name: 'svc.plant.example', ip: '10.50.0.31' }, { name: 'router', ip: '10.50.0.1' }] }), paths);
    expect(f.hosts).toBe('10.50.0.1 router router.lan\n10.50.0.30 svc.plant.example\n10.50.0.31 svc.plant.example\n');
  });
});
