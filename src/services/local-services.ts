import type { EndpointSpec, NiSpec } from '../../machines/specs.ts';
import { ipToInt, type EndpointSpec as ResolvedEndpoint, type LocalNetworkResolved, type NetworkResolved } from '../config/config-resolve.ts';
import type { DhcpDns, DhcpDnsSpec, Reservation } from '../drivers/dhcpdns.ts';
import type { EdgenetLogger as Logger } from '../util/logger.ts';
import { compareNames } from '../util/names.ts';
import { ConfigError, errorMessage, type ConfigIssue } from '../errors.ts';
import { IpamError, type Ipam } from './ipam.ts';
import { hostSetsOf } from '../drivers/firewall-acl.ts';
import { dhcpOptionsOf } from './ni-dhcp.ts';
import { PortResolvFiles, upstreamOf, type NiUpstream } from './port-dns.ts';

// IP services of local NIs: each app interface's reservation (IPAM) and the dnsmasq that serves them.
// Reservations are made for the whole desired config at apply time, so an NI's dnsmasq starts with every name
// and address it must serve (after a restart too) and an app's address resolves before its first lease.

/** An endpoint `plan` refused alone (partial mode): no address is left for it. */
export interface PlanRefusal {
  /** `<app>/<ni>` */
  key: string;
  app: string;
  network: string;
  /** `apps[i].interfaces[j]` in the config */
  path: string;
  reason: string;
}

const reservationKey = (r: Reservation): string => `${r.mac} ${r.ip} ${r.name}`;

type Touched = { ni: string; key: string; prev: Reservation | undefined };

export class LocalServices {
  private readonly nis = new Map<string, NiSpec>();
  /** per NI: endpoint key → what dnsmasq serves for it */
  private readonly members = new Map<string, Map<string, Reservation>>();
  /** what the desired config holds: a deleted actor of a re-created NI or endpoint must not drop what was re-planned */
  private desiredNis = new Set<string>();
  private desiredEndpoints = new Set<string>();
  /** per NI whose dnsmasq is being started (none ran before): the reservations that start serves */
  private readonly starting = new Map<string, Set<string>>();
  /** per NI: the nft sets dnsmasq fills for the `host` ACL rules of its endpoints */
  private hostSets = new Map<string, { host: string; sets: string[] }[]>();
  /** how many reservations removals have freed so far: a refused endpoint is worth another try when it grew */
  freedCount = 0;

  /** nameservers learned per port from its resolv file: a change reloads only the dnsmasq of the NIs on that port */
  private readonly resolv: PortResolvFiles;

  constructor(
    private readonly ipam: Ipam,
    private readonly dhcpdns: DhcpDns,
    private readonly logger?: Logger,
  ) {
    this.resolv = new PortResolvFiles((port) => void this.portServersChanged(port), logger);
  }

  /** The ports' resolv files (`ports[].resolvConf`) of the config being applied: read now, then watched. */
  watchResolvFiles(ports: readonly { name: string; resolvConf?: string | undefined }[]): void {
    this.resolv.setFiles(new Map(ports.flatMap((p) => (p.resolvConf === undefined ? [] : [[p.name, p.resolvConf] as const]))));
  }

  /** Where the NI's dnsmasq forwards to now (for status). */
  upstreamOf(ni: NiSpec): NiUpstream {
    return upstreamOf(ni, (port) => this.resolv.serversOf(port));
  }

  private async portServersChanged(port: string): Promise<void> {
    for (const ni of this.nis.values()) {
      if (!ni.uplinks?.some((u) => u.port === port)) continue;
      try {
        await this.serve(this.specOf(ni));
      } catch (err) {
        this.logger?.error({ ni: ni.name, port, err: errorMessage(err) }, 'reloading dnsmasq with the port\'s new DNS servers failed');
      }
    }
  }

  async close(): Promise<void> {
    await this.resolv.close();
    await this.ipam.close();
  }

  /**
   * The reservations a plan made are written (a journal line appended with O_DSYNC: ~0.2–1 ms) while the actors build links and rules; no
   * address is handed out before its reservation is on disk: a dnsmasq start waits for it (serve), and so does an
   * app's interface, whose join waits for addEndpoint (its files are written meanwhile: only that app, not yet
   * attached, can ask for that address). `saved()` is what a push awaits before it resolves: a failed write is its
   * error.
   */
  private saveSoon(): void {
    this.ipam.save().catch(() => undefined);
  }

  /** Resolves when every reservation made so far is on disk (the write under way, or one more). */
  saved(): Promise<void> {
    return this.ipam.save();
  }

  /**
   * dnsmasq's files and process for the NI, done when the reservations in them are on disk too. A running dnsmasq's
   * files are written beside that write (an address new in them is one whose interface has not joined yet: it joins
   * once this is done); a dnsmasq to start serves at once, so it starts after the write.
   */
  private async serve(spec: DhcpDnsSpec, signal?: AbortSignal): Promise<{ pid: number }> {
    if (this.dhcpdns.pid(spec.ni) === undefined) {
      await this.ipam.save();
      return this.dhcpdns.ensure(spec, signal);
    }
    const [, served] = await Promise.all([this.ipam.save(), this.dhcpdns.ensure(spec, signal)]);
    return served;
  }

  /**
   * Reserve an address for every endpoint of a local NI in the desired config (static, kept from before, or the
   * lowest free one of the range). Endpoints that left the config keep theirs until their actor detaches them.
   * A full range is a ConfigError naming the interface; with `partial` (EVE semantics) such endpoints are refused
   * alone instead: they get no reservation (an old one is freed) and are returned, everything else is reserved.
   */
  async plan(
    networks: readonly NetworkResolved[],
    endpoints: readonly ResolvedEndpoint[],
    pathOf: (e: ResolvedEndpoint) => string,
    opts: { partial?: boolean } = {},
  ): Promise<PlanRefusal[]> {
    const local = new Map(networks.flatMap((n) => (n.type === 'local' ? [[n.name, n] as const] : [])));
    const before = { nis: this.desiredNis, endpoints: this.desiredEndpoints };
    this.desiredNis = new Set(local.keys());
    this.desiredEndpoints = new Set(endpoints.filter((e) => local.has(e.network)).map((e) => e.key));
    // static addresses first, and never handed to anyone else
    const statics = new Map<string, string[]>();
    for (const ep of endpoints) if (ep.ip !== undefined) statics.set(ep.network, [...(statics.get(ep.network) ?? []), ep.ip]);
    const ordered = [...endpoints].sort((a, b) => Number(b.ip !== undefined) - Number(a.ip !== undefined));
    const { refused, issues, touched } = this.reserveEach(ordered, local, (ni) => statics.get(ni) ?? [], pathOf, opts);
    if (issues.length) {
      this.undo(touched);
      this.desiredNis = before.nis;
      this.desiredEndpoints = before.endpoints;
    }
    this.saveSoon();
    if (issues.length) throw new ConfigError(issues);
    const hostSets = new Map<string, { host: string; sets: string[] }[]>();
    for (const ep of endpoints) {
      if (!local.has(ep.network)) continue;
      const sets = hostSetsOf(ep.key, ep.acls).map((h) => ({ host: h.host, sets: [h.set] }));
      if (sets.length) hostSets.set(ep.network, [...(hostSets.get(ep.network) ?? []), ...sets]);
    }
    this.hostSets = hostSets;
    return refused;
  }

  /**
   * plan() for a push that changes only apps (the NIs are those of the last plan): only `candidates` — the
   * endpoints of added or changed apps, in the config's order — can need a reservation (every other endpoint kept
   * its own), so only they are looked at; the outcome is what plan() gives for the whole config. `removed`: keys
   * of the endpoints that left; `staticsOf`: every static address of an NI in the new config. The host sets of
   * ACLs are left as they are: the caller sends no endpoint with ACLs here.
   */
  async planChange(
    networks: ReadonlyMap<string, NetworkResolved>,
    candidates: readonly ResolvedEndpoint[],
    removed: readonly string[],
    staticsOf: (ni: string) => readonly string[],
    pathOf: (e: ResolvedEndpoint) => string,
    opts: { partial?: boolean } = {},
  ): Promise<PlanRefusal[]> {
    const local = new Map<string, LocalNetworkResolved>();
    for (const [name, n] of networks) if (n.type === 'local') local.set(name, n);
    // changed in place, what changed remembered for an undo (a copy of the set was O(apps) per push)
    const desired = this.desiredEndpoints;
    const dropped: string[] = [];
    const added: string[] = [];
    for (const key of removed) if (desired.delete(key)) dropped.push(key);
    for (const e of candidates) {
      if (!local.has(e.network) || desired.has(e.key)) continue;
      desired.add(e.key);
      added.push(e.key);
    }
    const ordered = [...candidates].sort((a, b) => Number(b.ip !== undefined) - Number(a.ip !== undefined));
    const { refused, issues, touched } = this.reserveEach(ordered, local, staticsOf, pathOf, opts);
    // (issues come only without `partial`: then no refusal took a key out of the set)
    if (issues.length) {
      this.undo(touched);
      for (const key of added) desired.delete(key);
      for (const key of dropped) desired.add(key);
    }
    this.saveSoon();
    if (issues.length) throw new ConfigError(issues);
    return refused;
  }

  /** The reservations of `ordered` (statics first), as plan() makes them. */
  private reserveEach(
    ordered: readonly ResolvedEndpoint[],
    local: ReadonlyMap<string, LocalNetworkResolved>,
    staticsOf: (ni: string) => readonly string[],
    pathOf: (e: ResolvedEndpoint) => string,
    opts: { partial?: boolean },
  ): { refused: PlanRefusal[]; issues: ConfigIssue[]; touched: Touched[] } {
    const refused: PlanRefusal[] = [];
    const issues: ConfigIssue[] = [];
    const touched: Touched[] = [];
    for (const ep of ordered) {
      const ni = local.get(ep.network);
      if (!ni) continue;
      // already reserved as asked (same MAC, same static address, or a dynamic one IPAM still gives it): nothing to do
      const have = this.members.get(ni.name)?.get(ep.key);
      const wanted = ep.ip !== undefined ? ep.ip === have?.ip : have !== undefined && this.inRange(have.ip, ni);
      if (have && have.mac === ep.mac && wanted && this.ipam.get(ni.name, ep.key) === have.ip) continue;
      try {
        const ip = this.ipam.reserve(ni.name, ep.key, {
          range: ni.dhcpRange,
          ...(ep.ip !== undefined && { static: ep.ip }),
          taken: [ni.gateway, ...ni.dns.hosts.map((h) => h.ip), ...staticsOf(ni.name).filter((a) => a !== ep.ip)],
        });
        let byKey = this.members.get(ni.name);
        if (!byKey) this.members.set(ni.name, (byKey = new Map()));
        touched.push({ ni: ni.name, key: ep.key, prev: have });
        byKey.set(ep.key, { name: ep.app, mac: ep.mac, ip });
      } catch (err) {
        if (!(err instanceof IpamError)) throw err;
        if (opts.partial) {
          refused.push({ key: ep.key, app: ep.app, network: ep.network, path: pathOf(ep), reason: err.message });
          this.desiredEndpoints.delete(ep.key);
          if (have) {
            this.members.get(ni.name)?.delete(ep.key);
            this.ipam.release(ni.name, ep.key);
          }
          continue;
        }
        issues.push({ path: pathOf(ep), message: err.message });
      }
    }
    return { refused, issues, touched };
  }

  /** A refused push changes nothing: undo what it reserved. */
  private undo(touched: Touched[]): void {
    for (const { ni, key, prev } of touched.reverse()) {
      if (prev) this.members.get(ni)?.set(key, prev);
      else {
        this.members.get(ni)?.delete(key);
        this.ipam.release(ni, key);
      }
    }
  }

  private inRange(ip: string, ni: LocalNetworkResolved): boolean {
    const n = ipToInt(ip);
    return n >= ipToInt(ni.dhcpRange.start) && n <= ipToInt(ni.dhcpRange.end);
  }

  /** The NI's dnsmasq spec with every reservation known now. */
  specOf(ni: NiSpec): DhcpDnsSpec {
    const reservations = [...(this.members.get(ni.name)?.values() ?? [])].sort((a, b) => compareNames(a.name, b.name));
    const hosts = ni.dns?.hosts ?? [];
    const gateway = ni.gateway ?? '';
    // EVE answers `router` with the gateway, unless an app or a static entry has that name
    const routerTaken = hosts.some((h) => h.name === 'router') || reservations.some((r) => r.name === 'router');
    const upstream = this.upstreamOf(ni);
    return {
      ni: ni.name,
      bridge: ni.bridge,
      subnet: ni.subnet ?? '',
      gateway,
      prefixlen: ni.prefixlen ?? 24,
      range: ni.dhcpRange ?? { start: '', end: '' },
      ...(ni.mtu !== undefined && { mtu: ni.mtu }),
      forwarders: ni.dns?.forwarders ?? [],
      upstream: upstream.upstream,
      dhcp: dhcpOptionsOf(ni),
      staticHosts: [...hosts, ...(routerTaken || gateway === '' ? [] : [{ name: 'router', ip: gateway }])],
      reservations,
      ...(this.hostSets.has(ni.name) && { nftsets: this.hostSets.get(ni.name) }),
      ...(ni.dns?.dhcpHostnames === true && { dhcpHostnames: true }),
    };
  }

  /** The NI as its actor last ensured it (local NIs). */
  niOf(name: string): NiSpec | undefined {
    return this.nis.get(name);
  }

  /** The NI as its actor creates it now: members attaching meanwhile find its addresses (before its dnsmasq runs). */
  noteNi(ni: NiSpec): void {
    this.nis.set(ni.name, ni);
  }

  /** Create or converge the NI's dnsmasq (called by the NI actor). */
  async ensureNi(ni: NiSpec, signal?: AbortSignal): Promise<number> {
    this.nis.set(ni.name, ni);
    const spec = this.specOf(ni);
    // a member attaching while this start is under way is served by it when its reservation is in it
    const starting = this.dhcpdns.pid(ni.name) === undefined ? new Set(spec.reservations.map(reservationKey)) : undefined;
    if (starting) this.starting.set(ni.name, starting);
    try {
      const { pid } = await this.serve(spec, signal);
      return pid;
    } finally {
      if (this.starting.get(ni.name) === starting) this.starting.delete(ni.name);
    }
  }

  async removeNi(name: string): Promise<void> {
    this.nis.delete(name);
    if (!this.desiredNis.has(name)) {
      this.members.delete(name);
      this.ipam.forgetNetwork(name);
      await this.ipam.save();
    }
    await this.dhcpdns.remove(name);
  }

  /**
   * Make dnsmasq serve the endpoint's reservation (a SIGHUP when it is new) before its interface exists. While the
   * NI's dnsmasq is being started with this reservation in it, that start serves it: the member does not wait.
   */
  async addEndpoint(ep: EndpointSpec, signal?: AbortSignal): Promise<string | undefined> {
    const ni = this.nis.get(ep.network);
    const r = this.members.get(ep.network)?.get(ep.key);
    if (!ni || r === undefined) return undefined;
    if (this.starting.get(ep.network)?.has(reservationKey(r))) return r.ip;
    await this.serve(this.specOf(ni), signal);
    return r.ip;
  }

  /** Free the endpoint's reservation and evict its lease, so a redeployed app gets its address back. */
  async removeEndpoint(ep: EndpointSpec): Promise<void> {
    // re-created (e.g. moved to another netns): the new actor serves the reservation planned for it
    if (this.desiredEndpoints.has(ep.key)) return;
    // its NI goes too: no reload or lease eviction of a dnsmasq about to be removed
    if (!this.desiredNis.has(ep.network)) {
      this.members.get(ep.network)?.delete(ep.key);
      return;
    }
    const byKey = this.members.get(ep.network);
    const had = byKey?.get(ep.key);
    byKey?.delete(ep.key);
    this.ipam.release(ep.network, ep.key);
    if (had) this.freedCount++;
    await this.ipam.save();
    const ni = this.nis.get(ep.network);
    if (!ni || !had) return;
    await this.serve(this.specOf(ni));
    await this.dhcpdns.evictLease(ni.name, had.mac);
  }

  /**
   * Once at start, after plan(): reservations of NIs and apps dropped from the config while edgenet was down have no
   * actor left to free them. Such NIs are forgotten; such apps' addresses become hints. Returns what was freed.
   */
  async freeOrphans(): Promise<string[]> {
    const freed: string[] = [];
    for (const ni of this.ipam.networks()) {
      if (!this.desiredNis.has(ni)) {
        this.ipam.forgetNetwork(ni);
        freed.push(`reservations of ${ni}`);
        continue;
      }
      for (const key of Object.keys(this.ipam.reservations(ni))) {
        if (this.desiredEndpoints.has(key)) continue;
        this.ipam.release(ni, key);
        freed.push(`reservation of ${key}`);
      }
    }
    await this.ipam.save();
    return freed;
  }

  addressOf(ep: { network: string; key: string }): string | undefined {
    return this.members.get(ep.network)?.get(ep.key)?.ip;
  }
}
