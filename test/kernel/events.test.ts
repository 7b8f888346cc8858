// Event-driven life on the real kernel: port flaps, VM and container restarts, incremental pushes and
// self-repair move one actor and re-create nothing else.
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Status, Transition } from '../../src/edgenet-types.ts';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { dhcpLease } from '../helpers/dhcp.ts';
import { describeKernel, eventually, type Netns } from '../helpers/netns.ts';

describeKernel('events move one actor (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let dev: Netns, outside: Netns, web: Netns, vm: Netns, lone: Netns, extra: Netns;
  let events: Transition[];
  let stopEvents: AbortController;

  const config = (withExtra = false): string => `ports:
  - { name: up0, ifname: eth1 }
networks:
  - { name: lan, type: local, port: up0, subnet: 10.50.0.0/24 }
  - { name: iso, type: local, subnet: 10.60.0.0/24 }
apps:
  - { name: web, interfaces: [{ network: lan, netns: ${web.path} }] }
  - { name: vm, interfaces: [{ network: lan, tap: vif7 }] }
  - { name: lone, interfaces: [{ network: iso, netns: ${lone.path} }] }
${withExtra ? `  - { name: extra, interfaces: [{ network: iso, netns: ${extra.path} }] }\n` : ''}`;

  beforeEach(async () => {
    ({ dev, out: outside, web, vm, lone, extra } = await t.namespaces(['dev', 'out', 'web', 'vm', 'lone', 'extra'], { uplink: true }));
    await makeTap();
    daemon = await TestDaemon.start(dev, config());
    events = [];
    stopEvents = new AbortController();
    void daemon.api.events((t) => events.push(t), stopEvents.signal);
    await dhcpLease(web);
    await new Promise((r) => setTimeout(r, 100));
  });

  afterEach(async () => {
    stopEvents.abort();
  });

  // the hypervisor's tap, played by a veth whose far end is inside the VM's namespace
  async function makeTap(): Promise<void> {
    await dev.ip('link', 'add', 'vif7', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', vm.name);
    await vm.ip('link', 'set', 'eth0', 'up');
  }

  /** What must not change: links (ifindex, name, master), the ruleset with handles, dnsmasq PIDs. */
  async function kernelView(): Promise<{ links: string; rules: string; pids: string }> {
    const links = (await dev.ip('-o', 'link', 'show'))
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const m = /^(\d+): ([^:@]+)[^<]*<[^>]*>.*?(master \S+)?/.exec(l);
        return `${m?.[1]} ${m?.[2]} ${/master (\S+)/.exec(l)?.[1] ?? '-'}`;
      })
      .join('\n');
    const rules = await dev.must('nft', ['-a', 'list', 'table', 'inet', 'edgenet']);
    const status = (await daemon?.status()) as Status;
    const pids = status.networks.map((n) => `${n.name}=${n.dnsmasqPid}`).join(' ');
    return { links, rules, pids };
  }

  const stateOf = async (name: string): Promise<string | undefined> => (await daemon?.status())?.networks.find((n) => n.name === name)?.state;
  const endpointState = async (app: string): Promise<string | undefined> => (await daemon?.status())?.endpoints.find((e) => e.app === app)?.state;

  it('a port flap degrades only its NI, rewrites nothing and costs 0 kernel writes', async () => {
    const before = await kernelView();
    const writes = (await daemon?.status())?.writes;
    await outside.ip('link', 'set', 'eth0', 'down');
    await eventually('lan degraded', async () => (await stateOf('lan')) === 'degraded');
    expect((await daemon?.status())?.networks.find((n) => n.name === 'lan')?.reason).toMatch(/port up0.*carrier/);
    await outside.ip('link', 'set', 'eth0', 'up');
    await eventually('lan ready', async () => (await stateOf('lan')) === 'ready');

    expect(await kernelView()).toEqual(before);
    expect((await daemon?.status())?.writes).toEqual(writes);
    const lan = events.filter((t) => t.kind === 'network' && t.name === 'lan').map((t) => `${t.from}->${t.to}`);
    expect(lan).toEqual(['ready->degraded', 'degraded->ready']);
    expect(events.filter((t) => t.name === 'iso')).toEqual([]);
    expect(events.find((t) => t.kind === 'port' && t.to === 'degraded')?.reason).toMatch(/lost carrier/);
    expect(await web.ping('192.168.77.2')).toBe(true);
  });

  it('a VM restart (tap deleted and created again) re-attaches the tap and touches nothing else', async () => {
    expect(await dev.ip('-o', 'link', 'show', 'vif7')).toContain('master enbr-lan');
    const before = await kernelView();
    await dev.ip('link', 'del', 'vif7');
    await eventually('vm pending', async () => (await endpointState('vm')) === 'pending');
    expect((await daemon?.status())?.endpoints.find((e) => e.app === 'vm')?.reason).toMatch(/vif7 gone/);
    await makeTap();
    await eventually('vif7 attached to enbr-lan', async () => (await dev.ip('-o', 'link', 'show', 'vif7')).includes('master enbr-lan'), 2000, 10);
    await eventually('vm ready', async () => (await endpointState('vm')) === 'ready');
    const after = await kernelView();
    const withoutVif = (s: string): string => s.split('\n').filter((l) => !l.includes(' vif7 ')).join('\n');
    expect(withoutVif(after.links)).toEqual(withoutVif(before.links));
    expect(after.rules).toEqual(before.rules);
    expect(after.pids).toEqual(before.pids);
    expect(events.filter((t) => t.kind !== 'endpoint' || t.name !== 'vm/lan')).toEqual([]);
  });

  it('a container restart (netns deleted and created again) brings its veth back inside it', async () => {
    const before = await kernelView();
    const loneIfindex = (await lone.ip('-o', 'link', 'show', 'eth0')).split(':')[0];
    await t.pool.remove(web);
    await eventually('web pending', async () => (await endpointState('web')) === 'pending');
    web = await t.pool.readd(web);
    await eventually('eth0 back in the new web netns', async () => (await web.ip('-o', 'link', 'show')).includes('eth0'));
    await eventually('web ready', async () => (await endpointState('web')) === 'ready');
    expect((await dhcpLease(web)).ip).toMatch(/^10\.50\.0\./);
    const after = await kernelView();
    expect(after.rules).toEqual(before.rules);
    expect(after.pids).toEqual(before.pids);
    expect((await lone.ip('-o', 'link', 'show', 'eth0')).split(':')[0]).toBe(loneIfindex);
    expect(events.filter((t) => t.kind !== 'endpoint' || t.name !== 'web/lan')).toEqual([]);
  });

  it('a push that adds one app creates only its objects', async () => {
    const before = await kernelView();
    const writesBefore = (await daemon?.status())?.writes;
    const result = await daemon?.apply(config(true));
    expect(result).toMatchObject({ created: ['endpoint extra/iso'], updated: [], deleted: [] });
    const after = await kernelView();
    const newLinks = after.links.split('\n').filter((l) => !before.links.split('\n').includes(l));
    expect(newLinks).toHaveLength(1);
    expect(newLinks[0]).toMatch(/ env[0-9a-f]{12} enbr-iso$/);
    expect(after.rules).toEqual(before.rules);
    expect(after.pids).toEqual(before.pids);
    const w = (await daemon?.status())?.writes;
    // the one nft write is the new app's anti-spoofing set elements (one transaction); nothing of the others is rewritten
    expect({ nft: w?.nft, address: w?.address, dnsmasqStart: w?.dnsmasqStart }).toEqual({
      nft: (writesBefore?.nft ?? 0) + 1,
      address: writesBefore?.address,
      dnsmasqStart: writesBefore?.dnsmasqStart,
    });
    expect((w?.dnsmasqReload ?? 0) - (writesBefore?.dnsmasqReload ?? 0)).toBe(1);
    expect((w?.link ?? 0) - (writesBefore?.link ?? 0)).toBeLessThanOrEqual(4);
    expect(events.filter((t) => t.name !== 'extra/iso')).toEqual([]);
    expect((await dhcpLease(extra)).ip).toMatch(/^10\.60\.0\./);
  });

  it('repairs a deleted bridge, a flushed table and a killed dnsmasq within 2 s each', async () => {
    const t0 = Date.now();
    await dev.ip('link', 'del', 'enbr-lan');
    await eventually('lan degraded', async () => (await stateOf('lan')) === 'degraded', 2000, 20);
    await eventually('bridge back, lan and web ready', async () => (await stateOf('lan')) === 'ready' && (await endpointState('web')) === 'ready', 2000, 20);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await dev.ip('-o', 'link', 'show')).toMatch(/env[0-9a-f]{12}.*master enbr-lan/);
    expect((await dhcpLease(web)).ip).toMatch(/^10\.50\.0\./);
    expect(await web.ping('192.168.77.2')).toBe(true);

    const t1 = Date.now();
    await dev.must('nft', ['flush', 'table', 'inet', 'edgenet']);
    await eventually('rules back', async () => (await dev.must('nft', ['list', 'table', 'inet', 'edgenet'])).includes('masquerade'), 2000, 20);
    expect(Date.now() - t1).toBeLessThan(2000);
    await eventually('lan ready', async () => (await stateOf('lan')) === 'ready', 2000, 20);
    expect(await web.ping('192.168.77.2')).toBe(true);
    expect(events.some((t) => t.name === 'lan' && /firewall rules/.test(t.reason ?? ''))).toBe(true);

    const pid = (await daemon?.status())?.networks.find((n) => n.name === 'lan')?.dnsmasqPid as number;
    const t2 = Date.now();
    process.kill(pid, 'SIGKILL');
    await eventually('new dnsmasq', async () => {
      const n = (await daemon?.status())?.networks.find((x) => x.name === 'lan');
      return n?.state === 'ready' && n.dnsmasqPid !== pid;
    }, 2000, 20);
    expect(Date.now() - t2).toBeLessThan(2000);
    expect((await dhcpLease(web)).ip).toMatch(/^10\.50\.0\./);
  });
});
