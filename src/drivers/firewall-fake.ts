// In-memory Firewall with the real driver's semantics: unit tests assert on the resulting state
// ("lan masquerades out of up0"), not on which calls happened.
import { createHash } from 'node:crypto';
import { KernelError } from '../errors.ts';
import { canonicalJson, uplinkIfnames } from './firewall.ts';
import type { Firewall, NiRules, RulesetView } from './firewall.ts';
import { aclRuleInfos, endpointChains, type AclRuleStatus, type EndpointChains, type EndpointRules } from './firewall-acl.ts';
import { WriteCounter } from './write-counter.ts';

/** A readable view of one NI's rules, as the real layout would enforce them. */
export interface FakeNiView {
  bridge: string;
  subnet: string;
  gateway: string;
  /** the port the NI's traffic is masqueraded out of */
  masqueradeOut?: string;
  /** several uplinks: masquerades out of each (routing selects one) */
  masqueradeOutOf?: string[];
  /** interfaces the NI's apps may send to (forward): its own bridge, and its port if any */
  forwardsTo: string[];
  /** nothing outside the NI (its port, other NIs) can open a connection into it */
  isolated: boolean;
  /** what the device itself accepts from the NI's bridge */
  inputAccepts: string[];
}

export type FakeFirewallOp = 'ensureNetwork' | 'removeNetwork' | 'removeAll' | 'dump' | 'ensureBase' | 'ensureEndpoint' | 'removeEndpoint';

export interface FakeFirewallOptions {
  /** net.ipv4.ip_forward before edgenet touches it (default: off) */
  ipForward?: boolean;
  writes?: WriteCounter;
}

export class FakeFirewall implements Firewall {
  readonly writes: WriteCounter;
  /** net.ipv4.ip_forward in the fake namespace */
  ipForward: boolean;
  /** undefined: table inet edgenet absent; insertion order = order of the jump rules in the base chains */
  private table: Map<string, NiRules> | undefined;
  /** what edgenet last applied, per NI: the audit compares the table with it */
  private readonly applied = new Map<string, NiRules>();
  private readonly failures = new Map<FakeFirewallOp, Error>();
  /** app interfaces' rules (ACLs, port forwards, anti-spoofing), by endpoint key */
  private readonly endpoints = new Map<string, EndpointRules>();
  /** what someone changed in the table's base behind edgenet's back (a foreign rule, a foreign chain) */
  private baseTampering: string[] = [];
  /** bridges with arp_ignore/arp_filter set */
  readonly guardedBridges = new Set<string>();

  constructor(opts: FakeFirewallOptions = {}) {
    this.writes = opts.writes ?? new WriteCounter();
    this.ipForward = opts.ipForward ?? false;
  }

  async ensureNetwork(ni: NiRules, signal?: AbortSignal): Promise<void> {
    return this.ensureNetworks([ni], signal);
  }

  async ensureNetworks(input: readonly NiRules[], signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const nis = [...new Map(input.map((ni) => [ni.name, ni])).values()];
    if (nis.length === 0) return;
    this.failIfAsked('ensureNetwork', `ni "${nis[0]?.name ?? ''}"`);
    const stale = nis.filter((ni) => {
      const have = this.table?.get(ni.name);
      return !have || canonicalJson(have) !== canonicalJson(clone(ni));
    });
    if (stale.length > 0) {
      if (!this.table) this.baseTampering = [];
      const table = (this.table ??= new Map());
      for (const ni of stale) {
        table.delete(ni.name); // a rewritten NI's jump rules go to the end, as in the real driver
        table.set(ni.name, clone(ni));
      }
    }
    for (const ni of nis) this.applied.set(ni.name, clone(ni));
    if (stale.length > 0) {
      this.writes.inc('nft');
    }
    if (nis.some((ni) => uplinkIfnames(ni).length > 0) && !this.ipForward) {
      this.ipForward = true;
      this.writes.inc('sysctl');
    }
  }

  async removeNetwork(name: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.failIfAsked('removeNetwork', `ni "${name}"`);
    this.applied.delete(name);
    if (this.table?.delete(name)) this.writes.inc('nft');
  }

  async ensureEndpoint(ep: EndpointRules, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.failIfAsked('ensureEndpoint', `endpoint ${ep.key}`);
    const have = this.endpoints.get(ep.key);
    const nothing = !ep.acls && !ep.antiSpoof;
    if (nothing) {
      if (this.endpoints.delete(ep.key)) this.writes.inc('nft');
      return;
    }
    if (have && canonicalJson(have) === canonicalJson(ep)) return;
    this.endpoints.set(ep.key, structuredClone(ep));
    this.writes.inc('nft');
  }

  async removeEndpoint(key: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.failIfAsked('removeEndpoint', `endpoint ${key}`);
    if (this.endpoints.delete(key)) this.writes.inc('nft');
  }

  async sweepEndpoints(keep: readonly string[]): Promise<string[]> {
    const gone = [...this.endpoints.keys()].filter((k) => !keep.includes(k)).sort();
    for (const k of gone) this.endpoints.delete(k);
    if (gone.length > 0) this.writes.inc('nft');
    return gone;
  }

  endpointStatus(key: string): AclRuleStatus[] | undefined {
    const ep = this.endpoints.get(key);
    return ep && aclRuleInfos(ep).map((r) => ({ rule: r.rule, action: r.action, packets: 0 }));
  }

  /** The endpoint's rules as the real driver renders them; undefined when it has none. */
  endpointRules(key: string): (EndpointChains & { spec: EndpointRules }) | undefined {
    const ep = this.endpoints.get(key);
    return ep && { ...endpointChains(ep), spec: structuredClone(ep) };
  }

  async removeAll(): Promise<void> {
    this.failIfAsked('removeAll', 'table inet edgenet');
    this.endpoints.clear();
    this.applied.clear();
    if (this.table) {
      this.table = undefined;
      this.writes.inc('nft');
    }
  }

  async dump(): Promise<RulesetView> {
    this.failIfAsked('dump', 'table inet edgenet');
    if (!this.table) return { present: false, networks: [], digest: sha('absent') };
    const networks = [...this.table.keys()].sort();
    return { present: true, networks, digest: sha(canonicalJson(networks.map((n) => this.table?.get(n)))) };
  }

  async drifted(): Promise<string[]> {
    return [...this.applied.keys()].filter((name) => !this.table?.has(name)).sort();
  }

  async baseDrift(): Promise<string[]> {
    if (!this.table) return this.applied.size > 0 ? ['table inet edgenet is missing'] : [];
    return [...this.baseTampering];
  }

  async ensureBase(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.failIfAsked('ensureBase', 'table inet edgenet');
    if (this.table && this.baseTampering.length === 0) return;
    this.table ??= new Map();
    this.baseTampering = [];
    this.writes.inc('nft');
  }

  async forwardingOn(): Promise<boolean> {
    return this.ipForward;
  }

  async ensureForwarding(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.ipForward) return;
    this.ipForward = true;
    this.writes.inc('sysctl');
  }

  async guardBridge(bridge: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.guardedBridges.has(bridge)) return;
    this.guardedBridges.add(bridge);
    this.writes.inc('sysctl');
  }

  // ---- test helpers ----

  /** Simulates a foreign rule or chain put into table inet edgenet (`problem` is what the audit reports). */
  tamperBase(problem: string): void {
    this.baseTampering.push(problem);
  }

  /** The NI's rules as the data plane would enforce them; undefined when it has none. */
  rulesFor(ni: string): FakeNiView | undefined {
    const r = this.table?.get(ni);
    if (!r) return undefined;
    const ports = uplinkIfnames(r);
    return {
      bridge: r.bridge,
      subnet: r.subnet,
      gateway: r.gateway,
      ...(ports.length === 1 && { masqueradeOut: ports[0] }),
      ...(ports.length > 1 && { masqueradeOutOf: ports }),
      forwardsTo: [r.bridge, ...ports],
      isolated: true,
      inputAccepts: ['from its own bridge or lo only', 'established,related', 'udp 67', `udp 53 to ${r.gateway}`, `tcp 53 to ${r.gateway}`, `icmp echo-request to ${r.gateway}`],
    };
  }

  /** The verdict of the forward hook for a packet, walking the NIs in jump order like the real chains do. */
  forwardVerdict(p: { iifname: string; oifname: string; ct?: 'new' | 'established' }): 'accept' | 'drop' {
    for (const r of this.table?.values() ?? []) {
      const br = r.bridge;
      if (p.iifname !== br && p.oifname !== br) continue;
      if (p.iifname === br && p.oifname === br) return 'accept';
      if (p.iifname === br && uplinkIfnames(r).includes(p.oifname)) return 'accept';
      if (p.oifname === br) return p.ct === 'established' ? 'accept' : 'drop';
      return 'drop';
    }
    return 'accept'; // policy accept: foreign traffic is not ours
  }

  /** Simulates someone flushing the ruleset (`nft flush ruleset`, a firewall reload) behind edgenet's back. */
  flushBehindOurBack(): void {
    this.table = undefined;
  }

  /** The next call of `op` fails with `error` (default: a KernelError like the real driver's). */
  failNext(op: FakeFirewallOp, error?: Error): void {
    this.failures.set(op, error ?? new KernelError(`nft ${op}`, '(injected)', 'EINVAL', 'injected failure'));
  }

  private failIfAsked(op: FakeFirewallOp, object: string): void {
    const err = this.failures.get(op);
    if (!err) return;
    this.failures.delete(op);
    if (err instanceof KernelError && err.object === '(injected)') throw new KernelError(err.operation, object, err.errno, 'injected failure');
    throw err;
  }
}

export function createFakeFirewall(opts: FakeFirewallOptions = {}): FakeFirewall {
  return new FakeFirewall(opts);
}

function clone(ni: NiRules): NiRules {
  return {
    name: ni.name,
    bridge: ni.bridge,
    subnet: ni.subnet,
    gateway: ni.gateway,
    ...(ni.port ? { port: { ifname: ni.port.ifname } } : {}),
    ...(ni.ports ? { ports: ni.ports.map((p) => ({ ifname: p.ifname })) } : {}),
  };
}


const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
