// DHCP and DNS as an app sees them: busybox udhcpc and nslookup inside the app's namespace.
import { rmSync } from 'node:fs';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Netns } from './netns.ts';

let scriptPath: string | undefined;

// udhcpc runs this on each state: "bound"/"renew" configure the address and default route, and print what was got.
async function udhcpcScript(): Promise<string> {
  if (scriptPath) return scriptPath;
  const dir = await mkdtemp(join(tmpdir(), 'edgenet-udhcpc-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  scriptPath = join(dir, 'script.sh');
  await writeFile(
    scriptPath,
    `#!/bin/sh
case "$1" in
  deconfig) ip -4 addr flush dev "$interface" ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "$router" dev "$interface"
    echo "LEASE ip=$ip mask=$mask router=$router dns=$dns mtu=$mtu"
    ;;
esac
`,
  );
  await chmod(scriptPath, 0o755);
  return scriptPath;
}

export interface Lease {
  ip: string;
  mask: string;
  router: string;
  dns: string;
  mtu: string;
}

/** Gets a lease on `ifname` inside `ns` and configures it; throws when no lease is obtained. */
export async function dhcpLease(ns: Netns, ifname = 'eth0'): Promise<Lease> {
  const script = await udhcpcScript();
  const r = await ns.exec('busybox', ['udhcpc', '-i', ifname, '-n', '-q', '-f', '-t', '5', '-T', '1', '-s', script], { timeoutMs: 20_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('LEASE '));
  if (!line) throw new Error(`no DHCP lease in ${ns.name} on ${ifname}: ${r.stdout} ${r.stderr}`);
  const kv = Object.fromEntries(
    line
      .slice(6)
      .split(' ')
      .map((p) => p.split('=') as [string, string]),
  );
  return { ip: kv.ip ?? '', mask: kv.mask ?? '', router: kv.router ?? '', dns: kv.dns ?? '', mtu: kv.mtu ?? '' };
}

/** Resolves `name` with busybox nslookup against `server`; undefined when it does not resolve. */
export async function lookup(ns: Netns, name: string, server: string): Promise<string | undefined> {
  // busybox asks for A and AAAA and exits non-zero when either fails: read the answer, not the exit code
  const r = await ns.exec('busybox', ['nslookup', '-type=a', name, server], { timeoutMs: 10_000 });
  // the answer section follows the "Name:" line; the server's own address comes first
  const after = r.stdout.split(/Name:\s*\S+/)[1] ?? '';
  return /Address(?: \d+)?:\s*(\d+\.\d+\.\d+\.\d+)/.exec(after)?.[1];
}
