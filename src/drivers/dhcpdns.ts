import type { Observable } from 'rxjs';
import type { WriteCounter } from './write-counter.ts';

export interface Reservation {
  /** the app's name: DNS names `<app>` and `<app>.<ni>` */
  name: string;
  mac: string;
  ip: string;
}

/** What apps on the NI are told by DHCP (see src/services/ni-dhcp.ts for how it is decided). */
export interface DhcpOptionsSpec {
  /** option 3; undefined: no router option is sent */
  router?: string;
  /** option 6; empty: no DNS option is sent */
  dns: string[];
  /** option 42 */
  ntp: string[];
  /** options 15 and 119; undefined: the NI's name (dnsmasq's `domain=`) */
  domain?: string;
  /**
   * options 121 and 249, in this order. A reservation whose address is the gateway of some of them (an app routing for
   * others) is not offered those: a route via itself would loop.
   */
  routes: { to: string; via: string }[];
}

/** An upstream resolver pinned to the port it is reached through (`server=IP@ifname`). */
export interface UpstreamServer {
  ip: string;
  ifname: string;
}

/** What dnsmasq serves on one local network instance. */
export interface DhcpDnsSpec {
  ni: string;
  bridge: string;
  subnet: string;
  gateway: string;
  prefixlen: number;
  range: { start: string; end: string };
  mtu?: number;
  /** explicit upstream resolvers (not pinned to an interface) */
  forwarders: string[];
  /** upstream resolvers learned from the NI's ports, each pinned to its port; used with or without forwarders */
  upstream?: UpstreamServer[];
  /** absent: the historical options (router and DNS: the gateway) */
  dhcp?: DhcpOptionsSpec;
  /** several entries may share a name: the name answers with each address */
  staticHosts: { name: string; ip: string }[];
  reservations: Reservation[];
  /** `host` ACL rules: dnsmasq puts the addresses it resolves for the name (and its subdomains) into these nft sets */
  nftsets?: { host: string; sets: string[] }[];
  /** publish the names apps ask for in DHCP (default: ignored; never over reserved or static names anyway) */
  dhcpHostnames?: boolean;
}

/** One line of dnsmasq's lease file. */
export interface DhcpLease {
  /** lower-case colon form */
  mac: string;
  ip: string;
  hostname?: string;
  /** expiry, seconds since the epoch; 0 = infinite */
  expires: number;
}

/**
 * Supervision events only: `exited` is an exit nobody asked for, `started` is the supervisor's restart after it
 * (the first start after each `exited`). Starts, reloads and restarts that a call asked for are not reported here:
 * the call's result says what happened.
 */
export type DhcpDnsEvent =
  | { type: 'started'; ni: string; pid: number }
  | { type: 'exited'; ni: string; pid: number; code: number | null; signal: string | null };

/**
 * One supervised dnsmasq per local network instance. Config, hosts, dhcp-hosts, lease and pid files live in
 * `<stateDir>/<ni>/`, one file per reservation in its hosts dirs: a reservation added or removed is its files, which
 * dnsmasq reads (or forgets) by itself; other host/reservation changes and upstream server changes reload by SIGHUP;
 * other changes restart. An unexpected exit is reported on `events$` and followed by a restart with backoff.
 */
export interface DhcpDns {
  readonly writes: WriteCounter;
  readonly events$: Observable<DhcpDnsEvent>;
  /**
   * Converge: write files, start if not running (or adopt an owned dnsmasq left by an earlier edgenet whose config
   * matches), new or removed reservations' files alone, SIGHUP if other hosts/reservations changed, restart if the
   * config changed. Resolves once dnsmasq answers as the spec says. The same spec again costs
   * nothing. Rejects with ConfigError for a spec that cannot be rendered, KernelError when dnsmasq does not start.
   */
  ensure(spec: DhcpDnsSpec, signal?: AbortSignal): Promise<{ pid: number }>;
  /** Stop the NI's dnsmasq and remove its files. Absent is success. */
  remove(ni: string): Promise<void>;
  /**
   * Evict a lease (app removed): so a redeployed app gets its reservation back. dnsmasq does not prune leases on
   * SIGHUP, so a present lease costs a restart; an absent one costs nothing.
   */
  evictLease(ni: string, mac: string): Promise<void>;
  /** PID of the running dnsmasq; undefined while it is down (e.g. waiting for a restart). */
  pid(ni: string): number | undefined;
  /** NIs that have a dnsmasq or its files (in memory or in the state dir): what a sweep for orphans looks at. */
  known(): Promise<string[]>;
  leases(ni: string): Promise<DhcpLease[]>;
  /** The same, read at once (a small file): for status, which is synchronous. */
  leasesNow(ni: string): DhcpLease[];
  /** Stop supervising (processes keep running: the data plane stays). */
  close(): Promise<void>;
}
