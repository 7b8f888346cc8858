// The routes driver's reads over rtnetlink (npm `netlink`) in the namespace of this process: routes of a table and
// policy rules, as `ip -j -4 route show table T` / `ip -j -4 rule show` give them (routes-ip.ts parses those); an
// interface's addresses and a route's device name come from the link driver. Each read is one dump on a socket of
// its own, closed after it: no `ip` process forked from the daemon (10–30 ms each under load), nothing left open.
// first: points the netlink package at edgenet's patched addon build before it loads its binding
import './netlink-addon.ts';
import { createRtNetlink, rt, type RtNetlinkSocket } from 'netlink';
import type { LinkDriver } from './links.ts';
import type { L3Config, RouteInfo, RuleInfo } from './routes.ts';
import { ROUTE_PROTO } from './routes.ts';

const AF_INET = 2;
const RT_TABLE_MAIN = 254;
/** main, default and local: `ip` names them, and the rules towards them are never an NI's */
const NAMED_TABLES = new Set([253, 254, 255]);
const RT_SCOPE_LINK = 253;
const RTNH_F_ONLINK = 4;
const RTM_F_CLONED = 0x200;
/** iproute2's built-in names of routing protocols (rtnl_rtprot_n2a); others are shown as their number */
const PROTOCOL_NAMES: Readonly<Record<number, string>> = {
  0: 'unspec', 1: 'redirect', 2: 'kernel', 3: 'boot', 4: 'static', 8: 'gated', 9: 'ra', 10: 'mrt', 11: 'zebra', 12: 'bird',
  13: 'dnrouted', 14: 'xorp', 15: 'ntk', 16: 'dhcp', 17: 'mrouted', 18: 'keepalived', 42: 'babel', 99: 'openr', 186: 'bgp',
  187: 'isis', 188: 'ospf', 189: 'rip', 192: 'eigrp',
};

export interface RouteReads {
  listRoutes(table: number | 'main'): Promise<RouteInfo[]>;
  listRules(): Promise<RuleInfo[]>;
  addressesOf(ifname: string): Promise<L3Config['addresses']>;
}

const ipv4 = (b: Buffer | undefined): string | undefined => (b && b.length === 4 ? `${b[0]}.${b[1]}.${b[2]}.${b[3]}` : undefined);
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
/** the package decodes known enum values by name ('KERNEL', 'LINK'): back to the kernel's number */
const enumNumber = (v: unknown, names: Record<string, string | number>): number => {
  if (typeof v === 'number') return v;
  const n = typeof v === 'string' ? names[v] : undefined;
  return typeof n === 'number' ? n : 0;
};
const bits = (flags: unknown): number => {
  // the package decodes known flags by name and keeps the others as a number
  if (typeof flags === 'number') return flags;
  const f = (flags ?? {}) as { __unknown?: number; cloned?: boolean };
  return (f.__unknown ?? 0) | (f.cloned ? RTM_F_CLONED : 0);
};

async function withSocket<T>(fn: (nl: RtNetlinkSocket) => Promise<T>): Promise<T> {
  const nl = createRtNetlink();
  try {
    return await fn(nl);
  } finally {
    nl.socket.close();
  }
}

/** `links`: the link driver of the same namespace (interface names and addresses come from it). */
export function createNetlinkRouteReads(links: Pick<LinkDriver, 'getByIndex' | 'listAddresses'>): RouteReads {
  return {
    listRoutes: (table) =>
      withSocket(async (nl) => {
        const want = table === 'main' ? RT_TABLE_MAIN : table;
        const msgs = await nl.getRoutes({ family: AF_INET });
        // a route's device by name: the link driver knows it (its cache, fed by the events)
        const nameOf = async (index: number): Promise<string | undefined> => (await links.getByIndex(index))?.ifname;
        const out: RouteInfo[] = [];
        for (const m of msgs) {
          const d = m.data;
          if (d.family !== AF_INET || (m.attrs.table ?? d.table) !== want || bits(d.flags) & RTM_F_CLONED) continue;
          const dstLen = num(d.dstLen);
          const dst = ipv4(m.attrs.dst);
          const to = dstLen === 0 ? 'default' : dstLen === 32 ? dst : `${dst ?? '0.0.0.0'}/${dstLen}`;
          if (to === undefined) continue;
          const via = ipv4(m.attrs.gateway);
          const dev = m.attrs.oif !== undefined ? await nameOf(m.attrs.oif) : undefined;
          const src = ipv4(m.attrs.prefsrc);
          const scope = enumNumber(d.scope, rt.RouteScope as unknown as Record<string, number>);
          const protocol = enumNumber(d.protocol, rt.RouteProtocol as unknown as Record<string, number>);
          out.push({
            to,
            ...(via !== undefined && { via }),
            ...(dev !== undefined && { dev }),
            ...(src !== undefined && { src }),
            ...(scope === RT_SCOPE_LINK && { scope: 'link' as const }),
            ...(m.attrs.priority !== undefined && { metric: m.attrs.priority }),
            ...(bits(d.flags) & RTNH_F_ONLINK && { onlink: true }),
            protocol: PROTOCOL_NAMES[protocol] ?? String(protocol),
            table,
          });
        }
        return out;
      }),
    listRules: () =>
      withSocket(async (nl) => {
        const out: RuleInfo[] = [];
        for (const m of await nl.getRules({ family: AF_INET })) {
          const table = m.attrs.table ?? m.data.table ?? 0;
          const srcLen = num(m.data.srcLen);
          const src = ipv4(m.attrs.src);
          if (NAMED_TABLES.has(table) || table === 0 || srcLen === 0 || src === undefined) continue;
          out.push({ priority: m.attrs.priority ?? 0, from: `${src}/${srcLen}`, table, ours: m.attrs.protocol === ROUTE_PROTO });
        }
        return out;
      }),
    // the link driver reads an interface's addresses already (one dump, filtered by the kernel's ifindex)
    addressesOf: async (ifname) => (await links.listAddresses(ifname)).map(({ address, prefixlen }) => ({ address, prefixlen })),
  };
}
