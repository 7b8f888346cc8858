// The hand-written baseline: the same kernel work edgenet does for the topology, done the fastest obvious way by
// hand — one `ip -batch` (bridges created, marked and up; gateway addresses; every tap enslaved and up), one
// `nft -f` (the same table, chains and rules as edgenet's), ip_forward, and the dnsmasq processes started in
// parallel (same conf and hosts files, ready when each has written its pid file, as edgenet waits for).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { dnsmasqFileList, dnsmasqPaths, renderDnsmasqFiles } from '../src/drivers/dhcpdns-dnsmasq.ts';
import { bridgeName, deriveMac, niAlias } from '../src/util/names.ts';
import { must, sleep, type Sandbox } from './sandbox.ts';
import { hostIn, lastHost, sharesPort, type Topology } from './topology.ts';

export interface BaselineResult {
  totalMs: number;
  ipBatchMs: number;
  nftMs: number;
  dnsmasqMs: number;
  commands: { ip: number; nftRules: number; dnsmasq: number };
}

function ipBatch(t: Topology): string[] {
  const lines: string[] = [];
  for (const ni of t.nis) {
    const br = bridgeName(ni.name);
    lines.push(`link add ${br} type bridge`, `link set dev ${br} up alias ${niAlias(ni.name)}`);
    if (ni.type === 'local') lines.push(`addr add ${ni.gateway}/${ni.prefixlen ?? 24} brd + dev ${br}`);
  }
  for (const tp of t.taps) lines.push(`link set dev ${tp.tap} master ${bridgeName(tp.ni)} up`);
  return lines;
}

/** DESIGN §5, as edgenet's firewall driver lays it out: base chains jumping to per-NI chains. */
function nftScript(t: Topology): { text: string; rules: number } {
  let rules = 0;
  const r = (s: string): string => {
    rules++;
    return `    ${s}`;
  };
  const niChains: string[] = [];
  const fwdJumps: string[] = [];
  const inJumps: string[] = [];
  const natJumps: string[] = [];
  for (const ni of t.nis) {
    if (ni.type !== 'local') continue;
    const br = `"${bridgeName(ni.name)}"`;
    const port = sharesPort(t, ni.name) ? `"${t.port.ifname}"` : undefined;
    const c = `edgenet ni=${ni.name}`;
    niChains.push(
      `  chain fwd-${ni.name} {`,
      r(`iifname ${br} oifname ${br} accept`),
      ...(port ? [r(`iifname ${br} oifname ${port} accept`)] : []),
      r(`oifname ${br} ct state established,related accept`),
      r(`oifname ${br} drop`),
      r(`iifname ${br} drop`),
      '  }',
      `  chain in-${ni.name} {`,
      r('ct state established,related accept'),
      r('udp dport 67 accept'),
      r(`ip daddr ${ni.gateway} udp dport 53 accept`),
      r(`ip daddr ${ni.gateway} tcp dport 53 accept`),
      r(`ip daddr ${ni.gateway} icmp type echo-request accept`),
      r('drop'),
      '  }',
      `  chain nat-${ni.name} {`,
      ...(port ? [r(`oifname ${port} masquerade`)] : []),
      '  }',
    );
    fwdJumps.push(r(`iifname ${br} jump fwd-${ni.name} comment "${c}"`), r(`oifname ${br} jump fwd-${ni.name} comment "${c}"`));
    inJumps.push(r(`iifname ${br} jump in-${ni.name} comment "${c}"`));
    natJumps.push(r(`ip saddr ${ni.subnet} jump nat-${ni.name} comment "${c}"`));
  }
  const text = [
    'table inet edgenet {',
    ...niChains,
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    ...fwdJumps,
    '  }',
    '  chain input {',
    '    type filter hook input priority 0; policy accept;',
    ...inJumps,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority 100; policy accept;',
    ...natJumps,
    '  }',
    '}',
    '',
  ].join('\n');
  return { text, rules };
}

async function startDnsmasq(sandbox: Sandbox, ns: string, stateDir: string, t: Topology, niName: string): Promise<number> {
  const ni = t.nis.find((n) => n.name === niName)!;
  const paths = dnsmasqPaths(stateDir, ni.name);
  const members = t.taps.filter((tp) => tp.ni === ni.name);
  const files = renderDnsmasqFiles(
    {
      ni: ni.name,
      bridge: bridgeName(ni.name),
      subnet: ni.subnet!,
      gateway: ni.gateway!,
      prefixlen: ni.prefixlen ?? 24,
      range: { start: hostIn(ni, 128), end: hostIn(ni, lastHost(ni)) },
      forwarders: [],
      staticHosts: [],
      reservations: members.map((m, k) => ({ name: m.app, mac: deriveMac(m.app, ni.name), ip: hostIn(ni, 128 + k) })),
    },
    paths,
  );
  await Promise.all([paths.hostsDir, paths.dhcpHostsDir, dirname(paths.pid)].map((d) => mkdir(d, { recursive: true, mode: 0o755 })));
  await Promise.all(dnsmasqFileList(paths, files).map((f) => writeFile(f.path, f.data)));
  const child = sandbox.spawnIn(ns, ['/usr/sbin/dnsmasq', ...files.args], { detached: true, stdio: 'ignore' });
  const pid = child.pid!;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`baseline dnsmasq of ${ni.name} exited ${child.exitCode}`);
    const text = await readFile(paths.pid, 'utf8').catch(() => '');
    if (Number(text.trim()) === pid) return pid;
    if (Date.now() > deadline) throw new Error(`baseline dnsmasq of ${ni.name}: no pid file`);
    await sleep(5);
  }
}

/** Runs the baseline in `ns` (whose taps and port exist already); times the whole and its parts. */
export async function runBaseline(sandbox: Sandbox, ns: string, dir: string, t: Topology): Promise<BaselineResult> {
  const stateDir = join(dir, 'state');
  await mkdir(stateDir, { recursive: true, mode: 0o755 });
  const batchFile = join(dir, 'baseline.batch');
  const nftFile = join(dir, 'baseline.nft');
  const batch = ipBatch(t);
  const nft = nftScript(t);

  const t0 = performance.now();
  // a hand-written script writes its inputs too: that is inside the timing
  await Promise.all([writeFile(batchFile, `${batch.join('\n')}\n`), writeFile(nftFile, nft.text)]);
  await must('ip', ['-n', ns, '-batch', batchFile], { timeoutMs: 120_000 });
  const t1 = performance.now();
  // rules and dnsmasqs do not depend on each other: in parallel, as a careful hand would
  let nftMs = 0;
  const rules = (async () => {
    const s = performance.now();
    await must('nsenter', [`--net=/run/netns/${ns}`, 'nft', '-f', nftFile]);
    await must('nsenter', [`--net=/run/netns/${ns}`, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    nftMs = performance.now() - s;
  })();
  const locals = t.nis.filter((n) => n.type === 'local');
  const dns = Promise.all(locals.map((n) => startDnsmasq(sandbox, ns, stateDir, t, n.name)));
  await Promise.all([rules, dns]);
  const t2 = performance.now();
  return {
    totalMs: t2 - t0,
    ipBatchMs: t1 - t0,
    nftMs,
    dnsmasqMs: t2 - t1,
    commands: { ip: batch.length, nftRules: nft.rules, dnsmasq: locals.length },
  };
}
