import type { BondMode } from '../config/port-links-schema.ts';
import { ALIAS_PREFIX } from '../util/names.ts';
import type { WriteCounter } from './write-counter.ts';

// Links edgenet creates for ports (ports[].vlan, ports[].bond): VLAN sub-interfaces and bonds. Marked with the alias
// `edgenet:port:<port name>`; a same-named link without that mark was made by someone else: it is used when it is what
// the port asks for, never changed and never deleted.

export interface PortVlanSpec {
  parent: string;
  id: number;
}

export interface PortBondSpec {
  members: string[];
  mode: BondMode;
  miimon?: number;
  upDelay?: number;
  downDelay?: number;
  lacpRate?: 'slow' | 'fast';
}

export interface PortLinkSpec {
  /** the port's name (in the mark) */
  port: string;
  ifname: string;
  alias: string;
  vlan?: PortVlanSpec;
  bond?: PortBondSpec;
}

/** A VLAN or bond link as the kernel reports it. */
export interface PortLinkView {
  ifindex: number;
  ifname: string;
  kind: 'vlan' | 'bond';
  alias?: string;
  up: boolean;
  vlan?: PortVlanSpec;
  /** the bond's settings as the kernel has them, and its members' names */
  bond?: { mode: string; miimon: number; upDelay: number; downDelay: number; lacpRate: string; members: string[] };
}

export interface PortLinkDriver {
  readonly writes: WriteCounter;
  /** every VLAN and bond link of the namespace (marked or not) */
  list(): Promise<PortLinkView[]>;
  /** Creates the link, marks it, enslaves a bond's members (down first, as the kernel wants), brings it up. */
  create(spec: PortLinkSpec): Promise<void>;
  /** Enslaves members to an existing bond (missing ones), releases others (`release`), brings the bond up. */
  setMembers(ifname: string, add: readonly string[], release: readonly string[]): Promise<void>;
  /** Deletes the link (absent is success); a bond's members are released and brought up again. */
  remove(ifname: string, members?: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export const PORT_ALIAS_KIND = 'port:';

export function portLinkAlias(port: string): string {
  return `${ALIAS_PREFIX}${PORT_ALIAS_KIND}${port}`;
}

/** The port name of a port-link mark; undefined for any other alias. */
export function parsePortLinkAlias(alias: string | undefined): string | undefined {
  const prefix = `${ALIAS_PREFIX}${PORT_ALIAS_KIND}`;
  return alias?.startsWith(prefix) && alias.length > prefix.length ? alias.slice(prefix.length) : undefined;
}

/** Does the kernel's link have what the spec asks for (mode and monitor settings, VLAN parent and id)? */
export function sameSettings(spec: PortLinkSpec, view: PortLinkView): boolean {
  if (spec.vlan) return view.kind === 'vlan' && view.vlan?.parent === spec.vlan.parent && view.vlan.id === spec.vlan.id;
  if (spec.bond) {
    const b = view.bond;
    if (view.kind !== 'bond' || !b) return false;
    return (
      b.mode === spec.bond.mode &&
      b.miimon === (spec.bond.miimon ?? 0) &&
      b.upDelay === (spec.bond.upDelay ?? 0) &&
      b.downDelay === (spec.bond.downDelay ?? 0) &&
      (spec.bond.mode !== '802.3ad' || b.lacpRate === (spec.bond.lacpRate ?? 'slow'))
    );
  }
  return false;
}

/** In words, for errors: `vlan 10 on eth1`, `bond active-backup of eth2, eth3`. */
export function describeSpec(spec: Pick<PortLinkSpec, 'vlan' | 'bond'>): string {
  if (spec.vlan) return `VLAN ${spec.vlan.id} on ${spec.vlan.parent}`;
  if (spec.bond) return `bond (${spec.bond.mode}) of ${spec.bond.members.join(', ')}`;
  return 'a link';
}

export function describeView(view: PortLinkView): string {
  if (view.vlan) return `VLAN ${view.vlan.id} on ${view.vlan.parent}`;
  if (view.bond) return `bond (${view.bond.mode}, miimon ${view.bond.miimon}) of ${view.bond.members.join(', ') || 'no members'}`;
  return view.kind;
}
