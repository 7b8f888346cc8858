// Crash safety and ownership on the real kernel (issue 6): SIGKILL mid-apply and at rest, adoption without writes,
// orphans dropped while down, foreign objects never touched, `edgenet down` with and without the daemon, and a
// corrupt last good config.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Status } from '../../src/edgenet-types.ts';
import { readJournaled } from '../../src/util/journaled-file.ts';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { dhcpLease } from '../helpers/dhcp.ts';
import { describeKernel, eventually, run, type Netns, type RunResult } from '../helpers/netns.ts';

// a link's mark without its instance id (`edgenet:<id>:ni:lan` → `edgenet:ni:lan`): what these tests compare
const plainMark = (alias: string | undefined): string | undefined => alias?.replace(/^edgenet:[0-9a-f]{8}:(?=(?:ni|ep):)/, 'edgenet:');

const REPO = resolve(import.meta.dirname, '..', '..');

interface IpLink {
  ifindex: number;
  ifname: string;
  master?: string;
  ifalias?: string;
  linkinfo?: { info_kind?: string };
}

interface NftItem {
  rule?: { chain: string; expr: unknown; comment?: string };
}

describeKernel('crash safety and ownership (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let foreign: ChildProcess | undefined;
  let scratch: string | undefined;
  let dev: Netns, web: Netns, db: Netns, lone: Netns, cam: Netns;

  /** Full: 3 local NIs (one with a port) and a switch NI, 4 apps with 5 interfaces. Small: lan and web only. */
  const config = (shape: 'full' | 'small' | 'no-iso' = 'full'): string => {
    const iso = shape === 'full';
    const more = shape !== 'small';
    return `ports:
  - { name: up0, ifname: eth1 }
networks:
  - { name: lan, type: local, port: up0, subnet: 10.50.0.0/24 }
${iso ? '  - { name: iso, type: local, subnet: 10.60.0.0/24 }\n' : ''}${more ? '  - { name: lab, type: local, subnet: 10.70.0.0/24 }\n  - { name: plant, type: switch }\n' : ''}apps:
  - { name: web, interfaces: [{ network: lan, netns: ${web.path}, ip: 10.50.0.10 }] }
${more ? `  - { name: db, interfaces: [{ network: lan, netns: ${db.path} }] }\n` : ''}${iso ? `  - { name: lone, interfaces: [{ network: iso, netns: ${lone.path} }] }\n` : ''}${more ? `  - { name: cam, interfaces: [{ network: lab, netns: ${cam.path} }, { network: plant, netns: ${cam.path}, ifname: eth1 }] }\n` : ''}`;
  };
  const expected = {
    full: { nis: ['iso', 'lab', 'lan', 'plant'], local: ['iso', 'lab', 'lan'], endpoints: 5 },
    small: { nis: ['lan'], local: ['lan'], endpoints: 1 },
  };

  beforeEach(async () => {
    ({ dev, web, db, lone, cam } = await t.namespaces(['dev', 'out', 'web', 'db', 'lone', 'cam'], { uplink: true }));
  });

  afterEach(async () => {
    if (foreign?.pid) foreign.kill('SIGKILL');
    foreign = undefined;
    if (scratch) await rm(scratch, { recursive: true, force: true });
    scratch = undefined;
  });

  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  /** A process that still runs (a killed one may linger as a zombie here: this sandbox's init does not reap). */
  const alive = async (pid: number): Promise<boolean> => (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')) !== '';
  const state = (): string => daemon?.stateDir ?? '';

  /** `edgenet <args>` as a process inside the device namespace (like an operator's shell there). */
  const cli = (...args: string[]): Promise<RunResult> =>
    run('nsenter', [`--net=${dev.path}`, process.execPath, join(REPO, 'bin/edgenet.js'), ...args], { timeoutMs: 90_000 });

  const links = async (ns: Netns = dev): Promise<IpLink[]> => JSON.parse(await ns.ip('-j', '-d', 'link', 'show')) as IpLink[];

  /** Our dnsmasq processes in the device namespace, by NI: found by command line, not by pid file. */
  async function ourDnsmasq(): Promise<Map<string, number[]>> {
    const prefix = `--conf-file=${state()}/`;
    const out = new Map<string, number[]>();
    const pids = (await run('ip', ['netns', 'pids', dev.name])).stdout.split(/\s+/).filter(Boolean).map(Number);
    for (const pid of pids) {
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
      const conf = argv.find((a) => a.startsWith(prefix));
      if (basename(argv[0] ?? '') !== 'dnsmasq' || !conf) continue;
      const ni = conf.slice(prefix.length).split('/')[0] ?? '';
      out.set(ni, [...(out.get(ni) ?? []), pid].sort());
    }
    return out;
  }

  /** Rules per chain of table inet edgenet ({} when the table is absent), and whether any rule appears twice. */
  async function rules(): Promise<{ perChain: Record<string, number>; duplicates: string[] }> {
    const r = await dev.exec('nft', ['-j', 'list', 'table', 'inet', 'edgenet']);
    if (r.code !== 0) return { perChain: {}, duplicates: [] };
    const items = (JSON.parse(r.stdout) as { nftables: NftItem[] }).nftables;
    const perChain: Record<string, number> = {};
    const seen = new Set<string>();
    const duplicates: string[] = [];
    for (const { rule } of items) {
      if (!rule) continue;
      perChain[rule.chain] = (perChain[rule.chain] ?? 0) + 1;
      const key = `${rule.chain} ${JSON.stringify(rule.expr)} ${rule.comment ?? ''}`;
      if (seen.has(key)) duplicates.push(key);
      seen.add(key);
    }
    return { perChain, duplicates };
  }

  /** `nft monitor` processes in the device namespace. */
  async function nftMonitors(): Promise<number[]> {
    const pids = (await run('ip', ['netns', 'pids', dev.name])).stdout.split(/\s+/).filter(Boolean).map(Number);
    const out: number[] = [];
    for (const pid of pids) if ((await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).includes('nft\0monitor')) out.push(pid);
    return out;
  }

  /** What must not change across a restart: links (ifindex, name, master, alias), rules with handles, dnsmasq PIDs. */
  async function kernelView(): Promise<{ links: string[]; rules: string; dnsmasq: string }> {
    const view = (await links()).map((l) => `${l.ifindex} ${l.ifname} ${l.master ?? '-'} ${l.ifalias ?? '-'}`);
    const listing = await dev.exec('nft', ['-a', 'list', 'table', 'inet', 'edgenet']);
    const dnsmasq = [...(await ourDnsmasq())].map(([ni, pids]) => `${ni}=${pids.join(',')}`).sort().join(' ');
    return { links: view, rules: listing.code === 0 ? listing.stdout : 'absent', dnsmasq };
  }

  /** The apps' side: ifindex and IPv4 addresses of each app interface. */
  async function appView(): Promise<string[]> {
    const out: string[] = [];
    for (const ns of [web, db, lone, cam]) {
      const addrs = JSON.parse(await ns.ip('-j', '-4', 'addr', 'show')) as { ifindex: number; ifname: string; addr_info: { local: string }[] }[];
      for (const a of addrs) if (a.ifname !== 'lo') out.push(`${ns.name} ${a.ifindex} ${a.ifname} ${a.addr_info.map((i) => i.local).join(',')}`);
    }
    return out;
  }

  /** Exactly one bridge per NI, one veth per endpoint, one dnsmasq per local NI, rules as in a clean run. */
  async function expectConverged(want: { nis: string[]; local: string[]; endpoints: number }, cleanRules: Record<string, number>): Promise<void> {
    const ls = await links();
    expect(ls.filter((l) => plainMark(l.ifalias)?.startsWith('edgenet:ni:')).map((l) => plainMark(l.ifalias)).sort()).toEqual(want.nis.map((n) => `edgenet:ni:${n}`));
    expect(ls.filter((l) => l.linkinfo?.info_kind === 'bridge').map((l) => l.ifname).sort()).toEqual(want.nis.map((n) => `enbr-${n}`));
    expect(ls.filter((l) => plainMark(l.ifalias)?.startsWith('edgenet:ep:'))).toHaveLength(want.endpoints);
    // a pair created but not yet moved when the daemon died leaves a kernel-named peer: it must not stay here
    expect(ls.filter((l) => /^veth\d+$/.test(l.ifname)).map((l) => l.ifname)).toEqual([]);
    const dnsmasq = await ourDnsmasq();
    expect([...dnsmasq.keys()].sort()).toEqual(want.local);
    for (const [ni, pids] of dnsmasq) expect(pids, `dnsmasq of ${ni}`).toHaveLength(1);
    const r = await rules();
    expect(r.duplicates).toEqual([]);
    expect(r.perChain).toEqual(cleanRules);
    const s = (await daemon?.status()) as Status;
    expect(s.networks.map((n) => `${n.name}:${n.state}`)).toEqual(want.nis.map((n) => `${n}:ready`));
    expect(s.endpoints.filter((e) => e.state !== 'ready')).toEqual([]);
    expect(s.endpoints).toHaveLength(want.endpoints);
  }

  it('1. SIGKILL mid-apply, then start again: converges with one bridge per NI, one dnsmasq per local NI, no duplicate rule', async () => {
    daemon = await TestDaemon.start(dev, config('small'));
    const cleanSmall = (await rules()).perChain;
    await expectConverged(expected.small, cleanSmall);
    await daemon.apply(config('full'));
    const cleanFull = (await rules()).perChain;
    await expectConverged(expected.full, cleanFull);
    await daemon.apply(config('small'));
    await expectConverged(expected.small, cleanSmall);

    // creations, deletions, creations again: each killed part-way through
    const rounds: [shape: 'full' | 'small', killAfterMs: number][] = [
      ['full', 50],
      ['small', 100],
      ['full', 150],
      ['small', 30],
      ['full', 90],
    ];
    for (const [shape, ms] of rounds) {
      await writeFile(daemon.configPath, config(shape));
      const pushed = daemon.apply(config(shape)).then(
        () => 'finished',
        () => 'cut',
      );
      await sleep(ms);
      await daemon.stop('SIGKILL');
      const ls = await links();
      const at = `${ls.filter((l) => plainMark(l.ifalias)?.startsWith('edgenet:ni:')).length} bridges, ${ls.filter((l) => plainMark(l.ifalias)?.startsWith('edgenet:ep:')).length} veths, ${[...(await ourDnsmasq()).keys()].join('+')} dnsmasq, ${Object.values((await rules()).perChain).reduce((a, b) => a + b, 0)} rules`;
      console.log(`killed ${ms} ms into a push of ${shape} (apply ${await pushed}): ${at}`);
      await daemon.restart();
      await expectConverged(expected[shape], shape === 'full' ? cleanFull : cleanSmall);
    }
    expect((await dhcpLease(web)).ip).toBe('10.50.0.10');
    expect(await web.ping('192.168.77.2')).toBe(true);
    expect((await dhcpLease(cam)).ip).toMatch(/^10\.70\.0\./);
    expect((await dhcpLease(lone)).ip).toMatch(/^10\.60\.0\./);
  }, 240_000);

  it('2. SIGKILL at rest, then start again (with -c, then resuming without): same ifindexes and addresses, nothing written', async () => {
    daemon = await TestDaemon.start(dev, config('full'));
    for (const ns of [web, db, lone, cam]) await dhcpLease(ns);
    const before = await kernelView();
    const apps = await appView();
    expect(apps.join('\n')).toContain('10.50.0.10');
    expect(before.dnsmasq.split(' ')).toHaveLength(3);

    for (const resume of [false, true]) {
      expect(await nftMonitors(), 'the daemon runs one nft monitor').toHaveLength(1);
      await daemon.stop('SIGKILL');
      // the killed daemon's nft monitor dies with it (pdeathsig); dnsmasq stays, to be adopted
      await eventually('no nft monitor left by the killed daemon', async () => (await nftMonitors()).length === 0);
      await daemon.restart({ resume });
      expect(await kernelView()).toEqual(before);
      expect(await appView()).toEqual(apps);
      const w = (await daemon.status()).writes;
      expect(w, resume ? 'resumed' : 'with -c').toEqual({ link: 0, address: 0, nft: 0, dnsmasqStart: 0, dnsmasqReload: 0, sysctl: 0, route: 0, conntrack: 0 });
      expect(await web.ping('192.168.77.2')).toBe(true);
      expect((await dhcpLease(web)).ip).toBe('10.50.0.10');
    }
    expect(daemon.log.some((l) => l.includes('resumed last good config'))).toBe(true);
  });

  it('3. an NI and its app removed from the file while down: its bridge, rules, dnsmasq and files go; the rest stays', async () => {
    daemon = await TestDaemon.start(dev, config('full'));
    for (const ns of [web, db, lone, cam]) await dhcpLease(ns);
    const appsBefore = (await appView()).filter((a) => !a.startsWith(lone.name));
    const before = await kernelView();
    const isoPid = (await ourDnsmasq()).get('iso')?.[0];
    expect(isoPid).toBeGreaterThan(0);
    expect(existsSync(join(state(), 'iso'))).toBe(true);
    const rulesBefore = (await rules()).perChain;

    await daemon.stop('SIGTERM');
    await writeFile(daemon.configPath, config('no-iso'));
    await daemon.restart();

    const after = await kernelView();
    const ls = await links();
    expect(ls.map((l) => l.ifname)).not.toContain('enbr-iso');
    expect(ls.filter((l) => plainMark(l.ifalias) === 'edgenet:ep:lone/iso')).toEqual([]);
    expect((await lone.ip('-o', 'link', 'show')).trim().split('\n')).toHaveLength(1); // lo only
    expect(after.rules).not.toMatch(/iso/);
    expect(Object.keys((await rules()).perChain).filter((c) => c.endsWith('-iso'))).toEqual([]);
    expect(await alive(isoPid as number)).toBe(false);
    expect(existsSync(join(state(), 'iso'))).toBe(false);
    const reservations = (await readJournaled(join(state(), 'reservations.json'))) ?? '';
    expect(reservations).not.toMatch(/"iso"|lone/);

    // everything else as it was: links with their ifindex, the other NIs' rules (handles too), their dnsmasq
    const isIso = (l: string): boolean => /enbr-iso|lone\/iso/.test(l);
    expect(after.links).toEqual(before.links.filter((l) => !isIso(l)));
    expect(after.dnsmasq).toBe(before.dnsmasq.split(' ').filter((d) => !d.startsWith('iso=')).join(' '));
    const { perChain } = await rules();
    const keep = Object.fromEntries(Object.entries(rulesBefore).filter(([c]) => !c.endsWith('-iso')));
    // the base chains hold one jump per NI: iso's jumps are gone from them
    for (const [chain, n] of Object.entries(keep)) {
      if (['forward', 'input', 'postrouting'].includes(chain)) expect(perChain[chain], chain).toBeLessThan(n);
      else expect(perChain[chain], chain).toBe(n);
    }
    const s = await daemon.status();
    expect(s.networks.map((n) => `${n.name}:${n.state}`)).toEqual(['lab:ready', 'lan:ready', 'plant:ready']);
    expect(s.writes.dnsmasqStart).toBe(0);
    expect((await appView()).filter((a) => !a.startsWith(lone.name))).toEqual(appsBefore);
    expect(await web.ping('192.168.77.2')).toBe(true);
  });

  /** A foreign bridge, an unmarked `en…` link, a foreign nft table and a foreign dnsmasq, with its pid file outside our state dir. */
  async function makeForeign(dir: string): Promise<() => Promise<string>> {
    await dev.ip('link', 'add', 'br-foreign', 'type', 'bridge');
    await dev.ip('addr', 'add', '172.31.0.1/24', 'dev', 'br-foreign');
    await dev.ip('link', 'set', 'br-foreign', 'up');
    await dev.ip('link', 'add', 'enbr-foreign', 'type', 'bridge'); // our name pattern, but no mark: not ours
    await dev.must('nft', ['-f', '-'], {
      input: 'table inet foreign {\n chain input {\n type filter hook input priority 10; policy accept;\n udp dport 9999 counter accept\n }\n}\n',
    });
    const conf = join(dir, 'foreign.conf');
    await writeFile(conf, 'no-hosts\nno-resolv\n');
    foreign = spawn(
      'ip',
      ['netns', 'exec', dev.name, 'dnsmasq', '--keep-in-foreground', `--conf-file=${conf}`, '--bind-interfaces', '--interface=br-foreign', '--except-interface=lo', `--pid-file=${join(dir, 'foreign.pid')}`, '--user=root'],
      { stdio: 'ignore' },
    );
    const pid = foreign.pid as number;
    await eventually('foreign dnsmasq up', async () => (await readFile(join(dir, 'foreign.pid'), 'utf8').catch(() => '')).trim() === String(pid));
    return async () => {
      const ls = (await links()).filter((l) => ['br-foreign', 'enbr-foreign'].includes(l.ifname)).map((l) => `${l.ifindex} ${l.ifname} ${l.ifalias ?? '-'}`);
      const table = await dev.must('nft', ['-a', 'list', 'table', 'inet', 'foreign']);
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => 'gone')).replaceAll('\0', ' ');
      return [...ls, table, `${pid}: ${cmdline}`].join('\n');
    };
  }

  it('4. a foreign bridge, nft table and dnsmasq are untouched across start, repair, restart and down', async () => {
    scratch = await mkdtemp(join(tmpdir(), 'edgenet-foreign-'));
    await chmod(scratch, 0o755);
    const foreignView = await makeForeign(scratch);
    const untouched = await foreignView();
    expect(untouched).toContain('br-foreign');
    expect(untouched).toContain('--interface=br-foreign');
    // a stale pid file of an NI dropped long ago that names a PID now used by the foreign dnsmasq: never signalled
    const stateDir = join(scratch, 'state');
    await mkdir(join(stateDir, 'ghost'), { recursive: true });
    await writeFile(join(stateDir, 'ghost', 'dnsmasq.conf'), '# edgenet: dnsmasq of network instance ghost\n');
    await writeFile(join(stateDir, 'ghost', 'dnsmasq.pid'), `${foreign?.pid}\n`);

    daemon = await TestDaemon.start(dev, config('full'), { dir: scratch, stateDir });
    expect(await foreignView()).toBe(untouched);
    expect(existsSync(join(stateDir, 'ghost'))).toBe(false);

    // repairs: a deleted bridge, a flushed table, a killed dnsmasq
    await dev.ip('link', 'del', 'enbr-lan');
    await dev.must('nft', ['flush', 'table', 'inet', 'edgenet']);
    const lanPid = (await ourDnsmasq()).get('lan')?.[0] as number;
    process.kill(lanPid, 'SIGKILL');
    await eventually('lan repaired', async () => {
      const s = await daemon?.status();
      const lan = s?.networks.find((n) => n.name === 'lan');
      return lan?.state === 'ready' && lan.dnsmasqPid !== lanPid && (await dev.must('nft', ['list', 'table', 'inet', 'edgenet'])).includes('masquerade');
    }, 10_000);
    expect(await foreignView()).toBe(untouched);

    await daemon.stop('SIGKILL');
    await daemon.restart();
    expect(await foreignView()).toBe(untouched);

    const down = await cli('down', '--state-dir', stateDir);
    expect(down.code, down.stderr).toBe(0);
    expect(await foreignView()).toBe(untouched);
    expect((await links()).filter((l) => l.ifalias?.startsWith('edgenet:'))).toEqual([]);
  });

  /** After `down`: no link of ours, no table inet edgenet, no dnsmasq of ours, nothing in the state dir but the last good config (config.json, its journal). */
  async function expectAllGone(pids: number[]): Promise<void> {
    const names = (await links()).map((l) => l.ifname);
    expect(names.filter((n) => n.startsWith('en'))).toEqual([]);
    for (const ns of [web, db, lone, cam]) expect((await ns.ip('-o', 'link', 'show')).trim().split('\n'), ns.name).toHaveLength(1);
    expect((await dev.exec('nft', ['list', 'table', 'inet', 'edgenet'])).code).not.toBe(0);
    expect([...(await ourDnsmasq()).keys()]).toEqual([]);
    for (const pid of pids) expect(await alive(pid), `dnsmasq ${pid}`).toBe(false);
    expect((await readdir(state())).sort()).toEqual(['config.json', 'config.json.journal']);
    // the last good config is kept as it was: `edgenet run` alone brings the data plane back
    expect(JSON.parse((await readJournaled(join(state(), 'config.json'))) ?? '')).toMatchObject({ networks: expect.arrayContaining([expect.objectContaining({ name: 'iso' })]) });
  }

  it('5a. edgenet down with the daemon running: the daemon tears down and stops, nothing of ours is left', async () => {
    daemon = await TestDaemon.start(dev, config('full'));
    await dhcpLease(web);
    const pids = [...(await ourDnsmasq()).values()].flat();
    expect(pids).toHaveLength(3);
    const down = await cli('down', '--state-dir', state());
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toMatch(/daemon: tore down/);
    await eventually('daemon exited', () => daemon?.exitCode === 0);
    await expectAllGone(pids);

    // and it comes back from the kept last good config
    await daemon.restart({ resume: true });
    await expectConverged(expected.full, (await rules()).perChain);
  });

  it('5b. edgenet down with the daemon killed: everything of ours is found by its marks and removed', async () => {
    daemon = await TestDaemon.start(dev, config('full'));
    const pids = [...(await ourDnsmasq()).values()].flat();
    expect(pids).toHaveLength(3);
    await daemon.stop('SIGKILL');
    expect(existsSync(join(state(), 'api.sock'))).toBe(true); // left by the killed daemon
    const down = await cli('down', '--state-dir', state());
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toMatch(/no daemon answering/);
    for (const what of ['bridge enbr-lan', 'bridge enbr-plant', 'rules of lab', 'dnsmasq of iso', 'table inet edgenet', 'stale socket']) expect(down.stdout).toContain(what);
    await expectAllGone(pids);
    // again: nothing left to do, still success
    const again = await cli('down', '--state-dir', state());
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/nothing else of edgenet was left/);
  });

  it('6. a truncated last good config: a clear error naming the file, exit non-zero, nothing changed', async () => {
    daemon = await TestDaemon.start(dev, config('full'));
    await daemon.stop('SIGTERM');
    const file = join(state(), 'config.json');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.slice(0, Math.floor(text.length / 2)));
    const before = await kernelView();
    const stateBefore = (await readdir(state())).sort();

    const r = await cli('run', '--state-dir', state());
    expect(r.code).toBe(1);
    const out = r.stdout + r.stderr;
    expect(out).toContain(file);
    expect(out).toMatch(/corrupt/);
    expect(await kernelView()).toEqual(before);
    expect((await readdir(state())).sort()).toEqual(stateBefore);
    expect(await readFile(file, 'utf8')).toBe(text.slice(0, Math.floor(text.length / 2)));

    // no config at all: told to pass -c
    const empty = join(scratch ?? (scratch = await mkdtemp(join(tmpdir(), 'edgenet-empty-'))), 'state');
    const none = await cli('run', '--state-dir', empty);
    expect(none.code).toBe(1);
    expect(none.stdout + none.stderr).toMatch(/no config to run: pass -c/);
  });
});
