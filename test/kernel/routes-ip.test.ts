// The routes driver on the real kernel: a per-NI table with its policy rule, converged with 0 writes when
// nothing differs, one write per switchover, removal of only what is ours, conntrack flush, moving a port's L3.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createIpRouteDriver } from '../../src/drivers/routes-ip.ts';
import type { TableSpec } from '../../src/drivers/routes.ts';
import { describeKernel, NetnsPool, type Netns } from '../helpers/netns.ts';
import { addTwoPortsAndBridge } from '../helpers/routing-topology.ts';

describeKernel('routes driver (kernel, ip + conntrack)', () => {
  let pool: NetnsPool;
  let dev: Netns;

  beforeEach(async () => {
    pool = new NetnsPool();
    dev = await pool.add('dev');
    await addTwoPortsAndBridge(dev);
    await dev.ip('route', 'add', 'default', 'via', '10.1.0.1', 'dev', 'p1');
    await dev.must('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  });

  afterEach(async () => {
    await pool.removeAll();
  });

  const table = (via: string, devName: string): TableSpec => ({
    table: 20001,
    from: ['10.50.0.0/24'],
    routes: [
      { to: '10.50.0.0/24', dev: 'enbr-x', scope: 'link', src: '10.50.0.1' },
      { to: 'default', via, dev: devName, onlink: true },
      // a static route as issue 15 will add one
      { to: '192.0.2.0/24', via: '10.2.0.1', dev: 'p2' },
    ],
  });

  it('converges a table and its rule, writes nothing when converged, replaces one route, removes only its own', async () => {
    const routes = createIpRouteDriver({ exec: ['ip', 'netns', 'exec', dev.name] });
    expect(await routes.defaultGateway('p1')).toBe('10.1.0.1');
    expect(await routes.defaultGateway('p2')).toBeUndefined();

    await routes.ensureTable(table('10.1.0.1', 'p1'));
    const written = routes.writes.snapshot().route;
    expect(written).toBe(4); // one rule + three routes, in one batch
    expect(await dev.ip('rule', 'show')).toMatch(/10000:\s+from 10\.50\.0\.0\/24 lookup 20001 proto 237/);
    expect(await dev.ip('route', 'show', 'table', '20001')).toMatch(/default via 10\.1\.0\.1 dev p1 proto 237 onlink/);
    expect(await dev.ip('route', 'get', '198.51.100.1', 'from', '10.50.0.7', 'iif', 'enbr-x')).toMatch(/via 10\.1\.0\.1 dev p1 table 20001/);

    await routes.ensureTable(table('10.1.0.1', 'p1'));
    expect(routes.writes.snapshot().route).toBe(written);

    // a switchover: one route
    await routes.replaceRoute(20001, { to: 'default', via: '10.2.0.1', dev: 'p2', onlink: true });
    expect(routes.writes.snapshot().route).toBe(written + 1);
    expect(await dev.ip('route', 'show', 'table', '20001')).toMatch(/default via 10\.2\.0\.1 dev p2 proto 237 onlink/);
    expect(await routes.tables()).toEqual([20001]);

    // someone else's route in that table and rule elsewhere stay
    await dev.ip('route', 'add', '203.0.113.0/24', 'dev', 'p2', 'table', '20001');
    await dev.ip('rule', 'add', 'from', '10.99.0.0/24', 'lookup', '20002', 'priority', '10000');
    await routes.removeTable(20001);
    expect(await dev.ip('rule', 'show')).not.toMatch(/lookup 20001/);
    expect(await dev.ip('rule', 'show')).toMatch(/lookup 20002/);
    expect((await dev.ip('route', 'show', 'table', '20001')).trim()).toBe('203.0.113.0/24 dev p2 scope link');
    await routes.removeTable(20001); // absent is success
    expect(await routes.tables()).toEqual([]);
  });

  it('flushes the connections of one subnet only', async () => {
    const routes = createIpRouteDriver({ exec: ['ip', 'netns', 'exec', dev.name] });
    expect(await routes.flushConntrack('10.50.0.0/24')).toBe(0);
    expect(routes.writes.snapshot().conntrack).toBe(1);
  });

  it('moves a port\'s addresses and routes to a bridge and back', async () => {
    const routes = createIpRouteDriver({ exec: ['ip', 'netns', 'exec', dev.name] });
    const l3 = await routes.l3Of('p1');
    expect(l3).toEqual({ addresses: [{ address: '10.1.0.2', prefixlen: 24 }], routes: [{ to: 'default', via: '10.1.0.1', protocol: 'boot' }] });
    await routes.moveL3('p1', 'enbr-x', l3);
    expect(await dev.ip('-4', 'addr', 'show', 'dev', 'p1')).not.toMatch(/10\.1\.0\.2/);
    expect(await dev.ip('-4', 'addr', 'show', 'dev', 'enbr-x')).toMatch(/10\.1\.0\.2\/24/);
    expect(await dev.ip('route', 'show', 'default')).toMatch(/default via 10\.1\.0\.1 dev enbr-x/);
    // again: already done is success
    await routes.moveL3('p1', 'enbr-x', l3);
    await routes.moveL3('enbr-x', 'p1', l3);
    expect(await dev.ip('-4', 'addr', 'show', 'dev', 'p1')).toMatch(/10\.1\.0\.2\/24/);
    expect(await dev.ip('route', 'show', 'default')).toMatch(/default via 10\.1\.0\.1 dev p1/);
  });
});
