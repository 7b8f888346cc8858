// DhcpDns on dnsmasq: one supervised `dnsmasq --keep-in-foreground` per local network instance.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fchmodSync, fchownSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import ipaddr from 'ipaddr.js';
import { silentLogger, type EdgenetLogger as Logger } from '../util/logger.ts';
import { Subject, type Observable } from 'rxjs';
import { ConfigError, KernelError, errorMessage, type ConfigIssue } from '../errors.ts';
import type { DhcpDns, DhcpDnsEvent, DhcpDnsSpec, DhcpLease, DhcpOptionsSpec } from './dhcpdns.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { WriteCounter } from './write-counter.ts';

export interface DnsmasqBackoff {
  /** first restart delay after an unexpected exit */
  initialMs: number;
  /** the delay doubles up to this */
  maxMs: number;
  /** a process that ran this long resets the delay to `initialMs` */
  stableMs: number;
}

export interface DnsmasqDriverOptions {
  stateDir: string;
  /** command prefix, e.g. `['ip', 'netns', 'exec', 'ent-x-dev']` (it execs, so the child's pid is dnsmasq's) */
  exec?: string[];
  /** dnsmasq binary; default /usr/sbin/dnsmasq when present, else `dnsmasq` from PATH */
  binary?: string;
  logger?: Logger;
  backoff?: Partial<DnsmasqBackoff>;
  /** DHCP lease time as dnsmasq spells it; default 1h (reservations make renewals cheap, stale leases short) */
  leaseTime?: string;
  /** SIGTERM, then SIGKILL after this long */
  stopTimeoutMs?: number;
  /** how long a start may take before dnsmasq has written its pid file */
  startTimeoutMs?: number;
  /** how often an adopted dnsmasq (not our child: no exit event) is checked for life */
  adoptPollMs?: number;
  /** the account dnsmasq drops to (user and group of that name); default `edgenet-dns` */
  account?: string;
}

/** The unprivileged account dnsmasq drops to (scripts/setup.sh creates it): not the shared nobody/nogroup. */
export const DNSMASQ_ACCOUNT = 'edgenet-dns';

/** uid and gid of `name` from /etc/passwd and /etc/group; undefined when the account does not exist. */
export function lookupAccount(name: string): { uid: number; gid: number } | undefined {
  const field = (file: string, col: number): number | undefined => {
    try {
      const line = readFileSync(file, 'utf8').split('\n').find((l) => l.split(':')[0] === name);
      const v = line?.split(':')[col];
      return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
    } catch {
      return undefined;
    }
  };
  const uid = field('/etc/passwd', 2);
  const gid = field('/etc/group', 2);
  return uid !== undefined && gid !== undefined ? { uid, gid } : undefined;
}

/** dnsmasq's files are runtime state (rendered again from the config at start): written atomically, not fsynced */
const RUNTIME = { durable: false } as const;

export const DEFAULT_BACKOFF: DnsmasqBackoff = { initialMs: 200, maxMs: 10_000, stableMs: 60_000 };

/** Files of one NI's dnsmasq under the state dir. */
export interface DnsmasqPaths {
  dir: string;
  conf: string;
  /** the NI's static names (dns.hosts, `router`): re-read on SIGHUP */
  hosts: string;
  /** one file per reservation (`<mac>`, colons as dashes): dnsmasq reads a new file by itself (inotify) */
  hostsDir: string;
  /** the same for DHCP reservations: new files are read by themselves; a changed or removed one needs a SIGHUP */
  dhcpHostsDir: string;
  /** upstream resolvers (`server=` lines): re-read on SIGHUP */
  servers: string;
  leases: string;
  pid: string;
  /** what the running process was started with and last reloaded with: lets a restarted edgenet adopt it */
  applied: string;
}

/** Directory (under the state dir) of dnsmasq's pid files, mode 0700: `_` keeps it apart from every NI name. */
export const DNSMASQ_PID_DIR = '_dnsmasq-pids';

export function dnsmasqPaths(stateDir: string, ni: string): DnsmasqPaths {
  checkNiName(ni);
  const dir = join(resolve(stateDir), ni);
  return {
    dir,
    conf: join(dir, 'dnsmasq.conf'),
    hosts: join(dir, 'hosts'),
    hostsDir: join(dir, 'hosts.d'),
    dhcpHostsDir: join(dir, 'dhcp-hosts.d'),
    servers: join(dir, 'servers'),
    leases: join(dir, 'leases'),
    // root's alone: a directory only root enters (the NI's own dir is readable to dnsmasq's group)
    pid: join(resolve(stateDir), DNSMASQ_PID_DIR, `${ni}.pid`),
    applied: join(dir, 'applied.json'),
  };
}

/** One reservation's two files: `name` in the hosts dir and in the DHCP hosts dir. */
export interface DnsmasqEntry {
  /** the MAC, colons as dashes */
  name: string;
  /** `<ip> <name> <name>.<ni>` */
  hosts: string;
  /** `<mac>,[set:<tag>,]<ip>,<name>` */
  dhcp: string;
}

/** What one spec turns into: the command line, the conf, the static hosts and servers files, one entry per reservation. */
export interface DnsmasqFiles {
  args: string[];
  conf: string;
  /** every name served (static and reservations), sorted: what the records compare */
  hosts: string;
  /** every DHCP reservation, sorted: what the records compare */
  dhcpHosts: string;
  /** the `hosts` file: static names only */
  staticHosts: string;
  /** per reservation, sorted by name */
  entries: DnsmasqEntry[];
  servers: string;
}

/** A rendered entry's address (its hosts line begins with it). */
function entryIp(e: DnsmasqEntry): string {
  return e.hosts.slice(0, e.hosts.indexOf(' '));
}

/** The file name of a reservation's entries: its MAC, which is unique on the NI (validated). */
export const entryName = (mac: string): string => mac.toLowerCase().replaceAll(':', '-');

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const LABEL_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const HOSTNAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const LEASE_TIME_RE = /^(infinite|\d+[smhdw]?)$/;

function checkNiName(ni: string): void {
  // The name is a directory under the state dir and a DNS domain: no path tricks, a DNS label.
  if (!LABEL_RE.test(ni)) throw new ConfigError([{ path: 'ni', message: `must be a DNS label, got ${JSON.stringify(ni)}` }]);
}

function isIpv4(s: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(s);
}

function isForwarder(s: string): boolean {
  // dnsmasq's server= takes an address with an optional #port.
  const m = /^([^#]+)(#(\d{1,5}))?$/.exec(s);
  if (!m?.[1]) return false;
  const port = m[3] === undefined ? 53 : Number(m[3]);
  return port >= 1 && port <= 65535 && (isIpv4(m[1]) || ipaddr.IPv6.isValid(m[1]));
}

/** Rejects what would be a broken or injected line in dnsmasq's files. */
export function validateDhcpDnsSpec(spec: DhcpDnsSpec): void {
  const issues: ConfigIssue[] = [];
  const bad = (path: string, message: string): void => {
    issues.push({ path, message });
  };
  if (!LABEL_RE.test(spec.ni)) bad('ni', `must be a DNS label, got ${JSON.stringify(spec.ni)}`);
  if (!IFNAME_RE.test(spec.bridge)) bad('bridge', `must be an interface name, got ${JSON.stringify(spec.bridge)}`);
  for (const [path, v] of [
    ['gateway', spec.gateway],
    ['range.start', spec.range.start],
    ['range.end', spec.range.end],
  ] as const) {
    if (!isIpv4(v)) bad(path, `must be an IPv4 address, got ${JSON.stringify(v)}`);
  }
  if (!Number.isInteger(spec.prefixlen) || spec.prefixlen < 1 || spec.prefixlen > 30) bad('prefixlen', `must be 1..30, got ${spec.prefixlen}`);
  if (spec.mtu !== undefined && (!Number.isInteger(spec.mtu) || spec.mtu < 68 || spec.mtu > 65535)) bad('mtu', `must be an integer 68..65535, got ${spec.mtu}`);
  spec.forwarders.forEach((f, i) => {
    if (!isForwarder(f)) bad(`forwarders[${i}]`, `must be an IP address (optionally #port), got ${JSON.stringify(f)}`);
  });
  (spec.upstream ?? []).forEach((u, i) => {
    if (!isIpv4(u.ip)) bad(`upstream[${i}].ip`, `must be an IPv4 address, got ${JSON.stringify(u.ip)}`);
    if (!IFNAME_RE.test(u.ifname)) bad(`upstream[${i}].ifname`, `must be an interface name, got ${JSON.stringify(u.ifname)}`);
  });
  if (spec.dhcp) validateDhcpOptions(spec.dhcp, bad);
  spec.staticHosts.forEach((h, i) => {
    if (!HOSTNAME_RE.test(h.name)) bad(`staticHosts[${i}].name`, `must be a DNS name, got ${JSON.stringify(h.name)}`);
    if (!isIpv4(h.ip)) bad(`staticHosts[${i}].ip`, `must be an IPv4 address, got ${JSON.stringify(h.ip)}`);
  });
  (spec.nftsets ?? []).forEach((n, i) => {
    if (!HOSTNAME_RE.test(n.host)) bad(`nftsets[${i}].host`, `must be a DNS name, got ${JSON.stringify(n.host)}`);
    n.sets.forEach((set, k) => {
      if (!/^[a-z0-9-]{1,64}$/.test(set)) bad(`nftsets[${i}].sets[${k}]`, `must be an nft set name, got ${JSON.stringify(set)}`);
    });
  });
  const macs = new Set<string>();
  spec.reservations.forEach((r, i) => {
    if (!LABEL_RE.test(r.name)) bad(`reservations[${i}].name`, `must be a DNS label, got ${JSON.stringify(r.name)}`);
    if (!isIpv4(r.ip)) bad(`reservations[${i}].ip`, `must be an IPv4 address, got ${JSON.stringify(r.ip)}`);
    const mac = r.mac.toLowerCase();
    if (!MAC_RE.test(mac)) bad(`reservations[${i}].mac`, `must be a MAC address, got ${JSON.stringify(r.mac)}`);
    else if (macs.has(mac)) bad(`reservations[${i}].mac`, `${mac} is reserved twice`);
    macs.add(mac);
  });
  if (issues.length > 0) throw new ConfigError(issues, `dnsmasq spec for ${JSON.stringify(spec.ni)}`);
}

const CIDR_RE = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/;

function validateDhcpOptions(o: DhcpOptionsSpec, bad: (path: string, message: string) => void): void {
  if (o.router !== undefined && !isIpv4(o.router)) bad('dhcp.router', `must be an IPv4 address, got ${JSON.stringify(o.router)}`);
  for (const key of ['dns', 'ntp'] as const) {
    o[key].forEach((a, i) => {
      if (!isIpv4(a)) bad(`dhcp.${key}[${i}]`, `must be an IPv4 address, got ${JSON.stringify(a)}`);
    });
  }
  if (o.domain !== undefined && (!HOSTNAME_RE.test(o.domain) || o.domain.length > 253)) bad('dhcp.domain', `must be a DNS name, got ${JSON.stringify(o.domain)}`);
  o.routes.forEach((r, i) => {
    const m = CIDR_RE.exec(r.to);
    if (!m?.[1] || !isIpv4(m[1]) || Number(m[2]) > 32) bad(`dhcp.routes[${i}].to`, `must be an IPv4 prefix, got ${JSON.stringify(r.to)}`);
    if (!isIpv4(r.via)) bad(`dhcp.routes[${i}].via`, `must be an IPv4 address, got ${JSON.stringify(r.via)}`);
  });
}

/** dnsmasq tag of a reservation that is the gateway of offered routes (an app routing for others). */
export function gatewayTag(ip: string): string {
  return `gw-${ip.replaceAll('.', '-')}`;
}

function routeList(routes: readonly { to: string; via: string }[]): string {
  return routes.map((r) => `${r.to},${r.via}`).join(',');
}

/**
 * DHCP options lines: 3, 6, 42, 15/119 and the classless routes 121 (RFC 3442) and 249 (the same for old Windows
 * clients). An empty `dhcp-option=3` / `=6` tells dnsmasq to send no router / no DNS server (not even itself). Apps
 * that are the gateway of some routes (tagged in dhcp-hosts) get the routes without those; everyone else gets all.
 */
function dhcpOptionLines(o: DhcpOptionsSpec | undefined, gateway: string, tags: readonly { tag: string; ip: string }[]): string[] {
  if (!o) return [`dhcp-option=3,${gateway}`, `dhcp-option=6,${gateway}`];
  const lines = [
    o.router === undefined ? 'dhcp-option=3' : `dhcp-option=3,${o.router}`,
    o.dns.length === 0 ? 'dhcp-option=6' : `dhcp-option=6,${o.dns.join(',')}`,
  ];
  if (o.ntp.length > 0) lines.push(`dhcp-option=42,${o.ntp.join(',')}`);
  if (o.domain !== undefined) lines.push(`dhcp-option=15,${o.domain}`, `dhcp-option=119,${o.domain}`);
  if (o.routes.length === 0) return lines;
  const everyone = tags.map((t) => `tag:!${t.tag},`).join('');
  for (const code of [121, 249]) {
    lines.push(`dhcp-option=${everyone}${code},${routeList(o.routes)}`);
    for (const t of tags) {
      const own = o.routes.filter((r) => r.via !== t.ip);
      if (own.length > 0) lines.push(`dhcp-option=tag:${t.tag},${code},${routeList(own)}`);
    }
  }
  return lines;
}

/**
 * Renders a spec. Pure: the same spec gives the same text (hosts sorted), so comparing texts tells "nothing
 * changed" from "reload" (hosts/dhcp-hosts differ) from "restart" (args/conf differ).
 */
export function renderDnsmasqFiles(spec: DhcpDnsSpec, paths: DnsmasqPaths, leaseTime = '1h'): DnsmasqFiles {
  validateDhcpDnsSpec(spec);
  if (!LEASE_TIME_RE.test(leaseTime)) throw new ConfigError([{ path: 'leaseTime', message: `not a dnsmasq lease time: ${leaseTime}` }]);
  const netmask = ipaddr.IPv4.subnetMaskFromPrefixLength(spec.prefixlen).toString();
  const vias = new Set((spec.dhcp?.routes ?? []).map((r) => r.via));
  const tags = spec.reservations.filter((r) => vias.has(r.ip)).map((r) => ({ tag: gatewayTag(r.ip), ip: r.ip }));
  const tagOf = new Map(tags.map((t) => [t.ip, t.tag]));
  const conf = [
    `# edgenet: dnsmasq of network instance ${spec.ni} (generated; edits are overwritten)`,
    // Only the bridge (named on the command line) and the gateway: never the device's other interfaces.
    'bind-interfaces',
    'except-interface=lo',
    `listen-address=${spec.gateway}`,
    // The device's own /etc/hosts and resolv.conf are not the apps' business.
    'no-hosts',
    'no-resolv',
    // upstream resolvers live in their own file: dnsmasq re-reads it on SIGHUP (a port's servers change: no restart)
    `servers-file=${paths.servers}`,
    // Plain names are app names: answer them here, never ask the forwarders.
    'domain-needed',
    `domain=${spec.ni}`,
    `local=/${spec.ni}/`,
    `pid-file=${paths.pid}`,
    'log-facility=-',
    'log-dhcp',
    'dhcp-authoritative',
    `dhcp-range=${spec.range.start},${spec.range.end},${netmask},${leaseTime}`,
    `dhcp-leasefile=${paths.leases}`,
    // one file per app: a new app's files are read by dnsmasq itself (inotify), no SIGHUP round trip
    `dhcp-hostsdir=${paths.dhcpHostsDir}`,
    `hostsdir=${paths.hostsDir}`,
    `addn-hosts=${paths.hosts}`,
    ...dhcpOptionLines(spec.dhcp, spec.gateway, tags),
    ...(spec.mtu === undefined ? [] : [`dhcp-option=26,${spec.mtu}`]),
    // a name an app asks for in DHCP is not published (it could claim wpad or a neighbour's name) unless allowed
    ...(spec.dhcpHostnames === true ? [] : ['dhcp-ignore-names']),
    ...nftsetLines(spec),
    '',
  ].join('\n');
  const staticLines = spec.staticHosts.map((h) => `${h.ip} ${h.name}${h.name.includes('.') ? '' : ` ${h.name}.${spec.ni}`}`).sort();
  const entries = spec.reservations
    .map((r): DnsmasqEntry => {
      const tag = tagOf.get(r.ip);
      return {
        name: entryName(r.mac),
        hosts: `${r.ip} ${r.name} ${r.name}.${spec.ni}`,
        dhcp: `${r.mac.toLowerCase()},${tag === undefined ? '' : `set:${tag},`}${r.ip},${r.name}`,
      };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const hostLines = [...entries.map((e) => e.hosts), ...staticLines].sort();
  const dhcpLines = entries.map((e) => e.dhcp).sort();
  const serverLines = [...spec.forwarders.map((f) => `server=${f}`), ...(spec.upstream ?? []).map((u) => `server=${u.ip}@${u.ifname}`)];
  return {
    args: ['--keep-in-foreground', `--conf-file=${paths.conf}`, `--interface=${spec.bridge}`],
    conf,
    hosts: hostLines.map((l) => `${l}\n`).join(''),
    dhcpHosts: dhcpLines.map((l) => `${l}\n`).join(''),
    staticHosts: staticLines.map((l) => `${l}\n`).join(''),
    entries: entries.map((e) => ({ ...e, hosts: `${e.hosts}\n`, dhcp: `${e.dhcp}\n` })),
    servers: serverLines.map((l) => `${l}\n`).join(''),
  };
}

/** Every file of `files` with its path (the conf, the static hosts and servers files, each entry in its dir): for a
 * dnsmasq started by hand with edgenet's files (the bench's baseline). */
export function dnsmasqFileList(paths: DnsmasqPaths, files: DnsmasqFiles): { path: string; data: string }[] {
  return [
    { path: paths.conf, data: files.conf },
    { path: paths.hosts, data: files.staticHosts },
    { path: paths.servers, data: files.servers },
    ...files.entries.flatMap((e) => [
      { path: join(paths.hostsDir, e.name), data: e.hosts },
      { path: join(paths.dhcpHostsDir, e.name), data: e.dhcp },
    ]),
  ];
}

/** `nftset=/<host>/4#inet#edgenet#<set>,...`: one line per name, sets sorted (the text must be stable). */
function nftsetLines(spec: DhcpDnsSpec): string[] {
  const byHost = new Map<string, Set<string>>();
  for (const n of spec.nftsets ?? []) {
    const sets = byHost.get(n.host) ?? new Set<string>();
    for (const s of n.sets) sets.add(s);
    byHost.set(n.host, sets);
  }
  return [...byHost.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([host, sets]) => `nftset=/${host}/${[...sets].sort().map((s) => `4#inet#edgenet#${s}`).join(',')}`);
}

/** Parses dnsmasq's lease file: `<expiry> <mac> <ip> <hostname|*> <client-id|*>` (IPv6 `duid` lines skipped). */
export function parseLeases(text: string): DhcpLease[] {
  const out: DhcpLease[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const [expiry, mac, ip, hostname] = f;
    if (expiry === undefined || mac === undefined || ip === undefined || !/^\d+$/.test(expiry) || !isIpv4(ip)) continue;
    out.push({ mac: mac.toLowerCase(), ip, expires: Number(expiry), ...(hostname && hostname !== '*' ? { hostname } : {}) });
  }
  return out;
}

/** The lease file without the leases of `mac` (other lines untouched). */
export function withoutLease(text: string, mac: string): string {
  const m = mac.toLowerCase();
  return text
    .split('\n')
    .filter((line) => line.trim().split(/\s+/)[1]?.toLowerCase() !== m)
    .join('\n');
}

/** Reads `/proc/<pid>/cmdline` as argv; undefined when the process is gone (or a zombie). */
async function cmdlineOf(pid: number): Promise<string[] | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    if (raw === '') return undefined;
    return raw.replace(/\0$/, '').split('\0');
  } catch {
    return undefined;
  }
}

/** True when `pid` is a dnsmasq started with `--conf-file=<conf>`: the check before signalling a PID we did not spawn. */
export async function isOwnedDnsmasq(pid: number, conf: string): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  const argv = await cmdlineOf(pid);
  return argv !== undefined && basename(argv[0] ?? '') === 'dnsmasq' && argv.includes(`--conf-file=${conf}`);
}

/**
 * The PID of the NI's dnsmasq: the one edgenet recorded itself (applied.json, root's, 0600) first, then the pid
 * file (root's directory; the NI dir's for an older edgenet) — each only when that PID is still a dnsmasq reading
 * our conf file (a stale record may name a recycled PID: never signal that).
 */
export async function findOwnedDnsmasq(stateDir: string, ni: string): Promise<number | undefined> {
  const paths = dnsmasqPaths(stateDir, ni);
  const recorded = await readFile(paths.applied, 'utf8').then(parseApplied, () => undefined);
  const candidates = [recorded?.pid];
  for (const file of [paths.pid, join(paths.dir, 'dnsmasq.pid')]) {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined) candidates.push(Number(text.trim()));
  }
  for (const pid of candidates) if (pid !== undefined && (await isOwnedDnsmasq(pid, paths.conf))) return pid;
  return undefined;
}

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** What a running dnsmasq was started with (args + conf) and last read (hosts files): persisted as applied.json. */
interface Applied {
  pid: number;
  args: string[];
  /** sha256 of args and conf */
  config: string;
  hosts: string;
  dhcpHosts: string;
  /** sha256 of the servers file (absent in records of older versions: read as "unknown", a reload) */
  servers?: string;
  /** sha256 of the static hosts file (absent in older records: "unknown") */
  staticHosts?: string;
  /** as read from a record: the DHCP records the process holds of removed files (Proc.staleDhcp; in memory, that) */
  staleDhcp?: Record<string, string>;
}

function configKey(files: DnsmasqFiles): string {
  return sha(JSON.stringify([files.args, files.conf]));
}

function parseApplied(text: string): Applied | undefined {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null) return undefined;
    const o = v as Record<string, unknown>;
    const { pid, args, config, hosts, dhcpHosts } = o;
    if (typeof pid !== 'number' || !Array.isArray(args) || !args.every((a) => typeof a === 'string')) return undefined;
    if (typeof config !== 'string' || typeof hosts !== 'string' || typeof dhcpHosts !== 'string') return undefined;
    const servers = typeof o['servers'] === 'string' ? o['servers'] : undefined;
    const staticHosts = typeof o['staticHosts'] === 'string' ? o['staticHosts'] : undefined;
    // the DHCP records it still holds of removed files (entryDelta): entry name → address
    const raw = o['staleDhcp'];
    const staleDhcp =
      typeof raw === 'object' && raw !== null && !Array.isArray(raw) && Object.values(raw).every((v) => typeof v === 'string') ? (raw as Record<string, string>) : undefined;
    // a record that says it holds some, but not which: its dhcp-hosts count as unknown (the first change is a SIGHUP)
    const unknown = raw !== undefined && staleDhcp === undefined;
    return {
      pid,
      args: args as string[],
      config,
      hosts,
      dhcpHosts: unknown ? '' : dhcpHosts,
      ...(servers !== undefined && { servers }),
      ...(staticHosts !== undefined && { staticHosts }),
      ...(staleDhcp !== undefined && Object.keys(staleDhcp).length > 0 && { staleDhcp }),
    };
  } catch {
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

/** One dnsmasq process we know of: our child, or an adopted one (no exit event: polled). */
interface Proc {
  pid: number;
  child?: ChildProcess;
  poll?: NodeJS.Timeout;
  /** what it was started with: a restart (supervisor, evict) uses the same */
  args: string[];
  startedAt: number;
  /** not yet confirmed started: an exit now is start()'s failure, not the supervisor's business */
  starting: boolean;
  /** we asked it to stop: its exit is not reported */
  expected: boolean;
  gone: boolean;
  exited: Promise<void>;
  markExited: (code: number | null, signal: string | null) => void;
  stderrTail: string[];
  /** called with each stderr line (our children only) */
  lineWaiters: Set<(line: string) => void>;
  /**
   * DHCP records this process still holds though their files were removed without a SIGHUP (entry name → address):
   * what it serves is more than the files say until its next SIGHUP or restart
   */
  staleDhcp?: Map<string, string>;
}

interface Instance {
  ni: string;
  paths: DnsmasqPaths;
  proc?: Proc;
  applied?: Applied;
  restartTimer?: NodeJS.Timeout;
  backoffMs: number;
  /** an `exited` was reported and its `started` is still owed */
  owesStarted: boolean;
  removed: boolean;
  /** the reservations' files in the hosts dirs, by name (undefined: not read from disk yet, or unsure) */
  disk?: Map<string, DnsmasqEntry>;
  /** the running dnsmasq (our child) has read exactly `disk` and the static/servers files applied records: a new
   * reservation is then only a new file it reads by itself */
  exact: boolean;
  /** the record being written behind (persistBehind) */
  persisting?: Promise<void>;
}

class DnsmasqDriver implements DhcpDns {
  readonly writes = new WriteCounter();
  private readonly events = new Subject<DhcpDnsEvent>();
  readonly events$: Observable<DhcpDnsEvent> = this.events.asObservable();
  private readonly instances = new Map<string, Instance>();
  /** per NI: the lease evictions waiting for its lock, done together in one restart */
  private readonly evictions = new Map<string, { macs: Set<string>; done: Promise<void> }>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly stateDir: string;
  private readonly command: string[];
  private readonly log: Logger;
  private readonly backoff: DnsmasqBackoff;
  private readonly leaseTime: string;
  private readonly stopTimeoutMs: number;
  private readonly startTimeoutMs: number;
  private readonly adoptPollMs: number;
  private closed = false;
  /** dnsmasq's own account: --user/--group, and the group its re-read files are readable to */
  private readonly account: { name: string; uid: number; gid: number } | undefined;

  constructor(opts: DnsmasqDriverOptions) {
    const account = lookupAccount(opts.account ?? DNSMASQ_ACCOUNT);
    this.account = account ? { name: opts.account ?? DNSMASQ_ACCOUNT, ...account } : undefined;
    this.stateDir = resolve(opts.stateDir);
    const binary = opts.binary ?? (existsSync('/usr/sbin/dnsmasq') ? '/usr/sbin/dnsmasq' : 'dnsmasq');
    this.command = [...(opts.exec ?? []), binary];
    this.log = (opts.logger ?? silentLogger).child({ driver: 'dnsmasq' });
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.leaseTime = opts.leaseTime ?? '1h';
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 3000;
    this.startTimeoutMs = opts.startTimeoutMs ?? 10_000;
    this.adoptPollMs = opts.adoptPollMs ?? 1000;
  }

  /** Operations on one NI run one at a time (ensure, remove, evict and the supervisor's restarts). */
  private withLock<T>(ni: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(ni) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(ni, tail);
    void tail.then(() => {
      if (this.locks.get(ni) === tail) this.locks.delete(ni);
    });
    return run;
  }

  ensure(spec: DhcpDnsSpec, signal?: AbortSignal): Promise<{ pid: number }> {
    this.assertOpen();
    const paths = dnsmasqPaths(this.stateDir, spec.ni);
    const rendered = renderDnsmasqFiles(spec, paths, this.leaseTime);
    // without its own account dnsmasq would drop to the shared nobody: said loudly, once per start
    const files = this.account ? { ...rendered, args: [...rendered.args, `--user=${this.account.name}`, `--group=${this.account.name}`] } : rendered;
    if (!this.account) this.log.warn({ account: DNSMASQ_ACCOUNT }, 'dnsmasq account missing (run scripts/setup.sh): dnsmasq drops to its default user');
    return this.withLock(spec.ni, async () => {
      if (signal?.aborted) throw abortError(signal);
      const inst = await this.instance(spec.ni);
      inst.removed = false;
      const key = configKey(files);
      const hosts = sha(files.hosts);
      const dhcpHosts = sha(files.dhcpHosts);
      const servers = sha(files.servers);
      const staticHosts = sha(files.staticHosts);
      const { proc, applied } = inst;
      if (proc && !proc.gone && applied?.pid === proc.pid && applied.config === key) {
        if (applied.hosts !== hosts || applied.dhcpHosts !== dhcpHosts || applied.servers !== servers || applied.staticHosts !== staticHosts) {
          // only reservations added or removed, beside exactly what dnsmasq has read: their files, which it reads (and
          // for names, forgets) by itself. Anything else (a reservation changed, or one that would sit beside a DHCP
          // record dnsmasq still holds) is a SIGHUP.
          const delta = inst.exact && proc.child && applied.servers === servers && applied.staticHosts === staticHosts ? this.entryDelta(inst, proc, files) : undefined;
          inst.exact = false;
          if (delta) {
            // listening before the files are there (or gone): dnsmasq acts as soon as they are renamed in (or unlinked)
            const picked = delta.added.length > 0 ? this.picked(inst, proc, delta.added) : undefined;
            const forgot = delta.removed.length > 0 ? this.forgot(inst, proc, delta.removed) : undefined;
            try {
              await this.writeEntries(inst, delta.added);
              this.unlinkEntries(inst, proc, delta.removed);
            } finally {
              // a failed write: the waiting ends with its 2 s timeout, unobserved (the write's error is the one thrown)
              picked?.catch(() => undefined);
            }
            await picked;
            await forgot;
            if (delta.added.length + delta.removed.length > 0) this.writes.inc('dnsmasqReload');
          } else {
            await this.writeHostFiles(inst, files);
            await this.hup(inst, proc);
          }
          inst.exact = proc.child !== undefined;
          inst.applied = { ...applied, hosts, dhcpHosts, servers, staticHosts };
          // the record only spares a restarted edgenet a SIGHUP: written behind the app's attach (a crash before it is
          // written costs that SIGHUP)
          if (delta) this.persistBehind(inst);
          else await this.persistApplied(inst);
        }
        return { pid: proc.pid };
      }
      if (signal?.aborted) throw abortError(signal);
      // Config changed (or nothing runs): stop first, then write the conf, so a conf on disk never claims to be
      // what an older process runs with.
      if (proc) await this.stop(inst, proc);
      this.cancelRestart(inst);
      inst.exact = false;
      await this.writeHostFiles(inst, files);
      await writeFileAtomic(paths.conf, files.conf, 0o600, RUNTIME);
      await this.prepareLeases(paths);
      const pid = await this.start(inst, files.args);
      inst.exact = true;
      inst.applied = { pid, args: files.args, config: key, hosts, dhcpHosts, servers, staticHosts };
      await this.persistApplied(inst);
      if (inst.owesStarted) this.emitStarted(inst, pid);
      return { pid };
    });
  }

  async known(): Promise<string[]> {
    let entries: string[] = [];
    try {
      entries = await readdir(this.stateDir);
    } catch {
      /* no state dir yet */
    }
    const onDisk = entries.filter((name) => LABEL_RE.test(name) && existsSync(dnsmasqPaths(this.stateDir, name).conf));
    return [...new Set([...onDisk, ...this.instances.keys()])].sort();
  }

  remove(ni: string): Promise<void> {
    this.assertOpen();
    const paths = dnsmasqPaths(this.stateDir, ni);
    return this.withLock(ni, async () => {
      const inst = this.instances.get(ni);
      if (inst) {
        inst.removed = true;
        await inst.persisting;
        this.cancelRestart(inst);
        if (inst.proc) await this.stop(inst, inst.proc);
        this.instances.delete(ni);
      }
      // Not ours in memory (e.g. left by an earlier edgenet): the pid file says which, /proc confirms it.
      const pid = await findOwnedDnsmasq(this.stateDir, ni);
      if (pid !== undefined) await this.stopPid(ni, pid, paths.conf);
      await rm(paths.dir, { recursive: true, force: true });
      this.preparedDirs.delete(paths.dir);
      this.log.info({ ni }, 'dnsmasq removed');
    });
  }

  /**
   * Evictions asked for while one NI's lock is taken (an apply removing many apps from one NI) are one restart, as
   * EVE's nireconciler prunes all obsolete hosts of a change in one stop, edit and start.
   */
  evictLease(ni: string, mac: string): Promise<void> {
    this.assertOpen();
    const m = mac.toLowerCase();
    const waiting = this.evictions.get(ni);
    if (waiting) {
      waiting.macs.add(m);
      return waiting.done;
    }
    const macs = new Set([m]);
    const done = this.withLock(ni, () => {
      // from here on, evictions asked for wait for the next batch
      this.evictions.delete(ni);
      return this.evictNow(ni, macs);
    });
    this.evictions.set(ni, { macs, done });
    return done;
  }

  private async evictNow(ni: string, macs: ReadonlySet<string>): Promise<void> {
    const paths = dnsmasqPaths(this.stateDir, ni);
    let text: string;
    try {
      text = await readFile(paths.leases, 'utf8');
    } catch {
      return;
    }
    const leased = [...macs].filter((m) => parseLeases(text).some((l) => l.mac === m));
    if (leased.length === 0) return;
    const inst = await this.instance(ni);
    const proc = inst.proc;
    // dnsmasq keeps leases in memory and rewrites the file from there: edit the file only while it is stopped.
    if (proc) await this.stop(inst, proc);
    let kept = await readFile(paths.leases, 'utf8');
    for (const m of leased) kept = withoutLease(kept, m);
    await writeFileAtomic(paths.leases, kept, 0o600, RUNTIME);
    this.log.info({ ni, ...(leased.length === 1 ? { mac: leased[0] } : { macs: leased }) }, leased.length === 1 ? 'lease evicted' : 'leases evicted');
    if (proc) {
      let pid: number;
      try {
        pid = await this.start(inst, proc.args);
      } catch (err) {
        // it was stopped on purpose, but it did not come back: that is an exit like any other (reported, retried)
        this.log.error({ ni, err: errorMessage(err) }, 'dnsmasq did not come back after a lease eviction');
        inst.owesStarted = true;
        this.events.next({ type: 'exited', ni, pid: proc.pid, code: null, signal: null });
        this.scheduleRestart(inst, proc.args);
        throw err;
      }
      if (inst.applied) inst.applied = { ...inst.applied, pid };
      await this.persistApplied(inst);
      if (inst.owesStarted) this.emitStarted(inst, pid);
    }
  }

  pid(ni: string): number | undefined {
    const proc = this.instances.get(ni)?.proc;
    return proc && !proc.gone ? proc.pid : undefined;
  }

  async leases(ni: string): Promise<DhcpLease[]> {
    const paths = dnsmasqPaths(this.stateDir, ni);
    try {
      return parseLeases(await readFile(paths.leases, 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  leasesNow(ni: string): DhcpLease[] {
    try {
      return parseLeases(readFileSync(dnsmasqPaths(this.stateDir, ni).leases, 'utf8'));
    } catch {
      return [];
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.locks.values()]);
    await Promise.all([...this.instances.values()].map((i) => i.persisting));
    for (const inst of this.instances.values()) {
      this.cancelRestart(inst);
      const proc = inst.proc;
      if (!proc) continue;
      if (proc.poll) clearInterval(proc.poll);
      // Leave it running: drop our end of its stderr (dnsmasq ignores SIGPIPE) and let node exit without it.
      proc.child?.stderr?.destroy();
      proc.child?.unref();
    }
    this.instances.clear();
    this.events.complete();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('dnsmasq driver is closed');
  }

  /** The in-memory instance; on first use adopts an owned dnsmasq left running by an earlier edgenet. */
  private async instance(ni: string): Promise<Instance> {
    const existing = this.instances.get(ni);
    if (existing) return existing;
    const paths = dnsmasqPaths(this.stateDir, ni);
    const inst: Instance = { ni, paths, backoffMs: this.backoff.initialMs, owesStarted: false, removed: false, exact: false };
    this.instances.set(ni, inst);
    const pid = await findOwnedDnsmasq(this.stateDir, ni);
    const argv = pid === undefined ? undefined : await cmdlineOf(pid);
    if (pid === undefined || argv === undefined) return inst;
    const applied = await readFile(paths.applied, 'utf8').then(parseApplied, () => undefined);
    inst.proc = this.adopt(inst, pid, argv.slice(1));
    // Without a record of what it runs with, it cannot be trusted to match: ensure() will restart it.
    if (applied?.pid === pid) {
      inst.applied = applied;
      if (applied.staleDhcp) inst.proc.staleDhcp = new Map(Object.entries(applied.staleDhcp));
    }
    this.log.info({ ni, dnsmasqPid: pid, known: inst.applied !== undefined }, 'adopted running dnsmasq');
    return inst;
  }

  /** NI dirs made and checked already (modes, owner, searchable parents): once per process, not per reload */
  private readonly preparedDirs = new Set<string>();

  private async prepareDirs(paths: DnsmasqPaths): Promise<void> {
    if (this.preparedDirs.has(paths.dir)) return;
    // the NI's dir: root's, entered by dnsmasq's group only (it re-reads hosts files there after dropping root)
    const mode = this.account ? 0o750 : 0o755;
    for (const dir of [paths.dir, paths.hostsDir, paths.dhcpHostsDir]) {
      await mkdir(dir, { recursive: true, mode });
      await chmod(dir, mode);
      if (this.account) await chown(dir, 0, this.account.gid);
    }
    // pid files: a directory only root enters
    await mkdir(dirname(paths.pid), { recursive: true, mode: 0o700 });
    await chmod(dirname(paths.pid), 0o700);
    const st = await stat(this.stateDir);
    if ((st.mode & 0o001) === 0) {
      await chmod(this.stateDir, (st.mode & 0o7777) | 0o011);
      this.log.info({ stateDir: this.stateDir }, 'state dir made searchable for dnsmasq (it drops root)');
    }
    for (let dir = dirname(this.stateDir); ; dir = dirname(dir)) {
      const mode = (await stat(dir)).mode;
      if ((mode & 0o001) === 0) {
        throw new KernelError(
          'prepare dnsmasq dir',
          paths.dir,
          'EACCES',
          `${dir} (mode ${(mode & 0o777).toString(8)}) is not searchable by others: dnsmasq drops root and could not re-read its hosts files; chmod o+x it or use a state dir under a searchable path`,
        );
      }
      if (dir === dirname(dir)) break;
    }
    this.preparedDirs.add(paths.dir);
  }

  /** A file dnsmasq re-reads as its own user: readable to its group only (no account: to everyone, as before). */
  private async writeReread(path: string, data: string): Promise<void> {
    await writeFileAtomic(path, data, this.account ? 0o640 : 0o644, RUNTIME);
    if (this.account) await chown(path, 0, this.account.gid);
  }

  /** Every file dnsmasq re-reads: the static hosts, the servers, and the reservations' dirs made to hold exactly `files`. */
  private async writeHostFiles(inst: Instance, files: DnsmasqFiles): Promise<void> {
    const { paths } = inst;
    await this.prepareDirs(paths);
    await this.writeReread(paths.hosts, files.staticHosts);
    await this.writeReread(paths.servers, files.servers);
    const disk = await this.diskEntries(inst);
    const wanted = new Set(files.entries.map((e) => e.name));
    const changed = files.entries.filter((e) => {
      const have = disk.get(e.name);
      return have?.hosts !== e.hosts || have.dhcp !== e.dhcp;
    });
    await this.writeEntries(inst, changed);
    for (const name of [...disk.keys()]) {
      if (wanted.has(name)) continue;
      disk.delete(name);
      await Promise.all([rm(join(paths.hostsDir, name), { force: true }), rm(join(paths.dhcpHostsDir, name), { force: true })]);
    }
  }

  /** What the reservation dirs hold (read from disk once per process, or after a failed write). */
  private async diskEntries(inst: Instance): Promise<Map<string, DnsmasqEntry>> {
    if (inst.disk) return inst.disk;
    const read = async (dir: string): Promise<Map<string, string>> => {
      const names = await readdir(dir).catch(() => [] as string[]);
      const out = new Map<string, string>();
      for (const name of names) {
        const text = await readFile(join(dir, name), 'utf8').catch(() => undefined);
        if (text !== undefined) out.set(name, text);
      }
      return out;
    };
    const [hosts, dhcp] = await Promise.all([read(inst.paths.hostsDir), read(inst.paths.dhcpHostsDir)]);
    const disk = new Map<string, DnsmasqEntry>();
    // a file in one dir only is told apart from a whole entry by its missing half ('' never matches a rendered line)
    for (const name of new Set([...hosts.keys(), ...dhcp.keys()])) disk.set(name, { name, hosts: hosts.get(name) ?? '', dhcp: dhcp.get(name) ?? '' });
    inst.disk = disk;
    return disk;
  }

  /**
   * The entries of `files` that are new and those on disk no longer wanted, when every other entry on disk is still
   * wanted as it is and no new one has the name or address of a DHCP record dnsmasq still holds (`proc.staleDhcp`:
   * dnsmasq keeps a duplicate's name but drops its address); undefined otherwise (a SIGHUP).
   */
  private entryDelta(inst: Instance, proc: Proc, files: DnsmasqFiles): { added: DnsmasqEntry[]; removed: DnsmasqEntry[] } | undefined {
    const disk = inst.disk;
    if (!disk) return undefined;
    const wanted = new Map(files.entries.map((e) => [e.name, e]));
    const removed: DnsmasqEntry[] = [];
    for (const [name, have] of disk) {
      const want = wanted.get(name);
      if (!want) removed.push(have);
      else if (want.hosts !== have.hosts || want.dhcp !== have.dhcp) return undefined;
    }
    const added = files.entries.filter((e) => !disk.has(e.name));
    const stale = proc.staleDhcp;
    if (stale && stale.size > 0 && added.length > 0) {
      const staleIps = new Set(stale.values());
      if (added.some((e) => stale.has(e.name) || staleIps.has(entryIp(e)))) return undefined;
    }
    // a half entry (a file in one dir only, as read from disk) is not one dnsmasq read whole: a SIGHUP
    if (removed.some((e) => e.hosts === '' || e.dhcp === '')) return undefined;
    return { added, removed };
  }

  /**
   * Removes reservations' files. dnsmasq forgets a removed hosts file's names by itself (inotify), but keeps a
   * removed DHCP file's record until a SIGHUP: harmless while no reservation takes its name or address (the address
   * stays the removed app's hint in IPAM), so it is remembered as stale and the SIGHUP waits for a change that needs it.
   */
  private unlinkEntries(inst: Instance, proc: Proc, entries: readonly DnsmasqEntry[]): void {
    if (entries.length === 0) return;
    const disk = inst.disk;
    try {
      for (const e of entries) {
        rmSync(join(inst.paths.hostsDir, e.name), { force: true });
        rmSync(join(inst.paths.dhcpHostsDir, e.name), { force: true });
        disk?.delete(e.name);
        (proc.staleDhcp ??= new Map()).set(e.name, entryIp(e));
      }
    } catch (err) {
      delete inst.disk;
      throw err;
    }
  }

  /**
   * Waits until our dnsmasq's log says it saw the entries' hosts files go (`inotify: <path> removed`, after which it
   * answers no query with their names); after 2 s it is logged and not waited for.
   */
  private forgot(inst: Instance, proc: Proc, entries: readonly DnsmasqEntry[]): Promise<void> {
    const pending = new Set(entries.map((e) => join(inst.paths.hostsDir, e.name)));
    return this.untilLines(proc, 'dnsmasq did not confirm the removed names within 2 s', (line) => {
      const m = /inotify: (\/\S+) removed/.exec(line);
      if (m?.[1] !== undefined) pending.delete(m[1]);
      return pending.size === 0 ? { problem: undefined } : undefined;
    }).then(() => this.log.debug({ ni: inst.ni, dnsmasqPid: proc.pid, entries: entries.map((e) => e.name) }, 'dnsmasq forgot the removed names (no SIGHUP)'));
  }


  /**
   * Writes reservations' files: each made beside the dirs (the NI's dir: not watched) and renamed into its dir, so
   * dnsmasq's inotify sees it whole, with its mode and owner, at once. The DHCP file last: when dnsmasq reads it, the
   * name is there too.
   */
  private async writeEntries(inst: Instance, entries: readonly DnsmasqEntry[]): Promise<void> {
    const { paths } = inst;
    const disk = await this.diskEntries(inst);
    const mode = this.account ? 0o640 : 0o644;
    const gid = this.account?.gid;
    // a line each, on tmpfs: done at once rather than as six trips through libuv's thread pool (busy in a converge)
    const put = (dir: string, name: string, data: string): void => {
      const tmp = join(paths.dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
      const fd = openSync(tmp, 'w', mode);
      try {
        writeSync(fd, data);
        fchmodSync(fd, mode);
        if (gid !== undefined) fchownSync(fd, 0, gid);
      } finally {
        closeSync(fd);
      }
      try {
        renameSync(tmp, join(dir, name));
      } catch (e) {
        rmSync(tmp, { force: true });
        throw e;
      }
    };
    try {
      for (const e of entries) {
        put(paths.hostsDir, e.name, e.hosts);
        put(paths.dhcpHostsDir, e.name, e.dhcp);
        disk.set(e.name, e);
      }
    } catch (e) {
      // what is on disk now is not known exactly: read again next time
      delete inst.disk;
      throw e;
    }
  }

  /**
   * Waits until our dnsmasq's log says it read the new entries' files (inotify): then the app's first DHCP request
   * gets its reservation. A complaint about one of them is an error; after 2 s it is logged and not waited for.
   */
  private picked(inst: Instance, proc: Proc, entries: readonly DnsmasqEntry[]): Promise<void> {
    const pending = new Set(entries.flatMap((e) => [join(inst.paths.hostsDir, e.name), join(inst.paths.dhcpHostsDir, e.name)]));
    return this.readOutcome(proc, pending).then((problem) => {
      if (problem) throw new KernelError('add dnsmasq host', inst.ni, undefined, problem);
      this.log.debug({ ni: inst.ni, dnsmasqPid: proc.pid, entries: entries.map((e) => e.name) }, 'dnsmasq read the new reservations (no SIGHUP)');
    });
  }

  /** The lease file holds names, MACs and addresses: root's, 0600 (dnsmasq opens it as root, before dropping it). */
  private async prepareLeases(paths: DnsmasqPaths): Promise<void> {
    await writeFile(paths.leases, '', { flag: 'a', mode: 0o600 });
    await chmod(paths.leases, 0o600);
  }

  /** persistApplied, not waited for (its failure is logged): remove() and close() wait for it. */
  private persistBehind(inst: Instance): void {
    this.persistApplied(inst).catch((err: unknown) => this.log.warn({ ni: inst.ni, err: errorMessage(err) }, 'could not record what dnsmasq serves'));
  }

  /** Writes the record; one write at a time per NI, each of the record as it is when its turn comes (the latest wins). */
  private persistApplied(inst: Instance): Promise<void> {
    const write = async (): Promise<void> => {
      if (inst.removed || !inst.applied) return;
      // what dnsmasq holds beyond the files, so that an edgenet adopting it knows (and spares it a SIGHUP)
      const stale = inst.proc?.staleDhcp;
      const { staleDhcp: _, ...record } = inst.applied;
      await writeFileAtomic(inst.paths.applied, `${JSON.stringify({ ...record, ...(stale && stale.size > 0 && { staleDhcp: Object.fromEntries(stale) }) })}\n`, 0o600, RUNTIME);
    };
    const next = (inst.persisting ?? Promise.resolve()).then(write, write);
    inst.persisting = next.catch(() => undefined);
    return next;
  }

  /**
   * SIGHUP: dnsmasq re-reads hosts and dhcp-hosts (as its unprivileged user). For our own child, waits until its log
   * says both were read, so names are live when ensure() resolves, and turns a failed read into an error.
   */
  private async hup(inst: Instance, proc: Proc): Promise<void> {
    if (!proc.child && !(await isOwnedDnsmasq(proc.pid, inst.paths.conf))) {
      throw new KernelError('reload dnsmasq', inst.ni, 'ESRCH', `pid ${proc.pid} is no longer our dnsmasq`);
    }
    const files = [inst.paths.hosts, ...[...(inst.disk?.keys() ?? [])].flatMap((n) => [join(inst.paths.hostsDir, n), join(inst.paths.dhcpHostsDir, n)])];
    const reloaded = proc.child ? this.readOutcome(proc, new Set(files), inst.paths.hosts) : undefined;
    try {
      process.kill(proc.pid, 'SIGHUP');
    } catch (e) {
      throw new KernelError('reload dnsmasq', inst.ni, (e as NodeJS.ErrnoException).code, `pid ${proc.pid}`);
    }
    this.writes.inc('dnsmasqReload');
    // it reads the dirs afresh: the DHCP records of removed files are gone
    delete proc.staleDhcp;
    const problem = await reloaded;
    if (problem) throw new KernelError('reload dnsmasq', inst.ni, undefined, problem);
    this.log.debug({ ni: inst.ni, dnsmasqPid: proc.pid }, 'dnsmasq reloaded (SIGHUP)');
  }

  /**
   * Resolves with dnsmasq's complaint about one of `pending` (paths), or undefined once each was read (or after 2 s).
   * `first`: lines before the one about this path are not counted — a SIGHUP's re-read begins with the static hosts
   * file, which dnsmasq does not watch (a file of the dirs written just before is also read by inotify first).
   */
  private readOutcome(proc: Proc, pending: Set<string>, first?: string): Promise<string | undefined> {
    let begun = first === undefined;
    return this.untilLines(proc, 'dnsmasq did not confirm the reload within 2 s', (line) => {
      // `read <path>`, `read <path> - N names`; complaints name the path too (`cannot read <path>: …`, `bad
      // dhcp-host at line 1 of <path>`). Paths are matched whole: `hosts` is not `hosts.d/…`
      const paths = [...line.matchAll(/(\/[^\s:]+)/g)].map((m) => m[1]);
      if (!begun) {
        if (!paths.includes(first)) return undefined;
        begun = true;
      }
      for (const f of paths) {
        if (f === undefined || !pending.has(f)) continue;
        if (/fail|cannot|denied|bad /i.test(line)) return { problem: line };
        if (line.includes(`read ${f}`)) pending.delete(f);
      }
      return pending.size === 0 ? { problem: undefined } : undefined;
    });
  }

  /**
   * Hands each line our dnsmasq logs to `onLine` until it says the wait is over (with a complaint, or none); after
   * 2 s `timeout` is logged and the wait ends without one, as it does when the process exits.
   */
  private untilLines(proc: Proc, timeout: string, onLine: (line: string) => { problem: string | undefined } | undefined): Promise<string | undefined> {
    return new Promise((res) => {
      const done = (v: string | undefined): void => {
        clearTimeout(timer);
        proc.lineWaiters.delete(listener);
        res(v);
      };
      const listener = (line: string): void => {
        const end = onLine(line);
        if (end) done(end.problem);
      };
      const timer = setTimeout(() => {
        this.log.warn({ dnsmasqPid: proc.pid }, timeout);
        done(undefined);
      }, 2000);
      proc.lineWaiters.add(listener);
      void proc.exited.then(() => done(undefined));
    });
  }

  private newProc(inst: Instance, pid: number, args: string[], child?: ChildProcess): Proc {
    let resolveExited!: () => void;
    const exited = new Promise<void>((res) => {
      resolveExited = res;
    });
    const proc: Proc = {
      pid,
      args,
      startedAt: Date.now(),
      starting: child !== undefined,
      expected: false,
      gone: false,
      exited,
      markExited: (code, signal) => {
        if (proc.gone) return;
        proc.gone = true;
        if (proc.poll) clearInterval(proc.poll);
        resolveExited();
        this.onExit(inst, proc, code, signal);
      },
      stderrTail: [],
      lineWaiters: new Set(),
      ...(child ? { child } : {}),
    };
    return proc;
  }

  private adopt(inst: Instance, pid: number, args: string[]): Proc {
    const proc = this.newProc(inst, pid, args);
    proc.poll = setInterval(() => {
      void isOwnedDnsmasq(pid, inst.paths.conf).then((alive) => {
        if (!alive) proc.markExited(null, null);
      });
    }, this.adoptPollMs);
    proc.poll.unref();
    return proc;
  }

  /** Spawns dnsmasq and waits until it has written its pid file (sockets bound) or has failed. */
  private async start(inst: Instance, args: string[]): Promise<number> {
    const { paths, ni } = inst;
    await rm(paths.pid, { force: true });
    const [cmd, ...pre] = this.command;
    if (cmd === undefined) throw new Error('no dnsmasq command');
    // Own process group: a signal to edgenet's group (Ctrl-C) must not take the data plane with it.
    const child = spawn(cmd, [...pre, ...args], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    this.writes.inc('dnsmasqStart');
    const spawnError = new Promise<Error>((res) => child.once('error', res));
    const pid = child.pid;
    if (pid === undefined) {
      const err = await spawnError;
      throw new KernelError('start dnsmasq', ni, (err as NodeJS.ErrnoException).code, errorMessage(err));
    }
    const proc = this.newProc(inst, pid, args, child);
    inst.proc = proc;
    const log = this.log.child({ ni, dnsmasqPid: pid });
    let partial = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line) continue;
        proc.stderrTail.push(line);
        if (proc.stderrTail.length > 20) proc.stderrTail.shift();
        log.debug({ dnsmasq: line });
        for (const w of proc.lineWaiters) w(line);
      }
    });
    child.stderr?.on('error', () => undefined);
    child.once('exit', (code, signal) => proc.markExited(code, signal));
    child.on('error', (err) => log.warn({ err: errorMessage(err) }, 'dnsmasq process error'));

    // dnsmasq logs `started, version …` once its sockets are bound and its pid file written: that line wakes the
    // check of the pid file at once (no 20 ms poll on the NI's critical path); the slow poll is the backstop
    let wake: () => void = () => undefined;
    let started = false;
    const onLine = (line: string): void => {
      if (!/\bstarted, version /.test(line)) return;
      started = true;
      wake();
    };
    proc.lineWaiters.add(onLine);
    const deadline = Date.now() + this.startTimeoutMs;
    let reads = 0;
    for (;;) {
      if (proc.gone) {
        await sleep(20); // let the last stderr lines arrive: they say why
        const why = proc.stderrTail.filter((l) => /dnsmasq:|fail|error|unknown|cannot/i.test(l)).slice(-3).join('; ');
        throw new KernelError('start dnsmasq', ni, undefined, `exited at start${why ? `: ${why}` : ''}`);
      }
      const sawStart = started;
      reads++;
      const text = await readFile(paths.pid, 'utf8').catch(() => '');
      if (Number(text.trim()) === pid) break;
      if (Date.now() > deadline) {
        proc.lineWaiters.delete(onLine);
        await this.stop(inst, proc);
        throw new KernelError('start dnsmasq', ni, 'ETIMEDOUT', `no pid file after ${this.startTimeoutMs} ms`);
      }
      await new Promise<void>((res) => {
        // the line came (before or during that read) but the file did not say so yet: look again soon
        if (started) return void setTimeout(res, sawStart ? 20 : 0);
        const timer = setTimeout(res, 100);
        wake = () => {
          clearTimeout(timer);
          res();
        };
        void proc.exited.then(wake);
      });
    }
    proc.lineWaiters.delete(onLine);
    proc.starting = false;
    // dnsmasq hands its pid file to the account it drops to: it is root's (edgenet's own record is the truth anyway)
    await chown(paths.pid, 0, 0).catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'could not take the pid file back'));
    const complaint = proc.stderrTail.find((l) => [paths.hosts, paths.hostsDir, paths.dhcpHostsDir].some((f) => l.includes(f)) && /fail|cannot|denied|bad /i.test(l));
    if (complaint) log.warn({ dnsmasq: complaint }, 'dnsmasq could not read its hosts files');
    log.info({ args, pidFileReads: reads, startMs: Date.now() - proc.startedAt }, 'dnsmasq started');
    return pid;
  }

  /** Stops a process we know of: SIGTERM, then SIGKILL after the timeout. Its exit is not reported. */
  private async stop(inst: Instance, proc: Proc): Promise<void> {
    proc.expected = true;
    if (!proc.gone) {
      if (proc.child) {
        this.signal(proc.pid, 'SIGTERM');
        if (!(await Promise.race([proc.exited.then(() => true), sleep(this.stopTimeoutMs).then(() => false)]))) {
          this.log.warn({ ni: inst.ni, dnsmasqPid: proc.pid }, 'dnsmasq ignored SIGTERM: SIGKILL');
          this.signal(proc.pid, 'SIGKILL');
          await proc.exited;
        }
      } else {
        await this.stopPid(inst.ni, proc.pid, inst.paths.conf);
        proc.markExited(null, null);
      }
    }
    if (inst.proc === proc) delete inst.proc;
  }

  /** Stops a PID we did not spawn, checking before every signal that it is still our dnsmasq. */
  private async stopPid(ni: string, pid: number, conf: string): Promise<void> {
    for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
      if (!(await isOwnedDnsmasq(pid, conf))) return;
      this.signal(pid, sig);
      const deadline = Date.now() + this.stopTimeoutMs;
      while (Date.now() < deadline) {
        if (!(await isOwnedDnsmasq(pid, conf))) return;
        await sleep(25);
      }
      this.log.warn({ ni, dnsmasqPid: pid, sig }, 'dnsmasq still running after signal');
    }
    if (await isOwnedDnsmasq(pid, conf)) throw new KernelError('stop dnsmasq', ni, 'ETIMEDOUT', `pid ${pid} survived SIGKILL`);
  }

  private signal(pid: number, sig: NodeJS.Signals): void {
    try {
      process.kill(pid, sig);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  }

  private onExit(inst: Instance, proc: Proc, code: number | null, signal: string | null): void {
    if (inst.proc === proc) delete inst.proc;
    if (proc.expected || proc.starting || this.closed || inst.removed) return;
    const tail = proc.stderrTail.slice(-3).join('; ');
    this.log.warn({ ni: inst.ni, dnsmasqPid: proc.pid, code, signal, stderr: tail }, 'dnsmasq exited unexpectedly');
    inst.owesStarted = true;
    this.events.next({ type: 'exited', ni: inst.ni, pid: proc.pid, code, signal });
    // A process that ran for a stable while starts the backoff over.
    if (Date.now() - proc.startedAt >= this.backoff.stableMs) inst.backoffMs = this.backoff.initialMs;
    this.scheduleRestart(inst, proc.args);
  }

  private scheduleRestart(inst: Instance, args: string[]): void {
    this.cancelRestart(inst);
    const delay = inst.backoffMs;
    inst.backoffMs = Math.min(inst.backoffMs * 2, this.backoff.maxMs);
    this.log.info({ ni: inst.ni, delayMs: delay }, 'dnsmasq restart scheduled');
    inst.restartTimer = setTimeout(() => {
      delete inst.restartTimer;
      void this.withLock(inst.ni, async () => {
        if (this.closed || inst.removed || inst.proc || this.instances.get(inst.ni) !== inst) return;
        try {
          const pid = await this.start(inst, args);
          if (inst.applied) inst.applied = { ...inst.applied, pid };
          await this.persistApplied(inst);
          this.emitStarted(inst, pid);
        } catch (e) {
          this.log.error({ ni: inst.ni, err: errorMessage(e) }, 'dnsmasq restart failed');
          if (!this.closed && !inst.removed && !inst.proc) this.scheduleRestart(inst, args);
        }
      });
    }, delay);
  }

  private cancelRestart(inst: Instance): void {
    if (inst.restartTimer) clearTimeout(inst.restartTimer);
    delete inst.restartTimer;
  }

  private emitStarted(inst: Instance, pid: number): void {
    inst.owesStarted = false;
    this.events.next({ type: 'started', ni: inst.ni, pid });
  }
}

export function createDnsmasqDriver(opts: DnsmasqDriverOptions): DhcpDns {
  return new DnsmasqDriver(opts);
}
