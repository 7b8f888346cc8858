// EVE port labels on the real kernel (issue 14, acceptance 4): an EdgeDevConfig written from eve-api's schema
// (test/fixtures/eve/shared-ports.json) with a local NI on a shared label naming two ports, and three local NIs on
// one port. Every NI is built, every app behind its announced tap gets a lease and NATs out.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { convertEveConfig } from '../../src/eve/eve-convert.ts';
import { TestDaemon } from '../helpers/daemon.ts';
import { dhcpLease } from '../helpers/dhcp.ts';
import { addSecondUplink, addUplink, describeKernel, eventually, NetnsPool, type Netns } from '../helpers/netns.ts';

const doc = JSON.parse(readFileSync(new URL('../fixtures/eve/shared-ports.json', import.meta.url), 'utf8')) as Record<string, unknown>;

describeKernel('EVE port labels: a label naming two ports, three local NIs on one port (kernel)', () => {
  let pool: NetnsPool;
  let daemon: TestDaemon | undefined;
  let dev: Netns, out1: Netns, out2: Netns;

  beforeEach(async () => {
    pool = new NetnsPool();
    dev = await pool.add('dev');
    out1 = await pool.add('o1');
    out2 = await pool.add('o2');
    // eth1 (wan0): 192.168.77.1/24 to a router at .2; eth2 (wan1): 192.168.78.1/24 to a router at .2
    await addUplink(dev, out1);
    await addSecondUplink(dev, out2);
    // what the ports' DHCP clients would have installed: a default route through each
    await dev.ip('route', 'add', 'default', 'via', '192.168.77.2', 'dev', 'eth1', 'metric', '100');
    await dev.ip('route', 'add', 'default', 'via', '192.168.78.2', 'dev', 'eth2', 'metric', '200');
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') console.log(daemon?.log.filter((l) => !l.includes('"level":20')).join('\n'));
    await daemon?.remove();
    daemon = undefined;
    await pool.removeAll();
  });

  it('accepts the document, builds every NI and serves every app', async () => {
    daemon = await TestDaemon.start(dev, JSON.stringify(doc, null, 2));
    const conv = convertEveConfig(doc);
    expect(conv.errors).toEqual([]);
    const s = await daemon.status();
    expect(s.networks.map((n) => [n.name, n.state, n.ports, n.selectedPort])).toEqual([
      ['both-wans', 'ready', ['wan0', 'wan1'], 'wan0'],
      ['cameras', 'ready', ['wan0'], 'wan0'],
      ['default', 'ready', ['wan0'], 'wan0'],
      ['historian', 'ready', ['wan0'], 'wan0'],
    ]);
    expect(s.ports.map((p) => [p.name, p.ifname])).toEqual([
      ['wan0', 'eth1'],
      ['wan1', 'eth2'],
    ]);

    // each app's VM behind the tap name the conversion announced (a veth, its far end the VM's NIC)
    const subnets: Record<string, string> = { 'both-wans': '10.81.0', default: '10.82.0', cameras: '10.83.0', historian: '10.84.0' };
    for (const tap of conv.names.taps) {
      const vm = await pool.add(tap.app.slice(0, 6));
      await dev.ip('link', 'add', tap.ifname, 'type', 'veth', 'peer', 'name', 'eth0', 'address', tap.mac, 'netns', vm.name);
      await vm.ip('link', 'set', 'eth0', 'up');
      await eventually(`${tap.app} attached`, async () => (await daemon?.status())?.endpoints.find((e) => e.app === tap.app)?.state === 'ready');
      const lease = await dhcpLease(vm);
      expect(lease.ip.startsWith(`${subnets[tap.network] ?? '?'}.`), `${tap.app} on ${tap.network}: ${lease.ip}`).toBe(true);
      // NAT out of the NI's port: the routers have no route back to any NI's subnet
      expect(await vm.ping('192.168.77.2'), `${tap.app} reaches wan0's router`).toBe(true);
      if (tap.network === 'both-wans') expect(await vm.ping('192.168.78.2'), 'the label NI reaches wan1 too').toBe(true);
    }
  });
});
