// The app-gateway pattern on the real kernel (EVE's staticRoutes via an app): app G on NIs A and B routes between
// them; app C on B only is offered the route to A's subnet via G by DHCP and reaches an app on A through G, never
// around it.
import { beforeEach, expect, it } from 'vitest';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { dhcpLease } from '../helpers/dhcp.ts';
import { describeKernel, eventually, type Netns } from '../helpers/netns.ts';

describeKernel('app-gateway static routes (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let dev: Netns, g: Netns, c: Netns, s: Netns, outside: Netns;

  const config = (parts: { routeOnB?: boolean; netB?: boolean } = {}): string => {
    const routeOnB = parts.routeOnB !== false;
    const netB = parts.netB !== false;
    return `ports:
  - { name: up0, ifname: eth1 }
  - { name: up1, ifname: eth2 }
networks:
  - name: na
    type: local
    port: up0
    subnet: 10.81.0.0/24
    routes: [{ to: 10.82.0.0/24, via: 10.81.0.5 }]
${netB ? `  - name: nb
    type: local
    port: up1
    subnet: 10.82.0.0/24
${routeOnB ? '    routes: [{ to: 10.81.0.0/24, via: 10.82.0.5 }, { to: 172.16.0.0/12, via: 192.168.78.2 }]\n' : ''}` : ''}apps:
  - name: g
    interfaces:
      - { network: na, netns: ${g.path}, ifname: eth0, ip: 10.81.0.5 }
${netB ? `      - { network: nb, netns: ${g.path}, ifname: eth1, ip: 10.82.0.5 }\n` : ''}  - { name: s, interfaces: [{ network: na, netns: ${s.path}, ip: 10.81.0.10 }] }
${netB ? `  - { name: c, interfaces: [{ network: nb, netns: ${c.path}, ip: 10.82.0.10 }] }\n` : ''}`;
  };

  /** The routes of the NI's own table: the one its subnet's policy rule looks up. */
  const niTable = async (subnet: string): Promise<string | undefined> => {
    const rules = await dev.ip('-4', 'rule', 'show');
    const table = new RegExp(`from ${subnet.replace(/[./]/g, '\\$&')} lookup (\\d+)`).exec(rules)?.[1];
    return table === undefined ? undefined : dev.ip('-4', 'route', 'show', 'table', table);
  };

  beforeEach(async () => {
    ({ dev, g, c, s, out: outside } = await t.namespaces(['dev', 'g', 'c', 's', 'out'], { uplink: true }));
    // a second port, so each NI has a port (and a routing table) of its own
    await dev.ip('link', 'add', 'eth2', 'type', 'veth', 'peer', 'name', 'eth1', 'netns', outside.name);
    await dev.ip('addr', 'add', '192.168.78.1/24', 'dev', 'eth2');
    await dev.ip('link', 'set', 'eth2', 'up');
    await outside.ip('addr', 'add', '192.168.78.2/24', 'dev', 'eth1');
    await outside.ip('link', 'set', 'eth1', 'up');
  });


  it('C reaches an app on A through G only, by the route it was offered via G', async () => {
    daemon = await TestDaemon.start(dev, config());
    // G routes between its two interfaces (configured by hand, as a router app would)
    await g.ip('addr', 'add', '10.81.0.5/24', 'dev', 'eth0');
    await g.ip('addr', 'add', '10.82.0.5/24', 'dev', 'eth1');
    await g.must('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    // C and S are told the route via G by DHCP (option 121), besides the default via their gateway
    const cLease = await dhcpLease(c);
    expect(cLease.options['staticroutes']).toEqual(['10.81.0.0/24', '10.82.0.5', '172.16.0.0/12', '10.82.0.1', '0.0.0.0/0', '10.82.0.1']);
    expect(cLease.router).toBe('10.82.0.1');
    const sLease = await dhcpLease(s);
    expect(sLease.options['staticroutes']).toEqual(['10.82.0.0/24', '10.81.0.5', '0.0.0.0/0', '10.81.0.1']);
    // G itself is not offered the route via itself
    expect((await dhcpLease(g, 'eth1')).options['staticroutes']).toEqual(['172.16.0.0/12', '10.82.0.1', '0.0.0.0/0', '10.82.0.1']);

    expect(await c.ping('10.81.0.10')).toBe(true);
    // not around G: with forwarding off in G, C cannot reach A
    await g.must('sysctl', ['-qw', 'net.ipv4.ip_forward=0']);
    expect(await c.ping('10.81.0.10')).toBe(false);
    await g.must('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    expect(await c.ping('10.81.0.10')).toBe(true);
  });

  it('puts the route in B\'s own routing table, and it goes with the route and with the NI', async () => {
    daemon = await TestDaemon.start(dev, config());
    // the device side: B's own table routes A's subnet via G on B's bridge
    expect(await niTable('10.82.0.0/24')).toMatch(/10\.81\.0\.0\/24 via 10\.82\.0\.5 dev enbr-nb/);
    // a router on the port's subnet: via that router out of the port (apps are offered it via their gateway)
    expect(await niTable('10.82.0.0/24')).toMatch(/172\.16\.0\.0\/12 via 192\.168\.78\.2 dev eth2/);
    await daemon.apply(config({ routeOnB: false }));
    await eventually('the route gone from B\'s table', async () => !/10\.81\.0\.0\/24/.test((await niTable('10.82.0.0/24')) ?? ''));
    await daemon.apply(config());
    await eventually('the route back in B\'s table', async () => /10\.81\.0\.0\/24 via 10\.82\.0\.5/.test((await niTable('10.82.0.0/24')) ?? ''));
    await daemon.apply(config({ netB: false }));
    expect(await niTable('10.82.0.0/24')).toBeUndefined();
    expect(await dev.ip('-4', 'route', 'show', 'table', 'all')).not.toMatch(/10\.81\.0\.0\/24 via 10\.82\.0\.5/);
  });
});
