// What an app sees of its network, asked from inside its namespace with busybox: a DHCP lease and DNS answers.
// Used by the demo (edgenet demo) and by the kernel tests, so both read the tools' output the same way.

/** udhcpc runs this on each state: "bound"/"renew" configure the address and default route, and print what was got. */
export const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig) ip -4 addr flush dev "$interface" ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "$router" dev "$interface"
    echo "LEASE ip=$ip mask=$mask router=$router dns=$dns mtu=$mtu"
    ;;
esac
`;

export interface Lease {
  ip: string;
  mask: string;
  router: string;
  dns: string;
  mtu: string;
}

/** `busybox udhcpc -i IFNAME -n -q -f -t 5 -T 1 -s SCRIPT`: run it inside the app's namespace. */
export function udhcpcArgs(ifname: string, script: string): string[] {
  return ['udhcpc', '-i', ifname, '-n', '-q', '-f', '-t', '5', '-T', '1', '-s', script];
}

/** The lease UDHCPC_SCRIPT printed, or undefined when udhcpc got none. */
export function parseLease(stdout: string): Lease | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith('LEASE '));
  if (!line) return undefined;
  const kv = Object.fromEntries(
    line
      .slice('LEASE '.length)
      .split(' ')
      .map((p) => p.split('=') as [string, string]),
  );
  return { ip: kv.ip ?? '', mask: kv.mask ?? '', router: kv.router ?? '', dns: kv.dns ?? '', mtu: kv.mtu ?? '' };
}

/** `busybox nslookup -type=a NAME SERVER` (busybox exits non-zero when the AAAA query fails: read the answer instead). */
export function nslookupArgs(name: string, server: string): string[] {
  return ['nslookup', '-type=a', name, server];
}

/** The A record in nslookup's answer (after the "Name:" line; the server's own address comes first). */
export function parseLookup(stdout: string): string | undefined {
  const after = stdout.split(/Name:\s*\S+/)[1] ?? '';
  return /Address(?: \d+)?:\s*(\d+\.\d+\.\d+\.\d+)/.exec(after)?.[1];
}
