// The nftables firewall driver against a real kernel: real traffic between namespaces.
//
//   app a1 (10.71.0.10) ─┐                          ┌─ enup0 192.168.77.1 ── outside 192.168.77.2
//   app a2 (10.71.0.11) ─┴─ enbr-a 10.71.0.1  [dev] ┤
//   app b1 (10.72.0.10) ─── enbr-b 10.72.0.1        └─ (NI a has port enup0, NI b has none)
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createNftFirewall } from '../../src/drivers/firewall-nft.ts';
import type { NftFirewall } from '../../src/drivers/firewall-nft.ts';
import type { NiRules } from '../../src/drivers/firewall.ts';
import { KernelError } from '../../src/errors.ts';
import { NetnsPool, describeKernel, eventually } from '../helpers/netns.ts';
import type { Netns } from '../helpers/netns.ts';

const NI_A: NiRules = { name: 'a', bridge: 'enbr-a', subnet: '10.71.0.0/24', gateway: '10.71.0.1', port: { ifname: 'enup0' } };
const NI_B: NiRules = { name: 'b', bridge: 'enbr-b', subnet: '10.72.0.0/24', gateway: '10.72.0.1' };
const OUTSIDE = '192.168.77.2';

interface Topology {
  dev: Netns;
  out: Netns;
  a1: Netns;
  a2: Netns;
  b1: Netns;
}

async function app(pool: NetnsPool, dev: Netns, role: string, bridge: string, cidr: string, gateway: string): Promise<Netns> {
  const ns = await pool.add(role);
  const host = `env${role}`;
  await dev.ip('link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name);
  await dev.ip('link', 'set', host, 'master', bridge, 'up');
  await ns.ip('addr', 'add', cidr, 'dev', 'eth0');
  await ns.ip('link', 'set', 'eth0', 'up');
  await ns.ip('route', 'add', 'default', 'via', gateway);
  return ns;
}

async function build(pool: NetnsPool): Promise<Topology> {
  const dev = await pool.add('dev');
  const out = await pool.add('out');
  for (const [br, cidr] of [['enbr-a', '10.71.0.1/24'], ['enbr-b', '10.72.0.1/24']] as const) {
    await dev.ip('link', 'add', br, 'type', 'bridge');
    await dev.ip('addr', 'add', cidr, 'dev', br);
    await dev.ip('link', 'set', br, 'up');
  }
  await dev.ip('link', 'add', 'enup0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', out.name);
  await dev.ip('addr', 'add', '192.168.77.1/24', 'dev', 'enup0');
  await dev.ip('link', 'set', 'enup0', 'up');
  await out.ip('addr', 'add', '192.168.77.2/24', 'dev', 'eth0');
  await out.ip('link', 'set', 'eth0', 'up');
  const a1 = await app(pool, dev, 'a1', 'enbr-a', '10.71.0.10/24', '10.71.0.1');
  const a2 = await app(pool, dev, 'a2', 'enbr-a', '10.71.0.11/24', '10.71.0.1');
  const b1 = await app(pool, dev, 'b1', 'enbr-b', '10.72.0.10/24', '10.72.0.1');
  // the bridge ports settle (carrier, forwarding state) before any check
  await eventually('a1 reaches its bridge', () => ping(a1, '10.71.0.1', { count: 1, timeoutS: 1 }));
  await eventually('b1 reaches its bridge', () => ping(b1, '10.72.0.1', { count: 1, timeoutS: 1 }));
  return { dev, out, a1, a2, b1 };
}

async function sysctl(ns: Netns, key: string): Promise<string> {
  return (await ns.must('sysctl', ['-n', key])).trim();
}

/** `nft -j list table` of a table in the namespace, parsed; undefined when absent. */
async function listTable(ns: Netns, table: string): Promise<unknown[] | undefined> {
  const r = await ns.exec('nft', ['-j', 'list', 'table', 'inet', table]);
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.stdout) as { nftables: unknown[] }).nftables.filter((i) => !(typeof i === 'object' && i !== null && 'metainfo' in i));
}

/** The rules (comment + expr, handles kept out) of the chains belonging to one NI and the jumps to them. */
async function rulesOfNi(ns: Netns, ni: string): Promise<string[]> {
  const items = (await listTable(ns, 'edgenet')) ?? [];
  const chains = new Set([`fwd-${ni}`, `in-${ni}`, `nat-${ni}`]);
  const out: string[] = [];
  for (const item of items) {
    const rule = (item as { rule?: { chain: string; comment?: string; expr: unknown[] } }).rule;
    if (!rule) continue;
    const text = JSON.stringify(rule.expr);
    if (chains.has(rule.chain) || [...chains].some((c) => text.includes(`"target":"${c}"`))) out.push(`${rule.chain} ${rule.comment ?? ''} ${text}`);
  }
  return out;
}

/** busybox ping: this host has no iputils `ping` (the helpers' `Netns.ping` needs one). */
async function ping(from: Netns, target: string, opts: { count?: number; timeoutS?: number } = {}): Promise<boolean> {
  const r = await from.exec('busybox', ['ping', '-c', String(opts.count ?? 1), '-W', String(opts.timeoutS ?? 2), '-q', target]);
  return r.code === 0;
}

async function pings(from: Netns, targets: string[]): Promise<boolean[]> {
  return Promise.all(targets.map((t) => ping(from, t, { count: 1, timeoutS: 1 })));
}

describeKernel('firewall (nft)', () => {
  let pool: NetnsPool;
  let topo: Topology;
  let fw: NftFirewall;

  beforeEach(async () => {
    pool = new NetnsPool();
    topo = await build(pool);
    fw = createNftFirewall({ exec: ['ip', 'netns', 'exec', topo.dev.name] });
  });

  afterEach(async () => {
    await pool.removeAll();
  });

  it('masquerades a out of its port, turns on ip_forward once, lets apps ping their gateway', async () => {
    const { dev, a1, b1 } = topo;
    expect(await sysctl(dev, 'net.ipv4.ip_forward')).toBe('0');
    await fw.ensureNetwork(NI_A);
    await fw.ensureNetwork(NI_B);
    expect(fw.writes.snapshot()).toMatchObject({ nft: 2, sysctl: 1 });
    expect(await sysctl(dev, 'net.ipv4.ip_forward')).toBe('1');

    // the outside has no route back to 10.71/16: a reply arrives only because a1 was masqueraded
    expect(await ping(a1, OUTSIDE, { count: 2, timeoutS: 2 })).toBe(true);
    expect(await ping(a1, '10.71.0.1')).toBe(true);
    expect(await ping(b1, '10.72.0.1')).toBe(true);
    const ct = await dev.must('cat', ['/proc/net/nf_conntrack']).catch(() => '');
    if (ct) expect(ct).toMatch(/src=10\.71\.0\.10 dst=192\.168\.77\.2 .*src=192\.168\.77\.2 dst=192\.168\.77\.1/);

    // unchanged and intact: no transaction, no sysctl write
    const before = fw.writes.snapshot();
    await fw.ensureNetwork(NI_A);
    await fw.ensureNetwork(NI_B);
    await fw.ensureNetworks([NI_A, NI_B]);
    expect(fw.writes.snapshot()).toEqual(before);

    expect(await fw.dump()).toMatchObject({ present: true, networks: ['a', 'b'] });
  });

  it('blocks connections in from the port, NI-to-NI and from a portless NI out', async () => {
    const { dev, out, a1, b1 } = topo;
    // control: with forwarding on and return routes, everything reaches everything before edgenet's rules
    await dev.must('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    await out.ip('route', 'add', '10.71.0.0/24', 'via', '192.168.77.1');
    await out.ip('route', 'add', '10.72.0.0/24', 'via', '192.168.77.1');
    expect(await pings(a1, ['10.72.0.10', '10.72.0.1'])).toEqual([true, true]);
    expect(await pings(out, ['10.71.0.10'])).toEqual([true]);
    expect(await pings(b1, [OUTSIDE])).toEqual([true]);

    await fw.ensureNetworks([NI_A, NI_B]);
    expect(fw.writes.snapshot()).toMatchObject({ nft: 1, sysctl: 0 }); // one transaction; ip_forward already 1

    const [outToA1, outToB1, outToGw] = await pings(out, ['10.71.0.10', '10.72.0.10', '10.71.0.1']);
    expect({ outToA1, outToB1 }).toEqual({ outToA1: false, outToB1: false });
    expect(outToGw).toBe(false); // a gateway answers only its own bridge, not the uplink
    expect(await pings(out, ['192.168.77.1'])).toEqual([true]); // the uplink's own address is not ours to filter
    expect(await pings(a1, ['10.72.0.10', '10.72.0.1', OUTSIDE])).toEqual([false, false, true]);
    expect(await pings(b1, ['10.71.0.10', '10.71.0.1', OUTSIDE, '10.72.0.1'])).toEqual([false, false, false, true]);
  });

  it('accepts traffic inside one NI with br_netfilter on and off in the namespace', async () => {
    const { dev, a1, a2 } = topo;
    const key = 'net.bridge.bridge-nf-call-iptables';
    expect(await sysctl(dev, key)).toBe('1'); // per-netns since kernel 5.3; a new namespace starts with 1
    await fw.ensureNetworks([NI_A, NI_B]);
    for (const value of ['1', '0', '1']) {
      await dev.must('sysctl', ['-qw', `${key}=${value}`]);
      expect(await sysctl(dev, key)).toBe(value);
      expect(await ping(a2, '10.71.0.10')).toBe(true);
      expect(await ping(a1, '10.71.0.11')).toBe(true);
    }
    // the rule that makes it work: without it, bridged frames die in fwd-a when br_netfilter is on
    const listing = await dev.must('nft', ['-a', 'list', 'chain', 'inet', 'edgenet', 'fwd-a']);
    const handle = /iifname "enbr-a" oifname "enbr-a" accept # handle (\d+)/.exec(listing)?.[1];
    expect(handle).toBeDefined();
    await dev.must('nft', ['delete', 'rule', 'inet', 'edgenet', 'fwd-a', 'handle', String(handle)]);
    expect(await ping(a1, '10.71.0.11', { count: 1, timeoutS: 1 })).toBe(false);
    // ... which an audit notices and ensureNetwork repairs in one transaction
    const writes = fw.writes.snapshot().nft;
    await fw.ensureNetwork(NI_A);
    expect(fw.writes.snapshot().nft).toBe(writes + 1);
    expect(await ping(a1, '10.71.0.11')).toBe(true);
  });

  it('removes one NI without touching the other or a foreign table; removeAll leaves foreign tables alone', async () => {
    const { dev } = topo;
    // a foreign table, with a chain named like one of ours
    await dev.must('nft', ['-f', '-'], {
      input: 'table inet foreign {\n chain fwd-a { ip saddr 10.9.9.9 drop\n }\n chain forward { type filter hook forward priority 10; policy accept; jump fwd-a\n }\n}\n',
    });
    const foreign = JSON.stringify(await listTable(dev, 'foreign'));

    await fw.ensureNetworks([NI_A, NI_B]);
    const bRules = await rulesOfNi(dev, 'b');
    expect(bRules.length).toBeGreaterThan(0);
    expect(JSON.stringify(await listTable(dev, 'foreign'))).toBe(foreign);

    await fw.removeNetwork('a');
    expect(await rulesOfNi(dev, 'a')).toEqual([]);
    expect(await rulesOfNi(dev, 'b')).toEqual(bRules);
    expect(JSON.stringify(await listTable(dev, 'foreign'))).toBe(foreign);
    expect(await fw.dump()).toMatchObject({ present: true, networks: ['b'] });
    // a's masquerade is gone with it: without NAT the outside cannot answer
    expect(await ping(topo.a1, OUTSIDE, { count: 1, timeoutS: 1 })).toBe(false);

    const writes = fw.writes.snapshot().nft;
    await fw.removeNetwork('a'); // absent is success, and costs nothing
    await fw.removeNetwork('never-existed');
    expect(fw.writes.snapshot().nft).toBe(writes);

    await fw.removeAll();
    expect(await listTable(dev, 'edgenet')).toBeUndefined();
    expect(JSON.stringify(await listTable(dev, 'foreign'))).toBe(foreign);
    expect(await fw.dump()).toMatchObject({ present: false, networks: [] });
    await fw.removeAll(); // absent is success
    await fw.removeNetwork('b');
  });

  it('notices a table flushed behind its back and converges again; a restarted driver adopts intact rules', async () => {
    const { dev, a1 } = topo;
    await fw.ensureNetworks([NI_A, NI_B]);
    const good = await fw.dump();
    await dev.must('nft', ['delete', 'table', 'inet', 'edgenet']);
    const flushed = await fw.dump();
    expect(flushed.present).toBe(false);
    expect(flushed.digest).not.toBe(good.digest);

    const writes = fw.writes.snapshot().nft;
    await fw.ensureNetworks([NI_A, NI_B]);
    expect(fw.writes.snapshot().nft).toBe(writes + 1);
    expect((await fw.dump()).digest).toBe(good.digest);
    expect(await ping(a1, OUTSIDE)).toBe(true);

    // a new process (no memory) finds rules carrying its spec: nothing to write
    const restarted = createNftFirewall({ exec: ['ip', 'netns', 'exec', dev.name] });
    await restarted.ensureNetworks([NI_A, NI_B]);
    expect(restarted.writes.snapshot()).toMatchObject({ nft: 0, sysctl: 0 });
    // ... but a changed spec is rewritten in place, without duplicates
    await restarted.ensureNetwork({ ...NI_B, port: { ifname: 'enup0' } });
    expect(restarted.writes.snapshot().nft).toBe(1);
    expect((await rulesOfNi(dev, 'b')).filter((r) => r.startsWith('forward '))).toHaveLength(2);
    expect(await ping(topo.b1, OUTSIDE)).toBe(true);
  });

  it('reports nft failures as a KernelError naming the operation and the NI, changing nothing', async () => {
    await fw.ensureNetwork(NI_B);
    const before = await fw.dump();
    const bad: NiRules = { name: 'bad', bridge: 'enbr-x', subnet: '10.73.0.0/99', gateway: '10.73.0.1' };
    const err = await fw.ensureNetwork(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).operation).toBe('nft ensureNetwork');
    expect((err as KernelError).message).toMatch(/ni "bad".*Prefix length 99/);
    expect(await fw.dump()).toEqual(before); // one transaction: all or nothing

    const aborted = AbortSignal.abort();
    await expect(fw.ensureNetwork(NI_A, aborted)).rejects.toThrow();
    expect((await fw.dump()).networks).toEqual(['b']);

    const nowhere = createNftFirewall({ exec: ['ip', 'netns', 'exec', `${topo.dev.name}-missing`] });
    await expect(nowhere.ensureNetwork(NI_A)).rejects.toBeInstanceOf(KernelError);
  });
});
