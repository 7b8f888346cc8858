// EVE's names and routes for apps → edgenet (src/eve/eve-dns.ts).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evePathOf } from '../../src/eve/eve-convert.ts';
import { validateEveConfig } from '../../src/eve/eve-load.ts';

const doc = (): Record<string, unknown> => JSON.parse(readFileSync(new URL('../fixtures/eve/dns-routes.json', import.meta.url), 'utf8')) as Record<string, unknown>;

describe('EVE DNS, DHCP options and routes', () => {
  const r = validateEveConfig(doc());

  it("takes a port's upstream DNS servers from the NetworkConfig its SystemAdapter references", () => {
    expect(r.config.ports).toEqual([{ name: 'uplink', ifname: 'eth1', dns: ['192.168.77.2'] }]);
    expect(evePathOf('ports[0].dns[0]', r.sources)).toBe('networks[0].ip.dns[0]');
  });

  it("maps ip.dns, ip.ntp + moreNtp and ip.domain to what apps are told, not to dnsmasq's upstream", () => {
    expect(r.config.networks[0]).toMatchObject({
      dhcp: { dns: ['10.50.0.1'], ntp: ['10.50.0.3', '192.168.77.2'], domain: 'plant.example' },
      dns: { forwarders: [], hosts: [{ name: 'historian.plant.example', ips: ['10.50.0.30', '10.50.0.31'] }] },
    });
    expect(r.config.networks[1]).toMatchObject({ dhcp: { dns: ['10.60.0.1'] } });
  });

  it("maps staticRoutes, and propagateConnectedRoutes as the port's connected subnet via the gateway", () => {
    expect(r.config.networks[0]).toMatchObject({ routes: [{ to: '10.70.0.0/16', via: '10.50.0.20' }, { to: '192.168.77.0/24', via: '10.50.0.1' }] });
    expect(r.findings.find((f) => f.field === 'propagateConnectedRoutes')).toMatchObject({ level: 'info', message: expect.stringMatching(/192\.168\.77\.0\/24 .* via the gateway 10\.50\.0\.1/) });
    expect(r.findings.filter((f) => f.level === 'warning')).toEqual([]);
  });

  it('points errors in the converted fields back at the EVE fields', () => {
    const bad = doc() as { networkInstances: { staticRoutes?: unknown[] }[] };
    (bad.networkInstances[0] as Record<string, unknown>)['staticRoutes'] = [{ destinationNetwork: '10.50.0.128/25', gateway: '10.50.0.20' }];
    const v = validateEveConfig(bad);
    expect(v.errors).toHaveLength(1);
    expect(v.errors[0]?.reason).toMatch(/^networkInstances\[0\]\.staticRoutes\[0\]\.destinationNetwork: route to 10\.50\.0\.128\/25 overlaps the subnet 10\.50\.0\.0\/24/);
  });
});
