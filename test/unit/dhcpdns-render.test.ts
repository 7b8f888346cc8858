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
      'server=1.1.1.1',
      'server=9.9.9.9#5353',
      'domain=lan',
      'local=/lan/',
      'dhcp-authoritative',
      'dhcp-range=10.50.0.100,10.50.0.199,255.255.255.0,1h',
      'dhcp-leasefile=/run/edgenet/lan/leases',
      'dhcp-hostsfile=/run/edgenet/lan/dhcp-hosts',
      'addn-hosts=/run/edgenet/lan/hosts',
      'pid-file=/run/edgenet/lan/dnsmasq.pid',
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
    const reordered = renderDnsmasqFiles({ ...spec, reservations: [...spec.reservations].reverse() }, paths);
    expect(reordered).toEqual(f);
  });

  it('separates reload changes (hosts files) from restart changes (args, conf)', () => {
    const base = renderDnsmasqFiles(spec, paths);
    const moreHosts = renderDnsmasqFiles({ ...spec, staticHosts: [...spec.staticHosts, { name: 'nas', ip: '10.50.0.251' }] }, paths);
    expect(moreHosts.conf).toBe(base.conf);
    expect(moreHosts.args).toEqual(base.args);
    expect(moreHosts.hosts).not.toBe(base.hosts);
    const newFwd = renderDnsmasqFiles({ ...spec, forwarders: ['8.8.8.8'] }, paths);
    expect(newFwd.conf).not.toBe(base.conf);
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
