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
}

/** What is really in table `inet edgenet`, for audits and tests. */
export interface RulesetView {
  present: boolean;
  /** network instances that have rules, by name */
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
  ensureNetwork(ni: NiRules, signal?: AbortSignal): Promise<void>;
  /** absent is success */
  removeNetwork(name: string, signal?: AbortSignal): Promise<void>;
  /** remove table inet edgenet altogether */
  removeAll(): Promise<void>;
  dump(): Promise<RulesetView>;
}
