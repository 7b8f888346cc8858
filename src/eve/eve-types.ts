// What converting an EVE EdgeDevConfig yields besides edgenet's config: findings, and the names edgenet chose.
import type { Config, ConfigInput } from '../config/config-schema.ts';

/**
 * Something in the EVE document that edgenet does not do as EVE would: a field ignored (`warning`), or a choice
 * the document made that edgenet followed but a reader should know about (`info`, e.g. an NI with `activate: false`).
 */
export interface EveFinding {
  level: 'warning' | 'info';
  /** where in the EVE document, e.g. `networkInstances[2].staticRoutes` */
  path: string;
  /** `network <name>`, `app <name>` (edgenet's names) or `device` (device-wide fields) */
  subject: string;
  /** the EVE field, e.g. `staticRoutes` */
  field: string;
  /** what edgenet did, in words */
  message: string;
}

/** An EVE network instance and what edgenet made of it. */
export interface EveNetworkName {
  uuid: string;
  displayname: string;
  /** edgenet's name for it */
  name: string;
  /** built: in the config; inactive: `activate` is false; refused: edgenet cannot build it (see `reason`) */
  state: 'built' | 'inactive' | 'refused';
  type?: 'local' | 'switch';
  reason?: string;
  /** built, but with an error (e.g. an unknown port label: built air-gapped) */
  error?: string;
}

export interface EveAppName {
  uuid: string;
  displayname: string;
  name: string;
}

/** The interface a hypervisor must create for one app adapter: edgenet waits for `ifname` and attaches it. */
export interface EveTap {
  /** edgenet's app name */
  app: string;
  appUuid: string;
  /** index in the app's `interfaces` */
  adapter: number;
  /** the adapter's `name` in the EVE document (may be empty) */
  adapterName: string;
  /** edgenet's NI name */
  network: string;
  networkUuid: string;
  /** host-side interface name (≤ 15 chars) */
  ifname: string;
  /** the app's MAC on this adapter: `macAddress`, or the one edgenet derives (its DHCP reservation is bound to it) */
  mac: string;
  /** static address (`addr`) on a local NI */
  ip?: string;
  /** refused: not built (see `reason`); absent: built */
  state?: 'refused';
  reason?: string;
}

/** A SystemAdapter that became an edgenet port. */
export interface EvePortName {
  name: string;
  /** the SystemAdapter's logical name */
  adapter: string;
  ifname: string;
}

export interface EveNames {
  networks: EveNetworkName[];
  apps: EveAppName[];
  taps: EveTap[];
  ports: EvePortName[];
}

export interface EveConversion<C = ConfigInput> {
  config: C;
  findings: EveFinding[];
  names: EveNames;
  /** edgenet config path → EVE document path (longest prefix wins), to name EVE paths in validation errors */
  sources: Record<string, string>;
  /** objects of the document not built (or built with an error), each with its reason */
  errors: EveObjectError[];
}

export type ValidatedEveConversion = EveConversion<Config>;

export interface EveConvertOptions {
  /**
   * Host-side interface names chosen by the hypervisor integration, overriding the derived ones. Keys:
   * `<app uuid>/<adapter index>` or `<app uuid>/<adapter name>`.
   */
  tapNames?: Record<string, string>;
  /** named in errors (a file path, `request body`) */
  source?: string;
  /**
   * Objects to refuse (validation found them invalid), by NI uuid and by `<app uuid>/<adapter index>`, each with
   * the EVE path and the rule: set by validateEveConfig, which converts again without them.
   */
  refusals?: EveRefusals;
}

export interface EveRefusals {
  networks: Map<string, { path: string; reason: string }>;
  adapters: Map<string, { path: string; reason: string }>;
}

/**
 * An object of the EVE document that edgenet did not build (EVE's per-object error): an NI (invalid, or
 * something edgenet cannot build) or an app adapter (its NI refused or unknown, no address left). Everything else
 * of the document is applied.
 */
export interface EveObjectError {
  kind: 'network' | 'adapter';
  /** the object in the EVE document, e.g. `networkInstances[1]`, `apps[0].interfaces[1]` */
  path: string;
  /** NI uuid, or the app's uuid for an adapter */
  uuid: string;
  /** edgenet's name: the NI's, or `<app>/<ni>` for an adapter (`<app>` when its NI is unknown) */
  name: string;
  /** adapter index in the app's `interfaces` */
  adapter?: number;
  /** the rule it broke, with the path of the offending field when that is more precise than `path` */
  reason: string;
}

/** Fields an apply answer carries when the config came from an EVE document. */
export interface EveApplyExtras {
  findings: EveFinding[];
  eve: EveNames;
  /** objects not built, each with its reason (empty: everything was built) */
  errors: EveObjectError[];
}
