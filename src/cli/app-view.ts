// What an app sees of its network, asked from inside its namespace with busybox: a DHCP lease and DNS answers.
// Used by the demo (edgenet demo) and by the kernel tests, so both read the tools' output the same way.

/**
 * udhcpc runs this on each state: "bound"/"renew" configure the address and routes (the classless static routes of
 * option 121 when given — RFC 3442: a client that takes them ignores the router option — else the default route via
 * the router), and print what was got: one LEASE line, then one OPT line per list-valued option.
 */
export const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig) ip -4 addr flush dev "$interface" ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    if [ -n "$staticroutes" ]; then
      set -- $staticroutes
      while [ $# -ge 2 ]; do
        if [ "$2" = 0.0.0.0 ]; then ip route replace "$1" dev "$interface"; else ip route replace "$1" via "$2" dev "$interface"; fi
        shift 2
      done
    elif [ -n "$router" ]; then
      ip route replace default via "$router" dev "$interface"
    fi
    echo "LEASE ip=$ip mask=$mask router=$router dns=$dns mtu=$mtu"
    echo "OPT dns=$dns"
    echo "OPT ntpsrv=$ntpsrv"
    echo "OPT domain=$domain"
    echo "OPT search=$search"
    echo "OPT staticroutes=$staticroutes"
    echo "OPT msstaticroutes=$msstaticroutes"
    ;;
esac
`;

export interface Lease {
  ip: string;
  mask: string;
  router: string;
  /** the first DNS server (all of them: `options.dns`) */
  dns: string;
  mtu: string;
  /** list-valued options as udhcpc names them (dns, ntpsrv, domain, search, staticroutes, msstaticroutes), split on spaces */
  options: Record<string, string[]>;
}

/**
 * `busybox udhcpc -i IFNAME -n -q -f -t 5 -T 1 -s SCRIPT -O ...`: run it inside the app's namespace. It asks for NTP
 * servers, the search list and both classless route options besides what udhcpc asks for anyway.
 */
export function udhcpcArgs(ifname: string, script: string): string[] {
  return ['udhcpc', '-i', ifname, '-n', '-q', '-f', '-t', '5', '-T', '1', '-s', script, '-O', 'ntpsrv', '-O', 'search', '-O', 'staticroutes', '-O', 'msstaticroutes'];
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
  const options: Record<string, string[]> = {};
  for (const l of stdout.split('\n')) {
    const m = /^OPT (\w+)=(.*)$/.exec(l);
    if (m?.[1]) options[m[1]] = (m[2] ?? '').split(/\s+/).filter(Boolean);
  }
  return { ip: kv.ip ?? '', mask: kv.mask ?? '', router: kv.router ?? '', dns: kv.dns ?? '', mtu: kv.mtu ?? '', options };
}

/** `busybox nslookup -type=a NAME SERVER` (busybox exits non-zero when the AAAA query fails: read the answer instead). */
export function nslookupArgs(name: string, server: string): string[] {
  return ['nslookup', '-type=a', name, server];
}

/** Every A record in nslookup's answer (after the first "Name:" line). */
export function parseLookupAll(stdout: string): string[] {
  const i = stdout.search(/Name:\s*\S+/);
  if (i < 0) return [];
  return [...stdout.slice(i).matchAll(/Address(?: \d+)?:\s*(\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1] as string);
}

/** The A record in nslookup's answer (after the "Name:" line; the server's own address comes first). */
export function parseLookup(stdout: string): string | undefined {
  const after = stdout.split(/Name:\s*\S+/)[1] ?? '';
  return /Address(?: \d+)?:\s*(\d+\.\d+\.\d+\.\d+)/.exec(after)?.[1];
}
