// The routes driver's reads over rtnetlink (src/drivers/routes-netlink-reads.ts) give what its `ip -j` reads give,
// on the real kernel, for the routes and rules edgenet meets: defaults via a router, on-link next hops, metrics,
// preferred sources, link scope, host routes, other protocols' and edgenet's own (proto 237), NI tables and their rules.
import { afterEach, expect, it } from 'vitest';
import { createIpRouteDriver } from '../../src/drivers/routes-ip.ts';
import type { L3Config, RouteInfo, RuleInfo } from '../../src/drivers/routes.ts';
import { NetnsPool, describeKernel } from '../helpers/netns.ts';
import { addTwoPortsAndBridge } from '../helpers/routing-topology.ts';
import { runFixtureInNetns } from '../helpers/netns-child.ts';

interface Reads {
  routes: RouteInfo[][];
  rules: RuleInfo[];
  addresses: L3Config['addresses'][];
}

const byText = <T>(xs: T[]): T[] => [...xs].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

describeKernel('route reads over rtnetlink (kernel)', () => {
  const pool = new NetnsPool();
  afterEach(() => pool.removeAll());

  it('equal the ip -j reads', async () => {
    const dev = await pool.add('rr');
    await addTwoPortsAndBridge(dev);
    await dev.ip('addr', 'add', '10.1.0.9/24', 'dev', 'p1');
    await dev.ip('route', 'add', 'default', 'via', '10.1.0.1', 'dev', 'p1');
    await dev.ip('route', 'add', 'default', 'via', '10.2.0.1', 'dev', 'p2', 'metric', '200', 'proto', 'dhcp');
    await dev.ip('route', 'add', '198.51.100.7', 'via', '10.2.0.1', 'dev', 'p2', 'proto', 'static');
    await dev.ip('route', 'add', '203.0.113.0/24', 'via', '192.0.2.1', 'dev', 'p2', 'onlink');
    await dev.ip('route', 'add', '10.60.0.0/16', 'dev', 'p1', 'scope', 'link', 'src', '10.1.0.9', 'proto', '237');
    const t = '20001';
    await dev.ip('route', 'add', '10.50.0.0/24', 'dev', 'enbr-x', 'scope', 'link', 'src', '10.50.0.1', 'table', t, 'proto', '237');
    await dev.ip('route', 'add', 'default', 'via', '10.1.0.1', 'dev', 'p1', 'onlink', 'table', t, 'proto', '237');
    await dev.ip('route', 'add', '192.0.2.0/24', 'via', '10.2.0.1', 'dev', 'p2', 'metric', '5', 'table', t, 'proto', '237');
    await dev.ip('rule', 'add', 'from', '10.50.0.0/24', 'lookup', t, 'priority', '10000', 'protocol', '237');
    await dev.ip('rule', 'add', 'from', '10.70.0.0/24', 'lookup', '20002', 'priority', '10001');
    await dev.ip('rule', 'add', 'from', '10.80.0.5', 'lookup', 'main', 'priority', '9000');

    const tables: (number | 'main')[] = ['main', 20001, 20002];
    const ifnames = ['p1', 'p2', 'enbr-x', 'nosuch'];
    const ip = createIpRouteDriver({ exec: ['ip', 'netns', 'exec', dev.name] });
    const nl = await runFixtureInNetns<Reads>(dev.path, 'test/kernel/fixtures/route-reads-child.ts', [JSON.stringify(tables), JSON.stringify(ifnames)]);
    const [main, ni, empty] = await Promise.all(tables.map((x) => ip.listRoutes(x)));
    expect(byText(nl.routes[0] ?? [])).toEqual(byText(main ?? []));
    expect(byText(nl.routes[1] ?? [])).toEqual(byText(ni ?? []));
    expect(nl.routes[2]).toEqual(empty);
    expect(byText(nl.rules)).toEqual(byText(await ip.listRules()));
    expect(nl.rules).toEqual(expect.arrayContaining([{ priority: 10000, from: '10.50.0.0/24', table: 20001, ours: true }]));
    // what the driver's users see through them: l3Of's addresses, the port's router
    const l3 = await ip.l3Of('p1');
    expect(nl.addresses[0]).toEqual(l3.addresses);
    expect(nl.addresses[3]).toEqual([]);
    expect((main ?? []).length).toBeGreaterThan(5);
    console.log(`compared ${(main ?? []).length + (ni ?? []).length} routes and ${nl.rules.length} rules`);
  });
});
