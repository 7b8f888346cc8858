import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { DhcpDnsSpec } from '../../src/drivers/dhcpdns.ts';
import { lanSpec } from '../fixtures/dhcpdns-spec.ts';
import { createFakeDhcpDns } from '../../src/drivers/dhcpdns-fake.ts';
import { ConfigError } from '../../src/errors.ts';

const spec: DhcpDnsSpec = lanSpec({
  forwarders: ['1.1.1.1'],
  staticHosts: [{ name: 'printer', ip: '10.50.0.250' }],
  reservations: [{ name: 'web', mac: '02:aa:00:00:00:01', ip: '10.50.0.10' }],
});

describe('FakeDhcpDns', () => {
  it('converges like the real driver: same spec = nothing, hosts = reload, conf = restart', async () => {
    const d = createFakeDhcpDns();
    const { pid } = await d.ensure(spec);
    expect(d.writes.snapshot()).toMatchObject({ dnsmasqStart: 1, dnsmasqReload: 0 });
    await d.ensure(structuredClone(spec));
    expect(d.writes.snapshot()).toMatchObject({ dnsmasqStart: 1, dnsmasqReload: 0 });

    const more = { ...spec, reservations: [...spec.reservations, { name: 'db', mac: '02:aa:00:00:00:02', ip: '10.50.0.100' }] };
    expect(await d.ensure(more)).toEqual({ pid });
    expect(d.writes.snapshot()).toMatchObject({ dnsmasqStart: 1, dnsmasqReload: 1 });
    expect(d.resolve('lan', 'db.lan')).toBe('10.50.0.100');
    expect(d.resolve('lan', 'printer')).toBe('10.50.0.250');

    const { pid: pid2 } = await d.ensure({ ...more, mtu: 1400 });
    expect(pid2).not.toBe(pid);
    expect(d.writes.snapshot()).toMatchObject({ dnsmasqStart: 2, dnsmasqReload: 1 });
    expect(d.pid('lan')).toBe(pid2);
  });

  it('kill() reports exited, then started with a new pid', async () => {
    const d = createFakeDhcpDns();
    const { pid } = await d.ensure(spec);
    const events = firstValueFrom(d.events$.pipe(take(2), toArray()));
    d.kill('lan');
    expect(d.pid('lan')).toBeUndefined();
    const [exited, started] = await events;
    expect(exited).toMatchObject({ type: 'exited', ni: 'lan', pid });
    expect(started).toMatchObject({ type: 'started', ni: 'lan' });
    expect(started?.type === 'started' && started.pid).not.toBe(pid);
    expect(d.pid('lan')).toBe(started?.type === 'started' ? started.pid : -1);
  });

  it('evicts leases (a restart only when there was one), removes, and fails on demand', async () => {
    const d = createFakeDhcpDns();
    await d.ensure(spec);
    expect(d.lease('lan', '02:AA:00:00:00:01')).toMatchObject({ ip: '10.50.0.10', hostname: 'web' });
    expect(await d.leases('lan')).toHaveLength(1);
    await d.evictLease('lan', '02:aa:00:00:00:09');
    expect(d.writes.snapshot().dnsmasqStart).toBe(1);
    await d.evictLease('lan', '02:aa:00:00:00:01');
    expect(await d.leases('lan')).toEqual([]);
    expect(d.writes.snapshot().dnsmasqStart).toBe(2);

    d.failNext('ensure', new Error('boom'));
    await expect(d.ensure(spec)).rejects.toThrow('boom');
    await expect(d.ensure({ ...spec, bridge: 'bad name' })).rejects.toThrow(ConfigError);

    await d.remove('lan');
    await d.remove('lan');
    expect(d.pid('lan')).toBeUndefined();
    expect(d.networks()).toEqual([]);
    await d.close();
  });
});
