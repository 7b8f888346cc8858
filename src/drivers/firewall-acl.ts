// Rules of one app interface, rendered as nft JSON: its ACLs (EVE semantics), its port forwards (DNAT + hairpin)
// and its anti-spoofing. Pure: the same EndpointRules give the same commands. The driver that lists and writes is
// firewall-acl-nft.ts; the fake keeps EndpointRules as they are.
//
// Layout (every name carries a short hash `<h>` of the endpoint key):
// - table inet edgenet: base chains `acl-forward` (filter forward, prio -10), `acl-input` (filter input, prio -10),
//   `acl-dnat` (nat prerouting, prio -100), `acl-snat` (nat postrouting, prio 110); verdict maps `acl-out`
//   (bridge . app address → jump ep-<h>-out), `acl-in` (bridge . app address → jump ep-<h>-in), `acl-gw`; per endpoint:
//   chains `ep-<h>-out|in|gw`, named counters `ep-<h>-r<id>` and `ep-<h>-deny`, host sets `ep-<h>-h<id>` (filled by
//   dnsmasq's nftset=), DNAT/SNAT rules commented `edgenet ep=<h>` in acl-dnat/acl-snat.
// - table bridge edgenet (frames, ARP: not visible to inet hooks): base chain `spoof` (filter prerouting, prio -200)
//   jumps to the shared chain `as-check` for an interface in set `as-guarded`; `as-check` drops a frame whose source
//   (MAC; ARP sender MAC and address; IPv4 source) is not the interface's in sets `as-mac`, `as-arp`, `as-ip`
//   (`ifname . value`; an IPv4 source may also lie in a prefix of interval set `as-exempt`: routes via an app
//   gateway), and DHCP server replies, counting each drop in the interface's element of `as-drops`. An
//   endpoint is only elements (commented `edgenet ep=<h>`; its `as-guarded` element also carries its spec digest):
//   adding one is a few set elements, not a chain, rules and a counter (nft's cache of those grows with every app:
//   24 ms per transaction at 5000 endpoints against 0.5 ms for elements). Exact values are in hash sets: deleting
//   from an interval set makes nft read all its elements first (50-90 ms at 1000-5000 endpoints). Before this layout each endpoint had a
//   chain and counter `as-<h>` behind a verdict map `spoof`: what is left of those is removed.
// A verdict of "return" in an endpoint chain hands the packet on to the NI's own chains (firewall-nft.ts), which
// still decide what an NI allows; only drops are final here.
import { createHash } from 'node:crypto';
import type { AclRuleSpec } from '../config/acl-schema.ts';
import { subnetInfo, type SubnetInfo } from '../config/config-resolve.ts';
import { FIREWALL_TABLE, canonicalJson } from './firewall.ts';
import { PORT_FORWARD_CHAIN } from './firewall-base.ts';

/** What the firewall needs to know of one app interface. */
export interface EndpointRules {
  /** `<app>/<network>` */
  key: string;
  app: string;
  network: string;
  /** the NI's bridge */
  bridge: string;
  /** host-side interface (veth host end or tap) */
  hostIfname: string;
  mac: string;
  /** the app's reserved address on a local NI */
  ip: string;
  gateway: string;
  subnet: string;
  /** the NI's ports (name and kernel interface) */
  ports: { name: string; ifname: string }[];
  /** absent: no ACL (the NI's rules alone); present (even empty): only what the rules allow */
  acls?: AclRuleSpec[];
  /** drop frames/packets from other MACs and addresses than the app's own (local NIs) */
  antiSpoof: boolean;
  /** sources the app may forward for (app-gateway: prefixes a static route of the NI sends via it) */
  exempt: string[];
  /** static DNS entries of the NI: a host rule for such a name is filled from them */
  staticHosts: { name: string; ip: string }[];
}

export type AclAction = 'allow' | 'drop' | 'limit' | 'portmap' | 'deny';

/** One counted rule of an endpoint, for status and metrics. */
export interface AclRuleInfo {
  /** the rule's id (default: position from 1), or `default` for the implicit drop, `anti-spoofing` */
  rule: string;
  action: AclAction;
  /** a named counter (`inet`), or the host ifname whose `as-drops` element counts (`spoof`) */
  counter: string;
  family: 'inet' | 'spoof';
}

export interface AclRuleStatus {
  rule: string;
  action: AclAction;
  packets: number;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type NftCmd = { [verb: string]: { [object: string]: { [key: string]: Json } } };

export const ACL_MAPS = { out: 'acl-out', in: 'acl-in', gw: 'acl-gw', spoof: 'spoof' } as const;
export const ACL_BASE = { forward: 'acl-forward', input: 'acl-input', dnat: 'acl-dnat', snat: 'acl-snat', spoof: 'spoof' } as const;
/** The shared anti-spoofing chain and the sets of table bridge edgenet (see the layout above). */
export const SPOOF_CHAIN = 'as-check';
export const SPOOF_SETS = { guarded: 'as-guarded', mac: 'as-mac', arp: 'as-arp', ip: 'as-ip', exempt: 'as-exempt', drops: 'as-drops' } as const;
export type SpoofSet = (typeof SPOOF_SETS)[keyof typeof SPOOF_SETS];
const SPOOF_SET_NAMES: ReadonlySet<string> = new Set(Object.values(SPOOF_SETS));
export const isSpoofSet = (name: string): name is SpoofSet => SPOOF_SET_NAMES.has(name);

/** One element of an anti-spoofing set: its value as nft lists it, and its comment. */
export interface SpoofElement {
  set: SpoofSet;
  val: Json;
  comment: string;
}

/** Short stable hash of an endpoint key: names of its chains, counters and sets. */
export function endpointTag(key: string): string {
  return createHash('sha256').update(`acl:${key}`).digest('hex').slice(0, 10);
}

export function ruleIdOf(rule: AclRuleSpec, index: number): number {
  return rule.id ?? index + 1;
}

export function endpointNames(key: string): EndpointNames {
  return endpointNamesOfTag(endpointTag(key));
}

export interface EndpointNames {
  out: string;
  in: string;
  gw: string;
  spoof: string;
  deny: string;
  prefix: string;
  comment: string;
}

/** The names of an endpoint's objects from its tag alone (what a sweep finds in the kernel). */
export function endpointNamesOfTag(h: string): EndpointNames {
  return { out: `ep-${h}-out`, in: `ep-${h}-in`, gw: `ep-${h}-gw`, spoof: `as-${h}`, deny: `ep-${h}-deny`, prefix: `ep-${h}-`, comment: `edgenet ep=${h}` };
}

/** The comment carrying an endpoint's spec digest (see ensureCommands). */
export const specComment = (key: string, spec: string): string => `edgenet ep=${endpointTag(key)} spec=${spec}`;

export const ruleCounter = (key: string, id: number): string => `ep-${endpointTag(key)}-r${id}`;
/** The nft set a `host` rule's addresses go into (dnsmasq: `nftset=/<host>/4#inet#edgenet#<set>`). */
export const hostSetName = (key: string, id: number): string => `ep-${endpointTag(key)}-h${id}`;

/** The host rules of an endpoint: which DNS names feed which of its sets. */
export function hostSetsOf(key: string, acls: readonly AclRuleSpec[] | undefined): { host: string; set: string }[] {
  return (acls ?? []).flatMap((r, i) => (r.match.host !== undefined && r.action !== 'portmap' ? [{ host: r.match.host, set: hostSetName(key, ruleIdOf(r, i)) }] : []));
}

/** The counted rules of an endpoint, in order. */
export function aclRuleInfos(ep: Pick<EndpointRules, 'key' | 'acls' | 'antiSpoof' | 'hostIfname'>): AclRuleInfo[] {
  const out: AclRuleInfo[] = (ep.acls ?? []).map((r, i) => ({ rule: String(ruleIdOf(r, i)), action: r.action, counter: ruleCounter(ep.key, ruleIdOf(r, i)), family: 'inet' }));
  if (ep.acls) out.push({ rule: 'default', action: 'deny', counter: endpointNames(ep.key).deny, family: 'inet' });
  if (ep.antiSpoof) out.push({ rule: 'anti-spoofing', action: 'drop', counter: ep.hostIfname, family: 'spoof' });
  return out;
}

// ---- expressions ----

const m = (left: Json, right: Json, op = '=='): Json => ({ match: { op, left, right } });
const payload = (protocol: string, field: string): Json => ({ payload: { protocol, field } });
const meta = (key: string): Json => ({ meta: { key } });
const addrRight = (cidrOrIp: string): Json => {
  const [addr, len] = cidrOrIp.split('/');
  return len === undefined || len === '32' ? (addr ?? cidrOrIp) : { prefix: { addr: addr ?? '', len: Number(len) } };
};
const counter = (name: string): Json => ({ counter: name });
const ret: Json = { return: null };
const drop: Json = { drop: null };
const ctStatusDnat = m({ ct: { key: 'status' } }, 'dnat', 'in');

const PROTO_NUMBERS: Readonly<Record<string, number>> = { icmp: 1, tcp: 6, udp: 17 };
function protoNumber(p: AclRuleSpec['match']['protocol']): number | undefined {
  if (p === undefined || p === 'all') return undefined;
  return typeof p === 'number' ? p : PROTO_NUMBERS[p];
}

/** Which direction of a rule: out = from the app (daddr is remote), in = to the app (saddr is remote). */
function matchesOf(ep: EndpointRules, rule: AclRuleSpec, index: number, dir: 'out' | 'in'): Json[] {
  const id = ruleIdOf(rule, index);
  const mt = rule.match;
  const remote = dir === 'out' ? 'daddr' : 'saddr';
  const exprs: Json[] = [];
  if (mt.adapter !== undefined) {
    const ifname = ep.ports.find((p) => p.name === mt.adapter)?.ifname ?? mt.adapter;
    exprs.push(m(meta('iifname'), ifname));
  }
  if (mt.ip !== undefined) exprs.push(m(payload('ip', remote), addrRight(mt.ip)));
  if (mt.host !== undefined) exprs.push(m(payload('ip', remote), `@${hostSetName(ep.key, id)}`));
  const proto = protoNumber(mt.protocol);
  if (proto !== undefined) exprs.push(m(meta('l4proto'), proto));
  if (mt.lport !== undefined) exprs.push(m(payload('th', dir === 'out' ? 'sport' : 'dport'), mt.lport));
  if (mt.fport !== undefined) exprs.push(m(payload('th', dir === 'out' ? 'dport' : 'sport'), mt.fport));
  return exprs;
}

/** The statements of one rule in one chain: a limit is a drop over the rate, then a counted return. */
function actionRules(ep: EndpointRules, rule: AclRuleSpec, index: number, matches: Json[]): Json[][] {
  const c = counter(ruleCounter(ep.key, ruleIdOf(rule, index)));
  if (rule.action === 'drop') return [[...matches, c, drop]];
  if (rule.action === 'limit' && rule.limit) {
    const { rate, unit, burst } = rule.limit;
    return [
      [...matches, { limit: { rate, per: unit, burst: burst ?? rate, inv: true } }, drop],
      [...matches, c, ret],
    ];
  }
  return [[...matches, c, ret]];
}

/** Could this rule match an ICMP echo from the app to its gateway? */
function matchesGatewayPing(ep: EndpointRules, rule: AclRuleSpec): boolean {
  const mt = rule.match;
  if (rule.action === 'portmap' || mt.adapter !== undefined || mt.host !== undefined || mt.lport !== undefined || mt.fport !== undefined) return false;
  const proto = protoNumber(mt.protocol);
  if (proto !== undefined && proto !== 1) return false;
  return mt.ip === undefined || contains(mt.ip, ep.gateway);
}

function contains(cidrOrIp: string, ip: string): boolean {
  const [addr, lenText] = cidrOrIp.split('/');
  const len = lenText === undefined ? 32 : Number(lenText);
  const toInt = (a: string): number => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return ((toInt(addr ?? '') & mask) >>> 0) === ((toInt(ip) & mask) >>> 0);
}

export interface EndpointChains {
  out: Json[][];
  in: Json[][];
  gw: Json[][];
  dnat: Json[][];
  snat: Json[][];
  /** the endpoint's elements of the anti-spoofing sets */
  spoof: SpoofElement[];
  counters: { name: string; family: 'inet' }[];
  sets: { name: string; elements: string[] }[];
}

/**
 * The prefixes of `as-exempt` for one interface: no two may overlap (an interval set refuses that), so a prefix
 * inside another is left out, and each is written by its network address (as nft lists it).
 */
export function spoofSources(items: readonly string[]): Json[] {
  // widest first: whatever lies inside one already kept is covered by it
  const subnets = items.map((i) => subnetInfo(i.includes('/') ? i : `${i}/32`)).sort((a, b) => a.prefixlen - b.prefixlen || a.network - b.network);
  const kept: SubnetInfo[] = [];
  for (const n of subnets) if (!kept.some((k) => n.network >= k.network && n.broadcast <= k.broadcast)) kept.push(n);
  return kept.map((n) => addrRight(n.cidr));
}

/** The elements of an endpoint's anti-spoofing (its `as-guarded` element carries `spec`). */
export function spoofElements(ep: Pick<EndpointRules, 'key' | 'hostIfname' | 'mac' | 'ip' | 'exempt'>, spec = ''): SpoofElement[] {
  const comment = endpointNames(ep.key).comment;
  const ifname = ep.hostIfname;
  const pair = (v: Json): Json => ({ concat: [ifname, v] });
  return [
    { set: SPOOF_SETS.mac, val: pair(ep.mac.toLowerCase()), comment },
    ...[ep.ip, '0.0.0.0'].map((v) => ({ set: SPOOF_SETS.arp, val: pair(v), comment })),
    ...[ep.ip, '0.0.0.0'].map((v) => ({ set: SPOOF_SETS.ip, val: pair(v), comment })),
    ...spoofSources(ep.exempt).map((v) => ({ set: SPOOF_SETS.exempt, val: pair(v), comment })),
    { set: SPOOF_SETS.drops, val: ifname, comment },
    // last: the interface is checked once everything it may send is in
    { set: SPOOF_SETS.guarded, val: ifname, comment: specComment(ep.key, spec) },
  ];
}

/** The rules of one endpoint, chain by chain (without the table plumbing). */
export function endpointChains(ep: EndpointRules, spec = ''): EndpointChains {
  const names = endpointNames(ep.key);
  const chains: EndpointChains = { out: [], in: [], gw: [], dnat: [], snat: [], spoof: ep.antiSpoof ? spoofElements(ep, spec) : [], counters: [], sets: [] };
  if (!ep.acls) return chains;
  const acls = ep.acls;
  for (const info of aclRuleInfos({ key: ep.key, acls, antiSpoof: false, hostIfname: ep.hostIfname })) chains.counters.push({ name: info.counter, family: 'inet' });
  const deny = counter(names.deny);

  // from the app: replies of forwarded connections and ICMP errors pass; then the rules in order; then drop
  chains.out.push([ctStatusDnat, m({ ct: { key: 'direction' } }, 'reply'), ret], [m({ ct: { key: 'state' } }, 'related', 'in'), ret]);
  // to the app: what it opened (or a rule let in) comes back
  chains.in.push([m({ ct: { key: 'state' } }, ['established', 'related'], 'in'), ret]);
  acls.forEach((rule, i) => {
    const id = ruleIdOf(rule, i);
    if (rule.action === 'portmap') {
      const proto = protoNumber(rule.match.protocol) ?? 6;
      const lport = rule.match.lport ?? 0;
      const appPort = rule.appPort ?? lport;
      const remote = rule.match.ip !== undefined ? [m(payload('ip', 'saddr'), addrRight(rule.match.ip))] : [];
      const ports = rule.match.adapter !== undefined ? ep.ports.filter((p) => p.name === rule.match.adapter) : ep.ports;
      const dnat: Json = { dnat: { family: 'ip', addr: ep.ip, port: appPort } };
      const l4 = [m(meta('l4proto'), proto), m(payload('th', 'dport'), lport)];
      // from outside: to the address of the port the connection arrives on, whatever it is now (no re-apply on renumbering)
      for (const p of ports) {
        chains.dnat.push([m(meta('iifname'), p.ifname), m({ fib: { result: 'type', flags: ['daddr', 'iif'] } }, 'local'), ...remote, ...l4, dnat]);
      }
      // hairpin: apps (this NI or another local NI) reach it through the device's port addresses
      chains.dnat.push([
        m(meta('iifkind'), 'bridge'),
        m({ fib: { result: 'type', flags: ['daddr'] } }, 'local'),
        m(payload('ip', 'daddr'), ep.gateway, '!='),
        ...remote,
        ...l4,
        dnat,
      ]);
      chains.in.push([ctStatusDnat, m(meta('l4proto'), proto), m(payload('th', 'dport'), appPort), counter(ruleCounter(ep.key, id)), ret]);
      return;
    }
    if (rule.match.host !== undefined) {
      const host = rule.match.host;
      const known = ep.staticHosts.filter((h) => h.name.toLowerCase() === host || h.name.toLowerCase().endsWith(`.${host}`)).map((h) => h.ip);
      chains.sets.push({ name: hostSetName(ep.key, id), elements: [...new Set(known)].sort() });
    }
    // an adapter (port) rule applies to traffic arriving through that port only: never outbound (as in EVE)
    if (rule.match.adapter === undefined) chains.out.push(...actionRules(ep, rule, i, matchesOf(ep, rule, i, 'out')));
    chains.in.push(...actionRules(ep, rule, i, matchesOf(ep, rule, i, 'in')));
    if (matchesGatewayPing(ep, rule)) {
      const gwMatch = [m(payload('icmp', 'type'), 'echo-request')];
      chains.gw.push(...actionRules(ep, rule, i, gwMatch));
    }
  });
  // the metadata service is always reachable (EVE: cloud-init)
  chains.out.splice(2, 0, [m(payload('ip', 'daddr'), '169.254.169.254'), m(meta('l4proto'), 6), m(payload('th', 'dport'), 80), ret]);
  chains.out.push([deny, drop]);
  chains.in.push([deny, drop]);
  // to the device: DHCP and DNS stay allowed (the NI's input chain); a ping of the gateway only when a rule allows it
  chains.gw.push([m(payload('icmp', 'type'), 'echo-request'), deny, drop]);
  if (chains.dnat.length > 0) {
    // hairpin inside the NI: the app must answer through the device, not straight to its neighbour
    chains.snat.push([m(meta('oifname'), ep.bridge), m(payload('ip', 'daddr'), ep.ip), ctStatusDnat, m(payload('ip', 'saddr'), addrRight(ep.subnet)), { masquerade: null }]);
  }
  return chains;
}

// ---- table plumbing ----

const inet = (o: Record<string, Json>): Record<string, Json> => ({ family: 'inet', table: FIREWALL_TABLE, ...o });
const bridge = (o: Record<string, Json>): Record<string, Json> => ({ family: 'bridge', table: FIREWALL_TABLE, ...o });

/** Base chains and maps of the ACL layout: idempotent (`add` of what exists is a no-op; base chains are re-filled). */
export function aclPlumbing(withBridge: boolean): NftCmd[] {
  const cmds: NftCmd[] = [
    { add: { table: { family: 'inet', name: FIREWALL_TABLE } } },
    { add: { map: inet({ name: ACL_MAPS.out, type: ['ifname', 'ipv4_addr'], map: 'verdict' }) } },
    { add: { map: inet({ name: ACL_MAPS.in, type: ['ifname', 'ipv4_addr'], map: 'verdict' }) } },
    { add: { map: inet({ name: ACL_MAPS.gw, type: ['ifname', 'ipv4_addr'], map: 'verdict' }) } },
    { add: { chain: inet({ name: ACL_BASE.forward, type: 'filter', hook: 'forward', prio: -10, policy: 'accept' }) } },
    { flush: { chain: inet({ name: ACL_BASE.forward }) } },
    { add: { rule: inet({ chain: ACL_BASE.forward, expr: [{ vmap: { key: { concat: [meta('iifname'), payload('ip', 'saddr')] }, data: `@${ACL_MAPS.out}` } }] }) } },
    { add: { rule: inet({ chain: ACL_BASE.forward, expr: [{ vmap: { key: { concat: [meta('oifname'), payload('ip', 'daddr')] }, data: `@${ACL_MAPS.in}` } }] }) } },
    { add: { chain: inet({ name: ACL_BASE.input, type: 'filter', hook: 'input', prio: -10, policy: 'accept' }) } },
    { flush: { chain: inet({ name: ACL_BASE.input }) } },
    { add: { rule: inet({ chain: ACL_BASE.input, expr: [{ vmap: { key: { concat: [meta('iifname'), payload('ip', 'saddr')] }, data: `@${ACL_MAPS.gw}` } }] }) } },
    // forward's first jump (firewall-base.ts): flows a port forward DNATed (the endpoint's -in chain had its say)
    { add: { chain: inet({ name: PORT_FORWARD_CHAIN }) } },
    { flush: { chain: inet({ name: PORT_FORWARD_CHAIN }) } },
    { add: { rule: inet({ chain: PORT_FORWARD_CHAIN, expr: [ctStatusDnat, { accept: null }] }) } },
    { add: { chain: inet({ name: ACL_BASE.dnat, type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' }) } },
    { add: { chain: inet({ name: ACL_BASE.snat, type: 'nat', hook: 'postrouting', prio: 110, policy: 'accept' }) } },
  ];
  if (withBridge) {
    const iif = meta('iifname');
    const pair = (v: Json): Json => ({ concat: [iif, v] });
    // a drop counted in the interface's element of as-drops
    const dropCounted: Json[] = [{ set: { op: 'update', elem: iif, set: `@${SPOOF_SETS.drops}` } }, drop];
    const ifnameAnd = (type: string): Json => ['ifname', type];
    cmds.push(
      { add: { table: { family: 'bridge', name: FIREWALL_TABLE } } },
      { add: { set: bridge({ name: SPOOF_SETS.guarded, type: 'ifname' }) } },
      { add: { set: bridge({ name: SPOOF_SETS.mac, type: ifnameAnd('ether_addr') }) } },
      { add: { set: bridge({ name: SPOOF_SETS.arp, type: ifnameAnd('ipv4_addr') }) } },
      { add: { set: bridge({ name: SPOOF_SETS.ip, type: ifnameAnd('ipv4_addr') }) } },
      { add: { set: bridge({ name: SPOOF_SETS.exempt, type: ifnameAnd('ipv4_addr'), flags: ['interval'] }) } },
      { add: { set: bridge({ name: SPOOF_SETS.drops, type: 'ifname', stmt: [{ counter: null }] }) } },
      { add: { chain: bridge({ name: SPOOF_CHAIN }) } },
      { flush: { chain: bridge({ name: SPOOF_CHAIN }) } },
      { add: { rule: bridge({ chain: SPOOF_CHAIN, expr: [m(pair(payload('ether', 'saddr')), `@${SPOOF_SETS.mac}`, '!='), ...dropCounted] }) } },
      { add: { rule: bridge({ chain: SPOOF_CHAIN, expr: [m(payload('ether', 'type'), 'arp'), m(pair(payload('arp', 'saddr ether')), `@${SPOOF_SETS.mac}`, '!='), ...dropCounted] }) } },
      { add: { rule: bridge({ chain: SPOOF_CHAIN, expr: [m(payload('ether', 'type'), 'arp'), m(pair(payload('arp', 'saddr ip')), `@${SPOOF_SETS.arp}`, '!='), ...dropCounted] }) } },
      { add: { rule: bridge({ chain: SPOOF_CHAIN, expr: [m(payload('ether', 'type'), 'ip'), m(pair(payload('ip', 'saddr')), `@${SPOOF_SETS.ip}`, '!='), m(pair(payload('ip', 'saddr')), `@${SPOOF_SETS.exempt}`, '!='), ...dropCounted] }) } },
      // an app's DHCP server must not lease addresses to its neighbours
      { add: { rule: bridge({ chain: SPOOF_CHAIN, expr: [m(payload('ether', 'type'), 'ip'), m(payload('udp', 'sport'), 67), ...dropCounted] }) } },
      { add: { chain: bridge({ name: ACL_BASE.spoof, type: 'filter', hook: 'prerouting', prio: -200, policy: 'accept' }) } },
      { flush: { chain: bridge({ name: ACL_BASE.spoof }) } },
      { add: { rule: bridge({ chain: ACL_BASE.spoof, expr: [m(iif, `@${SPOOF_SETS.guarded}`), { jump: { target: SPOOF_CHAIN } }] }) } },
    );
  }
  return cmds;
}

/** Commands adding (or deleting) anti-spoofing elements: one command per set. */
export function spoofElementCommands(verb: 'add' | 'delete', elements: readonly SpoofElement[]): NftCmd[] {
  const bySet = new Map<SpoofSet, Json[]>();
  for (const e of elements) {
    let list = bySet.get(e.set);
    if (!list) bySet.set(e.set, (list = []));
    list.push(verb === 'add' ? { elem: { val: e.val, comment: e.comment } } : e.val);
  }
  // in the order of SPOOF_SETS: as-guarded is added last and deleted first
  const order = verb === 'add' ? Object.values(SPOOF_SETS) : [...Object.values(SPOOF_SETS)].reverse();
  return order.flatMap((set) => {
    const elem = bySet.get(set);
    return elem ? [{ [verb]: { element: bridge({ name: set, elem }) } }] : [];
  });
}

/** The identity of a set element: its set and value (a comment is not part of it). */
export const spoofElementId = (e: Pick<SpoofElement, 'set' | 'val'>): string => `${e.set}:${canonicalJson(e.val)}`;

/** What the kernel holds of one endpoint (from a listing), to remove or replace. */
export interface EndpointPresent {
  inetChains: string[];
  inetCounters: string[];
  inetSets: string[];
  /** map → keys whose verdict jumps to one of the endpoint's chains */
  elements: { map: string; key: Json; family: 'inet' | 'bridge' }[];
  /** rule handles in acl-dnat / acl-snat */
  natRules: { chain: string; handle: number }[];
  /** the endpoint's elements of the anti-spoofing sets */
  spoofElements: SpoofElement[];
  /** the chain and counter `as-<h>` of the layout before the anti-spoofing sets */
  bridgeChain: boolean;
  bridgeCounter: boolean;
}

/**
 * Commands removing what is present of an endpoint (elements and NAT rules first, then chains, counters, sets).
 * Objects named in `keep` are only flushed (chains) or left alone (counters keep counting, sets keep dnsmasq's work).
 */
export function removalCommands(key: string, present: EndpointPresent, keep: ReadonlySet<string> = new Set(), byTag = false): NftCmd[] {
  const names = byTag ? endpointNamesOfTag(key) : endpointNames(key);
  const cmds: NftCmd[] = spoofElementCommands('delete', present.spoofElements);
  for (const e of present.elements) {
    const ref = e.family === 'inet' ? inet({ name: e.map, elem: [e.key] }) : bridge({ name: e.map, elem: [e.key] });
    cmds.push({ delete: { element: ref } });
  }
  for (const r of present.natRules) cmds.push({ delete: { rule: inet({ chain: r.chain, handle: r.handle }) } });
  // flush every chain first (a rule in one may use a set or counter), then delete what is not kept
  for (const c of present.inetChains) cmds.push({ flush: { chain: inet({ name: c }) } });
  if (present.bridgeChain) cmds.push({ flush: { chain: bridge({ name: names.spoof }) } });
  for (const c of present.inetChains) if (!keep.has(c)) cmds.push({ delete: { chain: inet({ name: c }) } });
  for (const c of present.inetCounters) if (!keep.has(c)) cmds.push({ delete: { counter: inet({ name: c }) } });
  for (const s of present.inetSets) if (!keep.has(s)) cmds.push({ delete: { set: inet({ name: s }) } });
  if (present.bridgeChain) cmds.push({ delete: { chain: bridge({ name: names.spoof }) } });
  if (present.bridgeCounter) cmds.push({ delete: { counter: bridge({ name: names.spoof }) } });
  return cmds;
}

/**
 * Commands that make the kernel hold exactly `ep`'s rules, given what is there of it now. One transaction.
 * `spec` (a digest of `ep`) goes into the comment of the endpoint's `as-guarded` element: a restarted edgenet
 * finds it there and adopts intact rules instead of rewriting them.
 */
export function ensureCommands(ep: EndpointRules, present: EndpointPresent, spec = '', plumbing = true): NftCmd[] {
  const names = endpointNames(ep.key);
  const chains = endpointChains(ep, spec);
  // what stays is refilled in place: counters keep counting, host sets keep what dnsmasq put in them
  const keep = new Set<string>([...chains.sets.map((s) => s.name), ...chains.counters.map((c) => c.name), ...(ep.acls ? [names.out, names.in, names.gw] : [])]);
  // anti-spoofing elements: those wanted and there stay (their drops keep counting); the others go, the missing come
  const wanted = new Map(chains.spoof.map((e) => [spoofElementId(e), e]));
  const stays = (e: SpoofElement): boolean => wanted.get(spoofElementId(e))?.comment === e.comment;
  const stale = present.spoofElements.filter((e) => !stays(e));
  const there = new Set(present.spoofElements.filter(stays).map(spoofElementId));
  // the shared base chains are (re)written only when they are not intact: other endpoints' rules keep their handles
  const cmds: NftCmd[] = [...(plumbing ? aclPlumbing(true) : []), ...removalCommands(ep.key, { ...present, spoofElements: stale }, keep)];
  for (const c of chains.counters) cmds.push({ add: { counter: inet({ name: c.name }) } });
  for (const s of chains.sets) {
    cmds.push({ add: { set: inet({ name: s.name, type: 'ipv4_addr' }) } });
    if (s.elements.length > 0) cmds.push({ add: { element: inet({ name: s.name, elem: s.elements }) } });
  }
  if (ep.acls) {
    for (const [chain, rules] of [
      [names.out, chains.out],
      [names.in, chains.in],
      [names.gw, chains.gw],
    ] as const) {
      cmds.push({ add: { chain: inet({ name: chain }) } });
      for (const expr of rules) cmds.push({ add: { rule: inet({ chain, expr }) } });
    }
    const key = (ifname: string): Json => ({ concat: [ifname, ep.ip] });
    cmds.push(
      { add: { element: inet({ name: ACL_MAPS.out, elem: [[key(ep.bridge), { jump: { target: names.out } }]] }) } },
      { add: { element: inet({ name: ACL_MAPS.in, elem: [[key(ep.bridge), { jump: { target: names.in } }]] }) } },
      { add: { element: inet({ name: ACL_MAPS.gw, elem: [[key(ep.bridge), { jump: { target: names.gw } }]] }) } },
    );
    for (const expr of chains.dnat) cmds.push({ add: { rule: inet({ chain: ACL_BASE.dnat, expr, comment: names.comment }) } });
    for (const expr of chains.snat) cmds.push({ add: { rule: inet({ chain: ACL_BASE.snat, expr, comment: names.comment }) } });
  }
  cmds.push(...spoofElementCommands('add', chains.spoof.filter((e) => !there.has(spoofElementId(e)))));
  return cmds;
}
