import type { Observable } from 'rxjs';
import { KernelError } from '../errors.ts';
import type { WriteCounter } from './write-counter.ts';

/** One network interface as the kernel reports it. */
export interface LinkInfo {
  ifindex: number;
  ifname: string;
  /** linkinfo kind: 'bridge', 'veth', 'tun', ... (undefined for plain NICs) */
  kind?: string;
  /** ifindex of the bridge this link is enslaved to */
  master?: number;
  /** administratively up (IFF_UP) */
  up: boolean;
  /** carrier present (IFLA_CARRIER / IFF_LOWER_UP) */
  carrier: boolean;
  /** IF_OPER_* as a word: 'up', 'down', 'lowerlayerdown', 'unknown', ... */
  operstate: string;
  mtu: number;
  /** lower-case colon form */
  mac: string;
  /** IFLA_IFALIAS: edgenet's ownership mark lives here (`edgenet:<kind>:<identity>`) */
  alias?: string;
}

/**
 * RTM_NEWLINK / RTM_DELLINK (AF_UNSPEC only), typed. A NEWLINK is sent for every change (carrier, master, flags, rename).
 * A DELLINK carries the master the link last had (the kernel releases a port from its bridge just before deleting it).
 */
export type LinkEvent = { type: 'new'; link: LinkInfo } | { type: 'del'; link: LinkInfo };

export interface AddressInfo {
  ifindex: number;
  /** dotted quad */
  address: string;
  prefixlen: number;
}

/** RTM_NEWADDR / RTM_DELADDR of an IPv4 address in edgenet's namespace. */
export interface AddressEvent {
  type: 'new' | 'del';
  address: AddressInfo;
}

export interface BridgeSpec {
  name: string;
  alias: string;
  mtu?: number;
  /**
   * The ifindex edgenet made this bridge with, when it has one: found under another name (renamed behind its back)
   * the bridge is renamed back; found without its mark it is marked again (a same-named unmarked link with another
   * ifindex is not ours).
   */
  ifindex?: number;
}

export interface VethSpec {
  /** host-side name (en… prefix) */
  name: string;
  alias: string;
  /** the app's namespace: a path such as /run/netns/web, or a pid (its /proc/<pid>/ns/net) */
  netns: string | number;
  /** name inside the app's namespace */
  peerName: string;
  /** MAC of the app-side interface (what DHCP sees) */
  peerMac?: string;
  /**
   * bridge ifindex to enslave the host side to. Absent: the pair is only made (the host side down, unmarked, in no
   * bridge) and an existing one left as it is: a second call with the master finishes it in one write. Lets the pair
   * be made while the app's rules and reservation are written, and enslaved once they are there.
   */
  master?: number;
  mtu?: number;
}

export interface AttachSpec {
  ifname: string;
  /** bridge ifindex */
  master: number;
  mtu?: number;
}

/**
 * Links: bridges, veths, enslavement, addresses, and the kernel's link events.
 * Every operation is idempotent: it reads what is there and writes only the difference;
 * "already exists" and "already gone" are success.
 */
/** Where an app's network namespace is: a path as given, or a pid's /proc/<pid>/ns/net. */
export function netnsPath(netns: string | number): string {
  return typeof netns === 'number' ? `/proc/${netns}/ns/net` : netns;
}

export interface LinkDriver {
  readonly writes: WriteCounter;
  /** times the event socket overflowed (events lost, links resynchronised); absent for a driver without one */
  readonly overflows?: number;
  /** RTM_NEWLINK/RTM_DELLINK of the namespace edgenet runs in (hot: subscribe once, route by ifname). */
  readonly events$: Observable<LinkEvent>;
  /** RTM_NEWADDR/RTM_DELADDR (IPv4) on the same event socket: an address removed or added behind edgenet's back. */
  readonly addressEvents$: Observable<AddressEvent>;

  list(): Promise<LinkInfo[]>;
  /** Asks the kernel. */
  get(ifname: string): Promise<LinkInfo | undefined>;
  /**
   * For probes ("is it there, enslaved to what?"): answered by the link cache the event socket keeps, when it is
   * current (seeded, no overflow being resynchronised), else by the kernel. Never to verify what an event reported:
   * that is `get`.
   */
  cached(ifname: string): Promise<LinkInfo | undefined>;
  /** The link with this ifindex: from the link cache when it is current, else one request (not a dump). */
  getByIndex(ifindex: number): Promise<LinkInfo | undefined>;

  /**
   * Create the bridge if absent; set alias, MTU and up when they differ. Refuses (EEXIST) a same-named link of
   * another kind or with a foreign (non-`edgenet:`) alias. Creating costs 2 link writes (the kernel ignores an alias
   * given at creation), a converged bridge 0, any differences 1.
   */
  ensureBridge(spec: BridgeSpec, signal?: AbortSignal): Promise<LinkInfo>;
  /**
   * Create the veth pair if the host side is absent (2 link writes: create it with the app side made directly in the
   * app's namespace under its name, with its MAC and MTU, up; then mark, enslave and bring up the host side in one
   * request); otherwise only
   * converge the host side (alias, master, MTU, up: 0 or 1 write). A missing namespace is a KernelError ENOENT naming
   * the path, before any write; a failure after creation deletes the half-built pair.
   */
  ensureVeth(spec: VethSpec, signal?: AbortSignal): Promise<LinkInfo>;
  /**
   * Enslave an existing interface (tap, port) to a bridge, set MTU when given and bring it up: one RTM_SETLINK by
   * name when the link cache shows a difference (none when it shows it converged), no read-back. The answer is the
   * cached link with what was written.
   */
  attach(spec: AttachSpec, signal?: AbortSignal): Promise<LinkInfo>;
  /**
   * Give a link this MAC (a switch NI's bridge takes the MAC of the port whose addresses it carries, as EVE's NIM
   * does, so the port's neighbours never see the device change address). Already so: 0 writes.
   */
  setMac(ifname: string, mac: string, signal?: AbortSignal): Promise<void>;
  /** Release an interface from its bridge (nomaster). Absent is success. */
  detach(ifname: string, signal?: AbortSignal): Promise<void>;
  /** Delete a link (a veth's peer goes with it). Absent is success. */
  deleteLink(ifname: string, signal?: AbortSignal): Promise<void>;

  /** Does the app's network namespace (a path such as /run/netns/web, or a pid) exist now? */
  hasNetns(netns: string | number): Promise<boolean>;

  listAddresses(ifname?: string): Promise<AddressInfo[]>;
  /** Make `address/prefixlen` present on the link (other addresses are left alone). */
  ensureAddress(ifname: string, address: string, prefixlen: number, signal?: AbortSignal): Promise<void>;
  /** Remove `address/prefixlen` from the link; absent is success. */
  deleteAddress(ifname: string, address: string, prefixlen: number, signal?: AbortSignal): Promise<void>;

  close(): Promise<void>;
}

/**
 * An unmarked bridge with our name is adopted only empty (a crash between creating and marking it leaves one): one
 * with members or addresses was made by someone else, and serving its members would serve what is not ours.
 */
export function assertUnmarkedBridgeEmpty(link: LinkInfo, members: string[], addrs: string[]): void {
  if (members.length === 0 && addrs.length === 0) return;
  const what = [...(members.length ? [`member${members.length > 1 ? 's' : ''} ${members.join(', ')}`] : []), ...(addrs.length ? [`address ${addrs.join(', ')}`] : [])];
  throw new KernelError('ensureBridge', link.ifname, 'EEXIST', `exists without edgenet's mark, with ${what.join(' and ')}: not created by edgenet, refused (delete or rename it)`);
}

