import type { WriteCounter } from './write-counter.ts';

// Routing: each local NI with a port has a table of its own, reached by a policy rule from its subnet. The table
// holds the NI's subnet route (the device's replies to its apps stay on the bridge), the connected routes of its
// ports and the default route via the selected port's router; static routes (issue 15) go in the same table.
// Everything edgenet writes carries its protocol number (ROUTE_PROTO): that is its ownership mark.

/** `proto`/`protocol` of every route and rule edgenet owns (rt_protos has no name for it: shown as the number). */
export const ROUTE_PROTO = 237;
/** Priority of the NIs' policy rules: before `main` (32766), after `local` (0). */
export const NI_RULE_PRIORITY = 10000;

/** One route in a table. `to` is a CIDR or `default`. */
export interface RouteSpec {
  to: string;
  via?: string;
  dev?: string;
  /** preferred source address */
  src?: string;
  /** `link` for a directly connected destination (no `via`) */
  scope?: 'link' | 'global';
  /** the next hop is on the link even if no address of `dev` covers it (a gateway learned on a moved port) */
  onlink?: boolean;
  metric?: number;
}

/** An NI's table: exactly these routes (of ours) and one rule per `from` prefix. */
export interface TableSpec {
  table: number;
  /** source prefixes whose traffic looks the table up (the NI's subnet) */
  from: string[];
  /** default NI_RULE_PRIORITY */
  priority?: number;
  routes: RouteSpec[];
}

/** A route as the kernel lists it. */
export interface RouteInfo extends RouteSpec {
  /** routing protocol as the kernel names it: 'kernel', 'boot', 'static', 'dhcp', '237', ... */
  protocol: string;
  table: number | 'main';
}

export interface RuleInfo {
  priority: number;
  from: string;
  table: number;
  /** our protocol number (rules without it are not ours) */
  ours: boolean;
}

/** The device's own L3 configuration of one interface: its IPv4 addresses and the main table's routes through it. */
export interface L3Config {
  addresses: { address: string; prefixlen: number }[];
  /** main-table routes via the interface other than the kernel's own connected routes (with their protocol, kept when moved) */
  routes: (RouteSpec & { protocol?: string })[];
}

/**
 * Policy rules, routing tables and conntrack. Operations are idempotent: they read what is there and write only
 * the difference ("already exists" and "already gone" are success).
 */
export interface RouteDriver {
  readonly writes: WriteCounter;
  /** Converge one NI's table and rules (0 writes when converged; one batch otherwise). */
  ensureTable(spec: TableSpec, signal?: AbortSignal): Promise<void>;
  /** Replace one route of a table (a switchover: one write). */
  replaceRoute(table: number, route: RouteSpec, signal?: AbortSignal): Promise<void>;
  /** Remove our rules towards the table and our routes in it. Absent is success. */
  removeTable(table: number, signal?: AbortSignal): Promise<void>;
  /** Tables our rules point at (for the orphan sweep). */
  tables(): Promise<number[]>;
  listRules(): Promise<RuleInfo[]>;
  listRoutes(table: number | 'main'): Promise<RouteInfo[]>;
  /** The main table's default route through `ifname` with the lowest metric: the port's router. */
  defaultGateway(ifname: string): Promise<string | undefined>;
  /** Forget the connections from `subnet` (running flows re-establish at once through the new path). */
  flushConntrack(subnet: string, signal?: AbortSignal): Promise<number>;
  /** The interface's addresses and main-table routes (what moves to a switch NI's bridge). */
  l3Of(ifname: string): Promise<L3Config>;
  /**
   * Put `l3` on `to` and take it off `from` (routes after addresses, so their next hops are reachable). Only what
   * differs is written (0 writes when done already); `from` may be gone (then `l3` is only put on `to`).
   * `release`: `to` leaves its bridge first, in the same batch (a port given its addresses back: while still bridged
   * its ARP answers would land on the bridge; released apart from the move, the address would be nowhere for a while).
   */
  moveL3(from: string, to: string, l3: L3Config, signal?: AbortSignal, opts?: { release?: boolean }): Promise<void>;
}

/** The text form `ip route` takes (and the fake keys routes by). */
export function routeWords(r: RouteSpec): string[] {
  return [
    r.to,
    ...(r.via !== undefined ? ['via', r.via] : []),
    ...(r.dev !== undefined ? ['dev', r.dev] : []),
    ...(r.src !== undefined ? ['src', r.src] : []),
    ...(r.scope !== undefined ? ['scope', r.scope] : []),
    ...(r.metric !== undefined ? ['metric', String(r.metric)] : []),
    ...(r.onlink ? ['onlink'] : []),
  ];
}

/** Routes are keyed by destination and metric: two routes to one prefix in one table are one too many for us. */
export function routeKey(r: { to: string; metric?: number }): string {
  return `${r.to}${r.metric !== undefined ? ` metric ${r.metric}` : ''}`;
}

/** Same route, as far as edgenet cares (what it asked for). */
export function sameRoute(want: RouteSpec, have: RouteSpec): boolean {
  return (
    want.to === have.to &&
    want.via === have.via &&
    (want.dev === undefined || want.dev === have.dev) &&
    (want.src === undefined || want.src === have.src) &&
    (want.scope === undefined || want.scope === (have.scope ?? (have.via ? 'global' : 'link'))) &&
    (want.metric ?? 0) === (have.metric ?? 0) &&
    Boolean(want.onlink) === Boolean(have.onlink)
  );
}
