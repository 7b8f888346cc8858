// The netlink LinkDriver against the real kernel, run inside a throw-away "device" namespace (see fixtures/links-rpc.ts).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { KernelError } from '../../src/errors.ts';
import type { LinkInfo } from '../../src/drivers/links.ts';
import { describeKernel, NetnsPool, run } from '../helpers/netns.ts';
import type { Netns } from '../helpers/netns.ts';
import { LinkRpc } from './fixtures/links-rpc.ts';

const COMPARE = fileURLToPath(new URL('./fixtures/link-parse-compare.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));

describeKernel('links-netlink: LinkDriver on the real kernel', () => {
  let pool: NetnsPool;
  let dev: Netns;
  let app: Netns;
  let rpc: LinkRpc | undefined;
  const pids: number[] = [];

  beforeEach(async () => {
    pool = new NetnsPool();
    dev = await pool.add('dev');
    app = await pool.add('app');
    rpc = await LinkRpc.start(dev.name);
  });

  afterEach(async () => {
    await rpc?.stop();
    rpc = undefined;
    for (const pid of pids.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await pool.removeAll();
  });

  const links = () => {
    if (!rpc) throw new Error('no harness');
    return rpc.driver;
  };
  const linkWrites = async () => (await rpc!.writes()).link;
  const bridge = () => links().ensureBridge({ name: 'enbr0', alias: 'edgenet:ni:lan' });

  it('ensureBridge creates once, marks it and brings it up; the second call writes nothing', async () => {
    const first = await links().ensureBridge({ name: 'enbr0', alias: 'edgenet:ni:lan', mtu: 1400 });
    expect(first).toMatchObject({ ifname: 'enbr0', kind: 'bridge', up: true, alias: 'edgenet:ni:lan', mtu: 1400 });
    const afterCreate = await linkWrites();
    const second = await links().ensureBridge({ name: 'enbr0', alias: 'edgenet:ni:lan', mtu: 1400 });
    expect(second.ifindex).toBe(first.ifindex);
    expect(await linkWrites()).toBe(afterCreate);
    expect(await dev.ip('-d', 'link', 'show', 'enbr0')).toMatch(/alias edgenet:ni:lan/);
    // a changed field costs exactly one write
    await links().ensureBridge({ name: 'enbr0', alias: 'edgenet:ni:lan', mtu: 1450 });
    expect(await linkWrites()).toBe(afterCreate + 1);
    // setMac (a switch NI's bridge takes its L3 port's MAC): one write, then none
    await links().setMac('enbr0', '02:00:5e:10:20:30');
    await links().setMac('enbr0', '02:00:5e:10:20:30');
    expect(await linkWrites()).toBe(afterCreate + 2);
    expect(await dev.ip('link', 'show', 'enbr0')).toContain('link/ether 02:00:5e:10:20:30');
  });

  it('ensureVeth puts the named, MAC-set peer into the app namespace and enslaves the host side; again: 0 writes', async () => {
    const br = await bridge();
    const spec = { name: 'enve1', alias: 'edgenet:ep:web/lan', netns: app.path, peerName: 'eth0', peerMac: '02:00:00:aa:bb:01', master: br.ifindex, mtu: 1400 };
    const host = await links().ensureVeth(spec);
    expect(host).toMatchObject({ ifname: 'enve1', kind: 'veth', master: br.ifindex, up: true, alias: spec.alias, mtu: 1400 });
    const inApp = await app.ip('link', 'show', 'eth0');
    expect(inApp).toMatch(/02:00:00:aa:bb:01/);
    expect(inApp).toMatch(/<[^>]*\bUP\b[^>]*>/);
    expect(inApp).toMatch(/mtu 1400/);
    expect(await dev.ip('link', 'show')).not.toMatch(/\bveth\d+/); // no transient kernel-named peer left behind
    const before = await linkWrites();
    const again = await links().ensureVeth(spec);
    expect(again.ifindex).toBe(host.ifindex);
    expect(await linkWrites()).toBe(before);
    // real traffic across the pair and the bridge
    await links().ensureAddress('enbr0', '10.77.0.1', 24);
    await app.ip('addr', 'add', '10.77.0.2/24', 'dev', 'eth0');
    // busybox ping: `ping` (iputils) is not among the packages scripts/setup.sh installs
    expect((await app.exec('busybox', ['ping', '-c', '1', '-W', '3', '10.77.0.1'])).code).toBe(0);
  });

  it('ensureVeth converges a host side that was released and downed behind its back, in one write', async () => {
    const br = await bridge();
    const spec = { name: 'enve1', alias: 'edgenet:ep:web/lan', netns: app.path, peerName: 'eth0', master: br.ifindex };
    await links().ensureVeth(spec);
    await dev.ip('link', 'set', 'enve1', 'nomaster', 'down');
    const before = await linkWrites();
    expect(await links().ensureVeth(spec)).toMatchObject({ master: br.ifindex, up: true });
    expect(await linkWrites()).toBe(before + 1);
  });

  it('ensureVeth with a missing namespace fails with ENOENT naming the path, and writes nothing', async () => {
    const br = await bridge();
    const before = await linkWrites();
    const missing = `/run/netns/${app.name}-gone`;
    const err = await links().ensureVeth({ name: 'enve1', alias: 'edgenet:ep:x', netns: missing, peerName: 'eth0', master: br.ifindex }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect(err).toMatchObject({ errno: 'ENOENT' });
    expect((err as Error).message).toContain(missing);
    expect(await linkWrites()).toBe(before);
    expect(await links().get('enve1')).toBeUndefined();
  });

  it('ensureVeth whose peer name is taken in the app namespace fails and leaves nothing behind', async () => {
    const br = await bridge();
    await links().ensureVeth({ name: 'enve1', alias: 'edgenet:ep:a', netns: app.path, peerName: 'eth0', master: br.ifindex });
    const err = await links().ensureVeth({ name: 'enve2', alias: 'edgenet:ep:b', netns: app.path, peerName: 'eth0', master: br.ifindex }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'KernelError', errno: 'EEXIST' });
    expect(await links().get('enve2')).toBeUndefined();
    expect((await app.ip('-o', 'link', 'show')).trim().split('\n')).toHaveLength(2); // lo + eth0
  });

  it('attach enslaves an existing interface with its MTU; detach and deleteLink are idempotent', async () => {
    const br = await bridge();
    await dev.ip('link', 'add', 'tap7', 'type', 'veth', 'peer', 'name', 'tap7p');
    const tap = await links().attach({ ifname: 'tap7', master: br.ifindex, mtu: 1400 });
    expect(tap).toMatchObject({ ifname: 'tap7', master: br.ifindex, mtu: 1400, up: true });
    expect(await dev.ip('link', 'show', 'tap7')).toMatch(/master enbr0/);
    let before = await linkWrites();
    await links().attach({ ifname: 'tap7', master: br.ifindex, mtu: 1400 });
    expect(await linkWrites()).toBe(before);

    await links().detach('tap7');
    expect((await links().get('tap7'))?.master).toBeUndefined();
    before = await linkWrites();
    await links().detach('tap7');
    await links().detach('nosuch0');
    expect(await linkWrites()).toBe(before);

    await links().deleteLink('tap7');
    expect(await links().get('tap7')).toBeUndefined();
    expect(await links().get('tap7p')).toBeUndefined(); // the peer went with it
    await links().deleteLink('tap7');
    expect(await linkWrites()).toBe(before + 1);

    await expect(links().attach({ ifname: 'tap7', master: br.ifindex })).rejects.toMatchObject({ errno: 'ENODEV' });
  });

  it('with the event socket on, the link cache answers probes and attach is one request (no probe, no read-back)', async () => {
    const br = await bridge();
    await dev.ip('link', 'add', 'tap8', 'type', 'veth', 'peer', 'name', 'tap8p');
    await rpc!.subscribe();
    const requests = () => rpc!.call<number>('requests');
    await vi.waitFor(async () => expect(await rpc!.call('cacheCurrent')).toBe(true), { timeout: 10_000, interval: 20 });
    // a probe: nothing asked of the kernel
    let before = await requests();
    expect(await links().cached('tap8')).toMatchObject({ ifname: 'tap8', up: false });
    expect(await links().cached('nosuch0')).toBeUndefined();
    expect(await requests()).toBe(before);
    // attach: one RTM_SETLINK (master, MTU and up together), nothing read before or after
    before = await requests();
    const tap = await links().attach({ ifname: 'tap8', master: br.ifindex, mtu: 1400 });
    expect(await requests()).toBe(before + 1);
    expect(tap).toMatchObject({ ifname: 'tap8', master: br.ifindex, mtu: 1400, up: true });
    const shown = await dev.ip('link', 'show', 'tap8');
    expect(shown).toMatch(/master enbr0/);
    expect(shown).toMatch(/mtu 1400/);
    expect(shown).toMatch(/<[^>]*\bUP\b[^>]*>/);
    // once the kernel's event is in the cache, attaching again costs nothing
    await vi.waitFor(async () => expect((await links().cached('tap8'))?.master).toBe(br.ifindex), { timeout: 10_000, interval: 20 });
    before = await requests();
    await links().attach({ ifname: 'tap8', master: br.ifindex, mtu: 1400 });
    expect(await requests()).toBe(before);
    // verification asks the kernel, whatever the cache says
    await dev.ip('link', 'set', 'tap8', 'nomaster');
    expect((await links().get('tap8'))?.master).toBeUndefined();
  });

  it('the periodic link check finds a lost event (the cache differs from the kernel) and publishes the link as it is', async () => {
    await dev.ip('link', 'add', 'tap9', 'type', 'veth', 'peer', 'name', 'tap9p');
    await dev.ip('link', 'set', 'tap9', 'up');
    await rpc!.subscribe();
    await vi.waitFor(async () => expect(await rpc!.call('cacheCurrent')).toBe(true), { timeout: 10_000, interval: 20 });
    await vi.waitFor(async () => expect((await links().cached('tap9'))?.up).toBe(true), { timeout: 10_000, interval: 20 });
    // nothing lost: a check publishes nothing
    const from = rpc!.events.length;
    await rpc!.call('checkLinks');
    expect(rpc!.events.slice(from).filter((e) => e.link.ifname === 'tap9')).toEqual([]);
    expect(await rpc!.call<number>('lostFound')).toBe(0);
    // an event lost without a trace: the next check publishes the link as the kernel has it
    await rpc!.call('forgetEvent', 'tap9');
    await rpc!.call('checkLinks');
    const seen = await rpc!.waitForEvent((e) => e.link.ifname === 'tap9', { from });
    expect(seen).toMatchObject({ type: 'new', link: { ifname: 'tap9', up: true } });
    expect(await rpc!.call<number>('lostFound')).toBe(1);
  });

  it('ensureVeth makes the app side in the app namespace directly: 2 writes, and it never shows up in ours', async () => {
    const br = await bridge();
    await rpc!.subscribe();
    await vi.waitFor(async () => expect(await rpc!.call('cacheCurrent')).toBe(true), { timeout: 10_000, interval: 20 });
    const from = rpc!.events.length;
    const before = await linkWrites();
    const host = await links().ensureVeth({ name: 'enve4', alias: 'edgenet:ep:web/lan', netns: app.path, peerName: 'eth0', peerMac: '02:00:00:aa:bb:04', master: br.ifindex });
    expect(await linkWrites()).toBe(before + 2);
    expect(host).toMatchObject({ ifname: 'enve4', master: br.ifindex, up: true, alias: 'edgenet:ep:web/lan' });
    await rpc!.waitForEvent((e) => e.type === 'new' && e.link.ifname === 'enve4' && e.link.master === br.ifindex, { from });
    // no event of an app-side link in edgenet's namespace: it was born in the app's (no move, no RCU wait)
    expect(rpc!.events.slice(from).filter((e) => e.link.ifname !== 'enve4' && e.link.ifname !== 'enbr0')).toEqual([]);
    const inApp = await app.ip('link', 'show', 'eth0');
    expect(inApp).toMatch(/02:00:00:aa:bb:04/);
    expect(inApp).toMatch(/<[^>]*\bUP\b[^>]*>/);
    await links().ensureAddress('enbr0', '10.77.4.1', 24);
    await app.ip('addr', 'add', '10.77.4.2/24', 'dev', 'eth0');
    expect((await app.exec('busybox', ['ping', '-c', '1', '-W', '3', '10.77.4.1'])).code).toBe(0);
  });

  it("an app's veth made first and joined second: the join is one request (the made pair from the cache), and a pair deleted in between is made again", async () => {
    const br = await bridge();
    await rpc!.subscribe();
    await vi.waitFor(async () => expect(await rpc!.call('cacheCurrent')).toBe(true), { timeout: 10_000, interval: 20 });
    const spec = { name: 'enve5', alias: 'edgenet:ep:two/lan', netns: app.path, peerName: 'eth0' };
    const from = rpc!.events.length;
    const made = await links().ensureVeth(spec);
    expect(made).toMatchObject({ ifname: 'enve5', kind: 'veth' });
    expect(made.master).toBeUndefined();
    await rpc!.waitForEvent((e) => e.type === 'new' && e.link.ifname === 'enve5', { from });
    const before = await rpc!.call<number>('requests');
    const writes = await linkWrites();
    const joined = await links().ensureVeth({ ...spec, master: br.ifindex });
    expect(await rpc!.call<number>('requests')).toBe(before + 1);
    expect(await linkWrites()).toBe(writes + 1);
    expect(joined).toMatchObject({ ifindex: made.ifindex, master: br.ifindex, up: true, alias: spec.alias });
    expect(await dev.ip('-d', 'link', 'show', 'enve5')).toMatch(/master enbr0[\s\S]*alias edgenet:ep:two\/lan/);

    // made, then deleted behind the driver's back (the app's namespace went) and the cache has heard: the join asks
    // the kernel and makes it again
    const gone = rpc!.events.length;
    await links().ensureVeth({ ...spec, name: 'enve6', peerName: 'eth1' });
    await dev.ip('link', 'del', 'enve6');
    await rpc!.waitForEvent((e) => e.type === 'del' && e.link.ifname === 'enve6', { from: gone });
    const again = await links().ensureVeth({ ...spec, name: 'enve6', peerName: 'eth1', master: br.ifindex });
    expect(again).toMatchObject({ ifname: 'enve6', master: br.ifindex, up: true });
    expect(await app.ip('link', 'show', 'eth1')).toMatch(/eth1@/);
  });

  it('events$ reports carrier changes as NEWLINK and deletion as DELLINK (leaving a bridge is not a DELLINK)', async () => {
    const br = await bridge();
    await dev.ip('link', 'add', 'tapa', 'type', 'veth', 'peer', 'name', 'tapb');
    await rpc!.subscribe();
    const tap = await links().attach({ ifname: 'tapa', master: br.ifindex });
    const isTap = (l: LinkInfo) => l.ifindex === tap.ifindex;

    let from = rpc!.events.length;
    await dev.ip('link', 'set', 'tapb', 'up');
    const up = await rpc!.waitForEvent((e) => e.type === 'new' && isTap(e.link) && e.link.carrier, { from });
    expect(up.link).toMatchObject({ ifname: 'tapa', master: br.ifindex, carrier: true });

    from = rpc!.events.length;
    await dev.ip('link', 'set', 'tapb', 'down');
    await rpc!.waitForEvent((e) => e.type === 'new' && isTap(e.link) && !e.link.carrier, { from });

    from = rpc!.events.length;
    await links().detach('tapa');
    await rpc!.waitForEvent((e) => e.type === 'new' && isTap(e.link) && e.link.master === undefined, { from });
    await links().attach({ ifname: 'tapa', master: br.ifindex });
    await rpc!.waitForEvent((e) => e.type === 'new' && isTap(e.link) && e.link.master === br.ifindex, { from });
    expect(rpc!.events.slice(from).filter((e) => e.type === 'del')).toEqual([]);

    from = rpc!.events.length;
    await dev.ip('link', 'del', 'tapa');
    const del = await rpc!.waitForEvent((e) => e.type === 'del' && isTap(e.link), { from });
    expect(del.link).toMatchObject({ ifindex: tap.ifindex, ifname: 'tapa', master: br.ifindex, carrier: false });
  });

  it('ensureAddress twice costs one address write', async () => {
    await bridge();
    await links().ensureAddress('enbr0', '10.78.0.1', 24);
    await links().ensureAddress('enbr0', '10.78.0.1', 24);
    expect((await rpc!.writes()).address).toBe(1);
    const br = await links().get('enbr0');
    expect(await links().listAddresses('enbr0')).toEqual([{ ifindex: br?.ifindex, address: '10.78.0.1', prefixlen: 24 }]);
    expect(await dev.ip('-4', 'addr', 'show', 'enbr0')).toMatch(/inet 10\.78\.0\.1\/24 brd 10\.78\.0\.255/);
    await expect(links().ensureAddress('nosuch0', '10.78.0.1', 24)).rejects.toMatchObject({ errno: 'ENODEV' });
  });

  it('ensureVeth accepts the app namespace as a pid', async () => {
    const br = await bridge();
    const sleeper = spawn('ip', ['netns', 'exec', app.name, 'sleep', '30'], { stdio: 'ignore' });
    const pid = sleeper.pid;
    if (pid === undefined) throw new Error('could not start sleep');
    pids.push(pid);
    // `ip netns exec` execs sleep: wait until the pid really lives in the app namespace
    await expect.poll(async () => (await pidsIn(app)).includes(pid), { timeout: 5_000 }).toBe(true);
    const host = await links().ensureVeth({ name: 'enve3', alias: 'edgenet:ep:pid', netns: pid, peerName: 'eth1', master: br.ifindex });
    expect(host.master).toBe(br.ifindex);
    expect(await app.ip('link', 'show', 'eth1')).toMatch(/eth1/);
  });

  it('the lean link parse (netlink-link-parse.ts) reads every link and bridge port of a real dump as the package does', async () => {
    const br = await bridge();
    await links().ensureVeth({ name: 'enve4', alias: 'edgenet:ep:lean/lan', netns: app.path, peerName: 'eth0', peerMac: '02:00:00:aa:bb:04', master: br.ifindex, mtu: 1400 });
    await dev.ip('link', 'add', 'vt0', 'type', 'veth', 'peer', 'name', 'pt0');
    await dev.ip('link', 'set', 'pt0', 'alias', 'späte Grüße', 'mtu', '9000');
    await dev.ip('link', 'set', 'vt0', 'master', 'enbr0', 'up');
    const r = await run('ip', ['netns', 'exec', dev.name, process.execPath, '--import', 'tsx', COMPARE], { cwd: REPO });
    expect(r.code, r.stderr).toBe(0);
    const pairs = JSON.parse(r.stdout) as { pkg: Record<string, unknown>; lean: unknown }[];
    // lo, the bridge, the veth, both ends of vt0/pt0; then the ports in the AF_BRIDGE dump
    expect(pairs.length).toBeGreaterThanOrEqual(7);
    expect(pairs.find((p) => p.pkg.ifname === 'pt0')?.pkg).toMatchObject({ alias: 'späte Grüße', mtu: 9000 });
    expect(pairs.filter((p) => p.pkg.family === 7).map((p) => p.pkg.ifname).sort()).toEqual(['enve4', 'vt0']);
    for (const { pkg, lean } of pairs) expect(lean).toEqual(pkg);
  });
});

async function pidsIn(ns: Netns): Promise<number[]> {
  return (await run('ip', ['netns', 'pids', ns.name])).stdout.split(/\s+/).filter(Boolean).map(Number);
}
