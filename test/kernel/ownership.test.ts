// Only what is ours, as another local user sees it (uid 65534, `nobody`): dnsmasq runs as its own account, its pid
// file is root's in a root-only directory, and the state files (names, MACs, addresses) are not readable.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, expect, it } from 'vitest';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { dhcpLease, lookup } from '../helpers/dhcp.ts';
import { describeKernel, run, type Netns } from '../helpers/netns.ts';

describeKernel('only what is ours (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let dev: Netns, web: Netns;

  beforeEach(async () => {
    ({ dev, web } = await t.namespaces(['dev', 'web']));
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
    expect(files.map((f) => f.slice(daemon!.stateDir.length + 1)).sort()).toEqual(
      expect.arrayContaining(['config.json', 'reservations.json', 'lan/leases', 'lan/hosts', 'lan/dhcp-hosts', 'lan/applied.json', 'lan/dnsmasq.conf']),
    );
    for (const f of files) {
      const r = await asNobody('cat', [f]);
      expect({ f, readable: r.code === 0 }).toEqual({ f, readable: false });
    }
    // the files dnsmasq re-reads are its group's: names still resolve, and the process is the same one
    expect(await lookup(web, 'web', '10.50.0.1')).toMatch(/^10\.50\.0\./);
    expect((await daemon!.status()).networks[0]?.dnsmasqPid).toBe(pid);
  });
});
