import ipaddr from 'ipaddr.js';
import type { UplinkSpec } from '../../machines/specs.ts';
import { bridgeName, deriveMac, endpointKey, niTableIds, vethHostName } from '../util/names.ts';
import type { AclFacts } from '../../machines/specs.ts';
import type { AclRuleSpec } from './acl-schema.ts';
import type { AppSpec, Config, InterfaceSpec, LocalNetworkSpec, NetworkSpec, PortSpec } from './config-schema.ts';
import { niPortNames, stpOptions } from './config-switch.ts';
import { appVlans, portVlans, usedVlansOf, type MemberVlans } from './config-vlans.ts';

// What the actors need, derived once from a valid config (validateConfig has run: subnets parse, names are unique).

export interface IpRange {
  start: string;
  end: string;
}

interface NetworkResolvedCommon {
  name: string;
  bridge: string;
  mtu?: number;
  /** port name (from `ports`) */
  port?: string;
  /** the port's kernel interface name */
  portIfname?: string;
  /** several ports (a switch NI with STP): their names; `port` is unset then */
  ports?: string[];
}

export interface SwitchNetworkResolved extends NetworkResolvedCommon {
  type: 'switch';
  /** kernel spanning tree on the bridge; forwardDelayS absent: the kernel's 15 s */
  stp?: { forwardDelayS?: number };
  /** the bridge filters VLANs (some app or port has an access VLAN) */
  vlanFiltering?: boolean;
}

export interface LocalNetworkResolved extends NetworkResolvedCommon {
  type: 'local';
  /** network address and prefix, e.g. 10.50.0.0/24 */
  subnet: string;
  prefixlen: number;
  gateway: string;
  dhcpRange: IpRange;
  /** hosts: one entry per address (a name with several addresses has several entries) */
  dns: { forwarders: string[]; hosts: { name: string; ip: string }[]; dhcpHostnames?: boolean };
  /** the ports it NATs out of, in the config's order (`port`, or `ports`), with their facts */
  uplinks: Uplink[];
  holdDownMs?: number;
  /** its own routing table (only with uplinks) */
  table?: number;
  dhcp: NiDhcpResolved;
  routes: { to: string; via: string }[];
}

export type NetworkResolved = SwitchNetworkResolved | LocalNetworkResolved;

/** One port of a local NI with its DNS facts: the upstream resolvers reached through it are pinned to it. */
/** One port of a local NI with its facts (`ports[].gateway|cost|probe|dns|resolvConf`). */
export type Uplink = UplinkSpec;

/** What apps are told by DHCP, as configured; the defaults are decided in src/services/ni-dhcp.ts. */
export interface NiDhcpResolved {
  dns?: string[];
  ntp: string[];
  domain?: string;
}

interface EndpointSpecCommon {
  /** `<app>/<network>`: an app joins a network instance at most once */
  key: string;
  app: string;
  network: string;
  networkType: 'local' | 'switch';
  /** the NI's bridge, which the host side is enslaved to */
  bridge: string;
  /** host-side interface: the veth's host end, or the tap's name */
  hostIfname: string;
  mac: string;
  /** static address (local NIs only); absent: allocated from the DHCP range */
  ip?: string;
  /** the NI's MTU */
  mtu?: number;
  /** ACLs (local NIs): present, even empty, the interface gets only what they allow */
  acls?: AclRuleSpec[];
  aclFacts?: AclFacts;
  /** static routes of the NI via this app (app-gateway): sources its anti-spoofing lets through */
  routedVia?: string[];
  /** on a switch NI with STP: BPDU guard on the host-side interface */
  bpduGuard?: boolean;
  /** on a VLAN-filtering switch NI: the interface's bridge VLAN entries */
  vlans?: MemberVlans;
}

export interface VethEndpointSpec extends EndpointSpecCommon {
  kind: 'veth';
  /** the app's namespace: a path such as /run/netns/web, or a pid */
  netns: string | number;
  /** name inside the app's namespace */
  appIfname: string;
}

export interface TapEndpointSpec extends EndpointSpecCommon {
  kind: 'tap';
}

export type EndpointSpec = VethEndpointSpec | TapEndpointSpec;

export interface PortSpecResolved {
  name: string;
  ifname: string;
  /** the NI that uses the port, if any: the switch NI bridging it, else the first local NI NATing out of it */
  network?: string;
  /** enslaved to the NI's bridge: only on a switch NI (a local NI's port is its NAT uplink, never enslaved) */
  attach: boolean;
  /** the switch NI's MTU, applied to the port while it is attached */
  mtu?: number;
  /** on a switch NI with STP: BPDU guard on the port */
  bpduGuard?: boolean;
  /** on a VLAN-filtering switch NI: the port's bridge VLAN entries */
  vlans?: MemberVlans;
  /** the port of a single-port switch NI: the device's own addresses and routes on it move onto the bridge */
  moveL3?: boolean;
}

/** An IPv4 subnet as numbers, for range arithmetic that ipaddr.js does not offer. */
export interface SubnetInfo {
  /** normalized `network/prefixlen` */
  cidr: string;
  prefixlen: number;
  network: number;
  broadcast: number;
}

export function ipToInt(ip: string): number {
  return ipaddr.IPv4.parse(ip).toByteArray().reduce((n, b) => n * 256 + b, 0);
}

export function intToIp(n: number): string {
  return new ipaddr.IPv4([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]).toString();
}

/** Throws on text that is not an IPv4 CIDR (the schema has checked it already). */
export function subnetInfo(cidr: string): SubnetInfo {
  const [, prefixlen] = ipaddr.IPv4.parseCIDR(cidr);
  const network = ipToInt(ipaddr.IPv4.networkAddressFromCIDR(cidr).toString());
  const broadcast = ipToInt(ipaddr.IPv4.broadcastAddressFromCIDR(cidr).toString());
  return { cidr: `${intToIp(network)}/${prefixlen}`, prefixlen, network, broadcast };
}

/** Default gateway: the first host of the subnet. */
export function defaultGateway(s: SubnetInfo): string {
  return intToIp(s.network + 1);
}

/**
 * Default DHCP range: the upper half of the subnet (network + size/2 .. broadcast - 1), e.g. /24 → .128–.254,
 * /29 → .4–.6, /30 → .2–.2. When the gateway lies inside it, the larger side of the gateway is kept; if that leaves
 * nothing (a /30 with the gateway on .2), the largest run of hosts other than the gateway is used. Undefined when
 * the subnet has no host besides the gateway (/31, /32: refused by the checks).
 */
export function defaultDhcpRange(s: SubnetInfo, gateway: string): IpRange | undefined {
  const gw = ipToInt(gateway);
  const firstHost = s.network + 1;
  const lastHost = s.broadcast - 1;
  if (lastHost < firstHost) return undefined;
  const upper = largestRunWithout(Math.max(firstHost, s.network + Math.floor((s.broadcast - s.network + 1) / 2)), lastHost, gw);
  const run = upper ?? largestRunWithout(firstHost, lastHost, gw);
  return run && { start: intToIp(run[0]), end: intToIp(run[1]) };
}

function largestRunWithout(start: number, end: number, hole: number): [number, number] | undefined {
  if (start > end) return undefined;
  if (hole < start || hole > end) return [start, end];
  const below: [number, number] = [start, hole - 1];
  const above: [number, number] = [hole + 1, end];
  const size = (r: [number, number]): number => r[1] - r[0] + 1;
  const best = size(above) >= size(below) ? above : below;
  return size(best) > 0 ? best : undefined;
}

/** Default hold-down before a multi-port local NI takes a recovered better port back. */
export const DEFAULT_HOLD_DOWN_MS = 2000;

/**
 * The interface that carries a port's addresses and routes: the port itself, or — when a switch NI bridges it —
 * that NI's bridge (the port's addresses move there, the way EVE's NIM makes ethN an L3 bridge).
 */
export function l3Ifname(port: PortSpec, networks: readonly NetworkSpec[]): string {
  const sw = networks.find((n) => n.type === 'switch' && niPortNames(n).includes(port.name));
  return sw ? bridgeName(sw.name) : port.ifname;
}

function uplinksOf(ni: LocalNetworkSpec, ports: readonly PortSpec[], networks: readonly NetworkSpec[]): UplinkSpec[] {
  return niPortNames(ni).flatMap((name): UplinkSpec[] => {
    const p = ports.find((x) => x.name === name);
    if (!p) return [];
    return [
      {
        port: name,
        ifname: l3Ifname(p, networks),
        portIfname: p.ifname,
        cost: p.cost ?? 0,
        ...(p.gateway !== undefined && { gateway: p.gateway }),
        probed: p.probe !== undefined,
        dns: [...(p.dns ?? [])],
        ...(p.resolvConf !== undefined && { resolvConf: p.resolvConf }),
      },
    ];
  });
}

export interface ResolveContext {
  /** every NI of the config (a switch NI sharing a port moves its addresses onto its bridge) */
  networks?: readonly NetworkSpec[];
  /** the local NI's routing table */
  table?: number;
  vlanFiltering?: boolean;
}

export function resolveNetwork(ni: NetworkSpec, ports: readonly PortSpec[] = [], opts: ResolveContext = {}): NetworkResolved {
  const { networks = [ni], table, vlanFiltering = false } = opts;
  if (ni.type === 'local') {
    const resolved = resolveLocal(ni, ports, networks);
    const uplinks = resolved.uplinks;
    const first = uplinks[0];
    const names = niPortNames(ni);
    const local: LocalNetworkResolved = {
      name: ni.name,
      bridge: bridgeName(ni.name),
      ...(ni.mtu !== undefined && { mtu: ni.mtu }),
      // one port (`port:` or `ports: [one]`): named as before (status, firewall); several: the selection picks one
      ...(names.length === 1 && first && { port: first.port, portIfname: first.ifname }),
      ...(names.length > 1 && { ports: names }),
      ...resolved,
    };
    if (uplinks.length === 0) return local;
    return { ...local, ...(uplinks.length > 1 && { holdDownMs: ni.holdDownMs ?? DEFAULT_HOLD_DOWN_MS }), ...(table !== undefined && { table }) };
  }
  const names = niPortNames(ni);
  const port = names.length === 1 ? names[0] : undefined;
  const portIfname = port === undefined ? undefined : ports.find((p) => p.name === port)?.ifname;
  const common: NetworkResolvedCommon = {
    name: ni.name,
    bridge: bridgeName(ni.name),
    ...(ni.mtu !== undefined && { mtu: ni.mtu }),
    ...(port !== undefined && { port }),
    ...(portIfname !== undefined && { portIfname }),
    ...(names.length > 1 && { ports: names }),
  };
  const stp = stpOptions(ni.stp);
  return {
    ...common,
    type: 'switch',
    ...(stp && { stp: stp.forwardDelay !== undefined ? { forwardDelayS: stp.forwardDelay } : {} }),
    ...(vlanFiltering && { vlanFiltering: true }),
  };
}

/** Addresses of a static DNS entry: `ip`, then `ips`, without repeats. */
export function hostAddresses(h: { ip?: string | undefined; ips?: string[] | undefined }): string[] {
  return [...new Set([...(h.ip === undefined ? [] : [h.ip]), ...(h.ips ?? [])])];
}

function resolveLocal(ni: LocalNetworkSpec, ports: readonly PortSpec[], networks: readonly NetworkSpec[]): Omit<LocalNetworkResolved, keyof NetworkResolvedCommon> {
  const s = subnetInfo(ni.subnet);
  const gateway = ni.gateway ?? defaultGateway(s);
  // A valid config has room for a range; the fallback only keeps this total for unchecked input.
  const dhcpRange = ni.dhcpRange ?? defaultDhcpRange(s, gateway) ?? { start: gateway, end: gateway };
  return {
    type: 'local',
    subnet: s.cidr,
    prefixlen: s.prefixlen,
    gateway,
    dhcpRange: { start: dhcpRange.start, end: dhcpRange.end },
    dns: {
      forwarders: [...(ni.dns?.forwarders ?? [])],
      hosts: (ni.dns?.hosts ?? []).flatMap((h) => hostAddresses(h).map((ip) => ({ name: h.name, ip }))),
      ...(ni.dns?.dhcpHostnames === true && { dhcpHostnames: true }),
    },
    uplinks: uplinksOf(ni, ports, networks),
    dhcp: {
      ...(ni.dhcp?.dns !== undefined && { dns: [...ni.dhcp.dns] }),
      ntp: [...(ni.dhcp?.ntp ?? [])],
      ...(ni.dhcp?.domain !== undefined && { domain: ni.dhcp.domain }),
    },
    routes: (ni.routes ?? []).map((r) => ({ to: r.to, via: r.via })),
  };
}

export function networksOf(config: Config): NetworkResolved[] {
  const tables = niTableIds(config.networks.filter((n) => n.type === 'local' && niPortNames(n).length > 0).map((n) => n.name));
  const usedVlans = usedVlansOf(config);
  return config.networks.map((ni) => {
    const table = tables.get(ni.name);
    return resolveNetwork(ni, config.ports, { networks: config.networks, ...(table !== undefined && { table }), vlanFiltering: ni.type === 'switch' && usedVlans(ni).length > 0 });
  });
}

export function isVeth(itf: InterfaceSpec): boolean {
  return itf.tap === undefined;
}

/** Names inside the app's namespace, by interface index: given `ifname`, else `eth<n>` with n counting the app's veths. */
export function appIfnames(app: AppSpec): (string | undefined)[] {
  let n = 0;
  return app.interfaces.map((itf) => (isVeth(itf) ? (itf.ifname ?? `eth${n++}`) : undefined));
}

export function endpointsOf(config: Config): EndpointSpec[] {
  const networks = new Map(config.networks.map((ni) => [ni.name, ni]));
  const used = usedVlansOf(config);
  return config.apps.flatMap((app) => {
    const inside = appIfnames(app);
    return app.interfaces.map((itf, i): EndpointSpec => {
      const ni = networks.get(itf.network);
      const common: EndpointSpecCommon = {
        key: endpointKey(app.name, itf.network),
        app: app.name,
        network: itf.network,
        networkType: ni?.type ?? 'switch',
        bridge: bridgeName(itf.network),
        hostIfname: itf.tap ?? vethHostName(app.name, itf.network),
        mac: itf.mac ?? deriveMac(app.name, itf.network),
        ...(itf.ip !== undefined && { ip: itf.ip }),
        ...(ni?.mtu !== undefined && { mtu: ni.mtu }),
        ...(itf.acls !== undefined && ni?.type === 'local' && { acls: itf.acls, aclFacts: aclFactsOf(config, ni) }),
        // app-gateway: prefixes a static route of the NI sends via this app may be its packets' sources
        ...(ni?.type === 'local' && itf.ip !== undefined && routedVia(ni, itf.ip).length > 0 && { routedVia: routedVia(ni, itf.ip) }),
        ...(ni?.type === 'switch' && stpOptions(ni.stp) && { bpduGuard: stpOptions(ni.stp)?.guardApps === true }),
        ...(ni?.type === 'switch' && used(ni).length > 0 && { vlans: appVlans(itf, used(ni)) }),
      };
      if (itf.tap !== undefined) return { ...common, kind: 'tap' };
      return { ...common, kind: 'veth', netns: itf.netns ?? '', appIfname: inside[i] ?? 'eth0' };
    });
  });
}

function routedVia(ni: LocalNetworkSpec, ip: string): string[] {
  return (ni.routes ?? []).filter((r) => r.via === ip).map((r) => r.to);
}

function aclFactsOf(config: Config, ni: LocalNetworkSpec): AclFacts {
  const names = niPortNames(ni);
  const ports = config.ports.filter((p) => names.includes(p.name)).map((p) => ({ name: p.name, ifname: p.ifname }));
  return { ports, staticHosts: (ni.dns?.hosts ?? []).flatMap((h) => hostAddresses(h).map((ip) => ({ name: h.name, ip }))) };
}

export function portsOf(config: Config): PortSpecResolved[] {
  const usedVlans = usedVlansOf(config);
  return config.ports.map((p) => {
    const ni = config.networks.find((n) => n.type === 'switch' && niPortNames(n).includes(p.name)) ?? config.networks.find((n) => niPortNames(n).includes(p.name));
    const attach = ni?.type === 'switch';
    const stp = ni?.type === 'switch' ? stpOptions(ni.stp) : undefined;
    const vids = ni?.type === 'switch' ? usedVlans(ni) : [];
    return {
      name: p.name,
      ifname: p.ifname,
      ...(ni && { network: ni.name }),
      attach,
      ...(attach && ni?.mtu !== undefined && { mtu: ni.mtu }),
      ...(stp && { bpduGuard: stp.portsWithBpduGuard.includes(p.name) }),
      ...(vids.length > 0 && ni?.type === 'switch' && { vlans: portVlans(ni, p.name, vids) }),
      // as EVE's NIM bridges an L3 port of a single-port switch NI (ethN the bridge, kethN the port)
      ...(attach && ni && niPortNames(ni).length === 1 && { moveL3: true }),
    };
  });
}
