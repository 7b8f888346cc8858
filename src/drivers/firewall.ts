import type { Observable } from 'rxjs';
import type { NftChange } from './nft-monitor.ts';
import type { AclRuleStatus, EndpointRules } from './firewall-acl.ts';
import type { WriteCounter } from './write-counter.ts';

/** What the firewall needs to know of one local network instance. */
export interface NiRules {
  /** network instance name (rules and chains are named after it) */
  name: string;
  bridge: string;
  /** e.g. 10.50.0.0/24 */
  subnet: string;
  gateway: string;
  /** the NI's uplink; absent: apps reach each other only */
  port?: { ifname: string };
  /** several uplinks (one selected at a time by routing): NAT and forwarding out of each; `port` is then ignored */
  ports?: { ifname: string }[];
}

/** What is really in table `inet edgenet`, for audits and tests. */
export interface RulesetView {
  present: boolean;
  /** network instances that have rules, by name (sorted) */
  networks: string[];
  /** a digest of the table's rules (handles excluded), to notice changes made behind edgenet's back */
  digest: string;
}

/**
 * nftables: every rule lives in table `inet edgenet`; nothing else is touched.
 * Each call is one atomic transaction; operations are idempotent (converge, don't append).
 */
export interface Firewall {
  readonly writes: WriteCounter;
  /** converge one NI's rules; unchanged and intact: no write at all */
  ensureNetwork(ni: NiRules, signal?: AbortSignal): Promise<void>;
  /** converge several NIs in one transaction (only the ones that need it); a later name wins over an earlier one */
  ensureNetworks(nis: readonly NiRules[], signal?: AbortSignal): Promise<void>;
  /** absent is success */
  removeNetwork(name: string, signal?: AbortSignal): Promise<void>;
  /** remove table inet edgenet altogether (absent is success) */
  removeAll(): Promise<void>;
  dump(): Promise<RulesetView>;
  /** converge one app interface's ACLs, port forwards and anti-spoofing (firewall-acl.ts): one transaction, none when unchanged */
  ensureEndpoint(ep: EndpointRules, signal?: AbortSignal): Promise<void>;
  /** absent is success */
  removeEndpoint(key: string, signal?: AbortSignal): Promise<void>;
  /** remove the rules of every endpoint not in `keep` (keys); returns what was removed (tags or keys) */
  sweepEndpoints(keep: readonly string[], signal?: AbortSignal): Promise<string[]>;
  /** the endpoint's counted rules with packets as last read (the audit reads them), undefined without rules */
  endpointStatus(key: string): AclRuleStatus[] | undefined;
  /**
   * The NIs whose rules are no longer what edgenet last applied (changed, flushed or deleted behind its back):
   * one listing of the table, compared per NI. Cheap enough for a periodic audit.
   */
  drifted(): Promise<string[]>;
  /**
   * Changes to edgenet's tables that edgenet did not make, as the kernel reports them (`nft monitor`), and each
   * (re)start of that watch (changes meanwhile were not seen). Absent: the driver cannot tell; drift is polled.
   */
  readonly changes$?: Observable<NftChange>;
  /**
   * Reads the endpoints' rule counters for status (drifted() reads them too). Beside the firewall's writes, not
   * queued behind them. Absent: drifted() is what reads them.
   */
  refreshCounters?(): Promise<void>;
  /** What is wrong with the table's base (base chains, port-forward hook, foreign rules or chains); empty: intact. */
  baseDrift(): Promise<string[]>;
  /** Repairs the table's base in one transaction (foreign rules and chains removed); intact: no write. */
  ensureBase(signal?: AbortSignal): Promise<void>;
  /** net.ipv4.ip_forward in edgenet's namespace */
  forwardingOn(signal?: AbortSignal): Promise<boolean>;
  /** net.ipv4.ip_forward=1 in edgenet's namespace (already on: no write) */
  ensureForwarding(signal?: AbortSignal): Promise<void>;
  /** arp_ignore=1 and arp_filter=1 on one of our bridges (edgenet's namespace; already set: no write) */
  guardBridge(bridge: string, signal?: AbortSignal): Promise<void>;
}

// Rule layout, shared by the real driver and its fake so both name things the same way.
export const FIREWALL_FAMILY = 'inet';
export const FIREWALL_TABLE = 'edgenet';

/** Base chains, created once: `forward` and `input` (filter, policy accept), `postrouting` (nat, srcnat). */
export type BaseChain = 'forward' | 'input' | 'postrouting';

/** Regular chains holding one NI's rules, jumped to from the base chains by rules matching its bridge/subnet. */
export function niChainNames(ni: string): { fwd: string; in: string; nat: string } {
  return { fwd: `fwd-${ni}`, in: `in-${ni}`, nat: `nat-${ni}` };
}

/** The NI a per-NI chain belongs to, or undefined for base/foreign chains. */
export function niOfChain(chain: string): string | undefined {
  const m = /^(?:fwd|in|nat)-(.+)$/.exec(chain);
  return m?.[1];
}

/** JSON with sorted keys (undefined fields dropped): digests of rules and specs must not depend on key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The interfaces an NI's apps may leave by (masqueraded). */
export function uplinkIfnames(ni: NiRules): string[] {
  if (ni.ports) return ni.ports.map((p) => p.ifname);
  return ni.port ? [ni.port.ifname] : [];
}
