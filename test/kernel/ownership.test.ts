// Only what is ours, as another local user sees it (uid 65534, `nobody`): dnsmasq runs as its own account, its pid
// file is root's in a root-only directory, and the state files (names, MACs, addresses) are not readable. As another
// instance sees it: a second one in the same namespace refuses to start, `edgenet down` run in another namespace
// refuses; both change nothing. As a neighbour sees it: an unmarked `enbr-<ni>` with its own member is not served.
import { readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeEach, expect, it } from 'vitest';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { dhcpLease, lookup } from '../helpers/dhcp.ts';
import { describeKernel, eventually, run, type Netns } from '../helpers/netns.ts';

describeKernel('only what is ours (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let dev: Netns, web: Netns, oth: Netns;

  beforeEach(async () => {
    ({ dev, web, oth } = await t.namespaces(['dev', 'web', 'oth']));
    daemon = await TestDaemon.start(
      dev,
      `networks:
  - { name: lan, type: local, subnet: 10.50.0.0/24 }
apps:
  - { name: web, interfaces: [{ network: lan, netns: ${web.path} }] }
`,
    );
    await dhcpLease(web);
  });

  const asNobody = (cmd: string, args: string[]) => run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', cmd, ...args]);

  /** Every file under the state dir (the API socket aside). */
  function stateFiles(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const p = join(dir, e.name);
      if (e.isDirectory()) return stateFiles(p);
      return e.isSocket() ? [] : [p];
    });
  }

  it('uid 65534 cannot kill dnsmasq, alter its pid file or read a state file; dnsmasq still reads its names', async () => {
    const pid = (await daemon!.status()).networks[0]?.dnsmasqPid;
    expect(pid).toBeGreaterThan(1);
    // dnsmasq dropped root to its own account, not nobody
    const status = (await run('cat', [`/proc/${pid}/status`])).stdout;
    const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
    const account = (await run('id', ['-u', 'edgenet-dns'])).stdout.trim();
    expect(uid).toBe(account);
    expect(uid).not.toBe('65534');

    const kill = await asNobody('kill', ['-TERM', String(pid)]);
    expect(kill.code).not.toBe(0);
    const pidFile = join(daemon!.stateDir, '_dnsmasq-pids', 'lan.pid');
    expect(statSync(pidFile).uid).toBe(0);
    expect(statSync(join(daemon!.stateDir, '_dnsmasq-pids')).mode & 0o777).toBe(0o700);
    const write = await asNobody('sh', ['-c', `echo 1 > ${pidFile}`]);
    expect(write.code).not.toBe(0);

    const files = stateFiles(daemon!.stateDir);
    const names = files.map((f) => f.slice(daemon!.stateDir.length + 1)).sort();
    expect(names).toEqual(expect.arrayContaining(['config.json', 'reservations.json', 'lan/leases', 'lan/hosts', 'lan/applied.json', 'lan/dnsmasq.conf']));
    // one file per app in each of dnsmasq's hosts dirs, named by the app's MAC
    expect(names.filter((n) => /^lan\/(dhcp-)?hosts\.d\/[0-9a-f]{2}(-[0-9a-f]{2}){5}$/.test(n))).toHaveLength(2);
    for (const f of files) {
      const r = await asNobody('cat', [f]);
      expect({ f, readable: r.code === 0 }).toEqual({ f, readable: false });
    }
    // the files dnsmasq re-reads are its group's: names still resolve, and the process is the same one
    expect(await lookup(web, 'web', '10.50.0.1')).toMatch(/^10\.50\.0\./);
    expect((await daemon!.status()).networks[0]?.dnsmasqPid).toBe(pid);
  });

  const REPO = resolve(import.meta.dirname, '..', '..');
  /** `edgenet <args>` as a process inside `ns` (an operator's shell there). */
  const cli = (ns: Netns, ...args: string[]) => run('nsenter', [`--net=${ns.path}`, process.execPath, join(REPO, 'bin/edgenet.js'), ...args], { timeoutMs: 60_000 });

  /** What must not change: links (ifindex, name, master, mark), the ruleset with handles, policy rules, dnsmasq pids. */
  async function dataPlane(opts: { pids?: boolean } = {}): Promise<string> {
    const links = (JSON.parse(await dev.ip('-j', '-d', 'link', 'show')) as { ifindex: number; ifname: string; master?: string; ifalias?: string }[])
      .map((l) => `${l.ifindex} ${l.ifname} ${l.master ?? '-'} ${l.ifalias ?? '-'}`)
      .join('\n');
    const rules = await dev.must('nft', ['-a', 'list', 'table', 'inet', 'edgenet']);
    const policy = await dev.ip('rule', 'show');
    const pids = opts.pids === false ? '' : (await daemon!.status()).networks.map((n) => `${n.name}=${n.dnsmasqPid}`).join(' ');
    return `${links}\n${rules}\n${policy}\n${pids}`;
  }

  it('a second instance in the same namespace (its own state dir) refuses to start, naming the first; nothing of the first changes', async () => {
    const before = await dataPlane();
    expect(before).toMatch(/enbr-lan - edgenet:[0-9a-f]{8}:ni:lan/); // marks carry the instance id
    const dir = await mkdtemp(join(tmpdir(), 'edgenet-second-'));
    try {
      // its config holds another NI: had it started, its orphan sweep would have removed enbr-lan
      await writeFile(join(dir, 'config.yaml'), 'networks:\n  - { name: other, type: local, subnet: 10.61.0.0/24 }\n');
      const t0 = Date.now();
      const r = await cli(dev, 'run', '-c', join(dir, 'config.yaml'), '--state-dir', join(dir, 'state'));
      console.log(`second instance refused in ${Date.now() - t0} ms (noisy, shared VM): ${r.stderr.trim().split('\n').at(-1)}`);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(`another edgenet instance runs in this network namespace`);
      expect(r.stderr).toContain(`pid ${daemon!.pid}, state dir ${daemon!.stateDir}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(await dataPlane()).toBe(before);
    expect((await daemon!.status()).networks.map((n) => [n.name, n.state])).toEqual([['lan', 'ready']]);
    expect(await lookup(web, 'web', '10.50.0.1')).toMatch(/^10\.50\.0\./);
  });

  it('`edgenet down` in another namespace refuses and changes nothing (daemon running, or not)', async () => {
    const before = await dataPlane();
    const r = await cli(oth, 'down', '--state-dir', daemon!.stateDir);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/this state belongs to network namespace inode \d+, not this one \(\d+\): refusing to tear down/);
    expect(await dataPlane()).toBe(before);
    // the daemon gone (SIGKILL, no clean-up): the offline path refuses as well
    const pids = (await daemon!.status()).networks.map((n) => n.dnsmasqPid);
    const kernel = await dataPlane({ pids: false });
    await daemon!.stop('SIGKILL');
    const again = await cli(oth, 'down', '--state-dir', daemon!.stateDir);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('refusing to tear down');
    expect(await dataPlane({ pids: false })).toBe(kernel);
    for (const pid of pids) expect((await run('cat', [`/proc/${pid}/cmdline`])).stdout).toContain('dnsmasq');
    // in its own namespace, down works
    const here = await cli(dev, 'down', '--state-dir', daemon!.stateDir);
    expect(here.code, here.stderr).toBe(0);
    expect((await dev.exec('ip', ['link', 'show', 'enbr-lan'])).code).not.toBe(0);
  });

  it('a pre-created unmarked enbr-x with a foreign member: NI x does not serve it (refused with the reason), the member stays', async () => {
    // a neighbour's bridge with our name shape, and its own host on it
    await dev.ip('link', 'add', 'enbr-x', 'type', 'bridge');
    await dev.ip('link', 'add', 'fx0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', oth.name);
    await dev.ip('link', 'set', 'fx0', 'master', 'enbr-x', 'up');
    await dev.ip('link', 'set', 'enbr-x', 'up');
    await oth.ip('link', 'set', 'eth0', 'up');
    const bridgeBefore = await dev.ip('-o', 'link', 'show', 'enbr-x');
    await daemon!.apply(`networks:
  - { name: lan, type: local, subnet: 10.50.0.0/24 }
  - { name: x, type: local, subnet: 10.51.0.0/24 }
apps:
  - { name: web, interfaces: [{ network: lan, netns: ${web.path} }] }
`);
    const x = await eventually('NI x refused with the reason', async () => {
      const n = (await daemon!.status()).networks.find((m) => m.name === 'x');
      return n && n.state === 'degraded' && /enbr-x.*exists without edgenet's mark, with member .*: not created by edgenet/.test(n.reason ?? '') ? n : undefined;
    }, 20_000).catch(async (err: unknown) => {
      throw new Error(`${String(err)}; NI x is ${JSON.stringify((await daemon!.status()).networks.find((m) => m.name === 'x'))}`);
    });
    console.log(`NI x: ${x.state} (${x.reason})`);
    expect(x.dnsmasqPid).toBeUndefined();
    // the member is where its owner put it, the bridge as it was (no mark, no address), and nobody leases to it
    expect(await dev.ip('-o', 'link', 'show', 'fx0')).toContain('master enbr-x');
    expect(await dev.ip('-o', 'link', 'show', 'enbr-x')).toBe(bridgeBefore);
    expect((await dev.ip('-o', '-4', 'addr', 'show', 'dev', 'enbr-x')).trim()).toBe('');
    await expect(dhcpLease(oth)).rejects.toThrow(/no DHCP lease/);
    // the rest keeps working
    expect((await daemon!.status()).networks.find((n) => n.name === 'lan')?.state).toBe('ready');
    expect(await lookup(web, 'web', '10.50.0.1')).toMatch(/^10\.50\.0\./);
  });
});
