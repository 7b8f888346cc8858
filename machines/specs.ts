// What the machines are told about their objects: resolved from the config by src/ (defaults filled, names derived).
import type { AclRuleSpec } from '../src/config/acl-schema.ts';

export interface NiSpec {
  name: string;
  type: 'switch' | 'local';
  /** bridge name (en… prefix) */
  bridge: string;
  mtu?: number;
  /** name of the port (from the config's `ports`) and its host interface */
  port?: string;
  portIfname?: string;
  /** several ports (a switch NI with STP): their names; `port` is unset then */
  ports?: string[];
  /** switch NIs: the kernel's spanning tree on the bridge (forwardDelayS absent: the kernel's 15 s) */
  stp?: { forwardDelayS?: number };
  /** switch NIs: the bridge filters VLANs */
  vlanFiltering?: boolean;
  /** local NIs only */
  subnet?: string;
  gateway?: string;
  prefixlen?: number;
  dhcpRange?: { start: string; end: string };
  dns?: { forwarders: string[]; hosts: { name: string; ip: string }[]; dhcpHostnames?: boolean };
  /** local NIs: the ports it NATs out of, in the config's order (one for `port`, several for `ports`), with their facts */
  uplinks?: UplinkSpec[];
  /** local NIs with several ports: how long a recovered better port must stay up before it is taken back */
  holdDownMs?: number;
  /** local NIs with a port: its own routing table (a policy rule sends its subnet's traffic there) */
  table?: number;
  /** set by the NI actor when it invokes createNi: the uplink selected now (several ports) */
  selectedUplink?: string;
  /** local NIs: what apps are told by DHCP, as configured */
  dhcp?: { dns?: string[]; ntp: string[]; domain?: string };
  /** local NIs: static routes (offered to apps; installed on the device side as their gateway calls for) */
  routes?: { to: string; via: string }[];
}

/** One port a local NI can NAT out of, with the facts the data plane needs. */
export interface UplinkSpec {
  /** port name (from the config's `ports`) */
  port: string;
  /** the interface that carries the port's addresses: the port itself, or the bridge of a switch NI sharing it */
  ifname: string;
  /** the port's own interface (where its addresses are before a switch NI's bridge takes them); default `ifname` */
  portIfname?: string;
  /** lower wins (0..255, default 0) */
  cost?: number;
  /** configured next hop; absent: learned from the main table's default route on `ifname` */
  gateway?: string;
  /** the port has a reachability probe */
  probed?: boolean;
  /** upstream resolvers reached through this port (configured) */
  dns: string[];
  /** a resolv.conf the port's DHCP client writes */
  resolvConf?: string;
}

export interface EndpointSpec {
  /** `<app>/<network>` */
  key: string;
  app: string;
  network: string;
  kind: 'veth' | 'tap';
  /** host-side interface: the veth's host end (en… prefix) or the tap's name */
  hostIfname: string;
  /** veth: name inside the app's namespace */
  appIfname?: string;
  /** veth: the app's namespace (path or pid) */
  netns?: string | number;
  mac: string;
  /** static address on a local NI */
  ip?: string;
  mtu?: number;
  /** ACLs (present, even empty: only what they allow) */
  acls?: AclRuleSpec[];
  /** what the ACLs need of the NI (its ports, static DNS entries): a change of them updates the endpoint */
  aclFacts?: AclFacts;
  /** static routes of the NI via this app (app-gateway): sources its anti-spoofing lets through */
  routedVia?: string[];
  /** on a switch NI with STP: BPDU guard on the host-side interface */
  bpduGuard?: boolean;
  /** on a VLAN-filtering switch NI: bridge VLAN entries (`pvid` untagged, `tagged`) */
  vlans?: { pvid: number; tagged: number[] };
}

export interface AclFacts {
  ports: { name: string; ifname: string }[];
  staticHosts: { name: string; ip: string }[];
}

export interface PortSpec {
  /** `port:<name>` */
  key: string;
  kind: 'port';
  name: string;
  ifname: string;
  /** the NI that uses this port */
  network?: string;
  /** true when that NI is a switch: the port is enslaved to its bridge (a local NI's port is its NAT uplink) */
  attach: boolean;
  mtu?: number;
  /** on a switch NI with STP: BPDU guard on the port */
  bpduGuard?: boolean;
  /** on a VLAN-filtering switch NI: bridge VLAN entries (`pvid` untagged, `tagged`) */
  vlans?: { pvid: number; tagged: number[] };
  /** the port of a single-port switch NI: the device's own addresses and routes on it move onto the bridge */
  moveL3?: boolean;
}

/** The port names of an NI: `port`, or `ports` when it has several. */
export function niPorts(spec: Pick<NiSpec, 'port' | 'ports'>): string[] {
  return spec.ports ?? (spec.port !== undefined ? [spec.port] : []);
}

/** A bridge that exists and can take members. */
export interface BridgeHandle {
  name: string;
  ifindex: number;
}

/** A link as the machines see it in events. */
export interface LinkSeen {
  ifindex: number;
  ifname: string;
  master?: number;
  carrier: boolean;
  up: boolean;
}

/** What an endpoint actor manages: an app interface (veth, tap) or a port. */
export type MemberSpec = EndpointSpec | PortSpec;

/** The host-side interface a member owns or follows. */
export function memberIfname(spec: MemberSpec): string {
  return spec.kind === 'port' ? spec.ifname : spec.hostIfname;
}

/** The network instance whose bridge the member must be enslaved to, if any. */
export function memberBridgeNetwork(spec: MemberSpec): string | undefined {
  if (spec.kind === 'port') return spec.attach ? spec.network : undefined;
  return spec.network;
}

/** Exponential backoff for retries after a failed kernel operation: 100 ms doubling, at most 10 s. */
export function backoffMs(retries: number): number {
  return Math.min(100 * 2 ** Math.max(0, retries - 1), 10_000);
}

/** Top-level states of every NI and endpoint actor. */
export const ACTOR_STATES = ['pending', 'creating', 'ready', 'degraded', 'deleting', 'deleted'] as const;
export type TopState = (typeof ACTOR_STATES)[number];

/** Top-level state of a machine snapshot value: 'ready' for both 'ready' and { ready: 'verifying' }. */
export function topState(value: unknown): TopState | undefined {
  const top = typeof value === 'string' ? value : value && typeof value === 'object' ? Object.keys(value)[0] : undefined;
  return (ACTOR_STATES as readonly string[]).includes(top ?? '') ? (top as TopState) : undefined;
}
