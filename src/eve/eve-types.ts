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
}

/** Fields an apply answer carries when the config came from an EVE document. */
export interface EveApplyExtras {
  findings: EveFinding[];
  eve: EveNames;
}
