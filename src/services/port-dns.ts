// Upstream DNS of local NIs, as EVE does it: the DNS servers of the NI's own port(s), each pinned to its port
// (dnsmasq `server=IP@ifname`), never one device-wide resolv.conf. A port's servers are `ports[].dns`, or learned
// for that port alone from the resolv.conf its DHCP client writes (`ports[].resolvConf`, watched).
import { readFileSync } from 'node:fs';
import { watch, type FSWatcher } from 'chokidar';
import ipaddr from 'ipaddr.js';
import type { EdgenetLogger as Logger } from '../util/logger.ts';
import type { NiSpec } from '../../machines/specs.ts';
import type { UpstreamServer } from '../drivers/dhcpdns.ts';

/** The IPv4 `nameserver` lines of a resolv.conf (IPv6 and malformed lines are skipped). */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    const ip = m?.[1];
    if (ip && ipaddr.IPv4.isValidFourPartDecimal(ip) && !out.includes(ip)) out.push(ip);
  }
  return out;
}

/** Where an NI's dnsmasq sends what it cannot answer itself. */
export interface NiUpstream {
  /** forwarders: `dns.forwarders` override; ports: the ports' servers; none: no upstream (app names and static entries only) */
  from: 'forwarders' | 'ports' | 'none';
  /** pinned servers (from: ports) */
  upstream: UpstreamServer[];
  /** in words, for status: `192.168.77.2@eth1`, or why there is none */
  summary: string;
}

/** An NI's upstream: explicit forwarders, else each port's servers (static `dns`, else learned) pinned to the port. */
export function upstreamOf(ni: NiSpec, learned: (port: string) => readonly string[]): NiUpstream {
  const forwarders = ni.dns?.forwarders ?? [];
  if (forwarders.length > 0) return { from: 'forwarders', upstream: [], summary: `forwarders ${forwarders.join(', ')}` };
  const uplinks = ni.uplinks ?? [];
  const upstream = uplinks.flatMap((u) => (u.dns.length > 0 ? u.dns : learned(u.port)).map((ip) => ({ ip, ifname: u.ifname })));
  if (upstream.length > 0) return { from: 'ports', upstream, summary: upstream.map((u) => `${u.ip}@${u.ifname}`).join(', ') };
  const why = uplinks.length === 0 ? 'no port' : `port${uplinks.length > 1 ? 's' : ''} ${uplinks.map((u) => u.port).join(', ')} ha${uplinks.length > 1 ? 've' : 's'} no DNS servers`;
  return { from: 'none', upstream: [], summary: `none (${why}): app names and static entries only` };
}

/**
 * The nameservers of each port's resolv file, read at once when a file is first given and again whenever it changes.
 * `onChange(port)` is called after a change of a port's servers (not for a rewrite with the same servers).
 */
export class PortResolvFiles {
  private readonly files = new Map<string, string>();
  private readonly servers = new Map<string, string[]>();
  private watcher: FSWatcher | undefined;
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly onChange: (port: string) => void,
    private readonly logger?: Logger,
    private readonly debounceMs = 50,
  ) {}

  /** The ports' resolv files now (port name → path); a port that is not given is forgotten. */
  setFiles(files: ReadonlyMap<string, string>): void {
    const removed = [...this.files].filter(([port, path]) => files.get(port) !== path);
    for (const [port, path] of removed) {
      this.files.delete(port);
      this.servers.delete(port);
      if (![...this.files.values()].includes(path)) this.watcher?.unwatch(path);
    }
    const added = [...files].filter(([port, path]) => this.files.get(port) !== path);
    for (const [port, path] of added) {
      this.files.set(port, path);
      this.servers.set(port, this.read(path));
    }
    const paths = [...new Set(added.map(([, path]) => path))];
    if (paths.length === 0) return;
    if (!this.watcher) {
      this.watcher = watch(paths, { ignoreInitial: true, persistent: false, atomic: true });
      const changed = (path: string): void => this.schedule(path);
      this.watcher.on('add', changed).on('change', changed).on('unlink', changed);
      this.watcher.on('error', (err) => this.logger?.warn({ err }, 'watching resolv files failed'));
    } else {
      this.watcher.add(paths);
    }
  }

  /** The servers learned for a port (empty without a file, or with a file that names none). */
  serversOf(port: string): string[] {
    return this.servers.get(port) ?? [];
  }

  async close(): Promise<void> {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await this.watcher?.close();
    this.watcher = undefined;
  }

  private read(path: string): string[] {
    try {
      return parseResolvConf(readFileSync(path, 'utf8'));
    } catch {
      return [];
    }
  }

  // a DHCP client may write the file in several steps: read it once it has been quiet for a moment
  private schedule(path: string): void {
    clearTimeout(this.timers.get(path));
    this.timers.set(
      path,
      setTimeout(() => {
        this.timers.delete(path);
        this.reread(path);
      }, this.debounceMs),
    );
  }

  private reread(path: string): void {
    const next = this.read(path);
    for (const [port, p] of this.files) {
      if (p !== path) continue;
      const before = this.servers.get(port) ?? [];
      if (before.length === next.length && before.every((s, i) => s === next[i])) continue;
      this.servers.set(port, next);
      this.logger?.info({ port, path, servers: next }, 'port DNS servers changed');
      this.onChange(port);
    }
  }
}
