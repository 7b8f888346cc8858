// Routes driver: one `ip -batch -` per change to write (iproute2's text form of routes and rules, applied in order),
// `conntrack -D` to flush; reads over rtnetlink in this process's namespace (routes-netlink-reads.ts), or `ip -j`
// with a command prefix (the driver tests' `ip netns exec`), whose output the netlink reads reproduce.
import type { EdgenetLogger as Logger } from '../util/logger.ts';
import { KernelError } from '../errors.ts';
import { serialQueue } from '../runtime/serial-queue.ts';
import { NI_RULE_PRIORITY, ROUTE_PROTO, routeKey, routeWords, sameRoute } from './routes.ts';
import type { L3Config, RouteDriver, RouteInfo, RouteSpec, RuleInfo, TableSpec } from './routes.ts';
import { runCommand as run } from './run-command.ts';
import { WriteCounter } from './write-counter.ts';
import type { RouteReads } from './routes-netlink-reads.ts';

export interface IpRouteOptions {
  /** command prefix, e.g. `['ip', 'netns', 'exec', 'ent-x-dev']`; empty: this process's namespace */
  exec?: string[];
  logger?: Logger;
  writes?: WriteCounter;
  /** reads other than `ip -j` (the kernel drivers give rtnetlink's: createNetlinkRouteReads) */
  reads?: RouteReads;
}

const ERRNO_BY_TEXT: readonly [RegExp, string][] = [
  [/File exists/, 'EEXIST'],
  [/No such process|No such file or directory/, 'ENOENT'],
  [/Cannot find device|No such device/, 'ENODEV'],
  [/Network is unreachable|Nexthop has invalid gateway/, 'ENETUNREACH'],
  [/Operation not permitted/, 'EPERM'],
];

function errnoOf(text: string): string | undefined {
  return ERRNO_BY_TEXT.find(([re]) => re.test(text))?.[1];
}

type Json = Record<string, unknown>;

function parseJsonList(stdout: string): Json[] {
  const text = stdout.trim();
  if (!text) return [];
  const v: unknown = JSON.parse(text);
  return Array.isArray(v) ? v.filter((x): x is Json => typeof x === 'object' && x !== null) : [];
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function toRoute(j: Json, table: number | 'main'): RouteInfo | undefined {
  const to = str(j['dst']);
  if (to === undefined) return undefined;
  const flags = Array.isArray(j['flags']) ? (j['flags'] as unknown[]) : [];
  const via = str(j['gateway']);
  const dev = str(j['dev']);
  const src = str(j['prefsrc']);
  const scope = str(j['scope']);
  const metric = typeof j['metric'] === 'number' ? j['metric'] : undefined;
  // `ip -j` leaves protocol out for `boot` (the default of `ip route add`)
  const protocol = j['protocol'] === undefined ? 'boot' : String(j['protocol']);
  return {
    to,
    ...(via !== undefined && { via }),
    ...(dev !== undefined && { dev }),
    ...(src !== undefined && { src }),
    ...((scope === 'link' || scope === 'global') && { scope }),
    ...(metric !== undefined && { metric }),
    ...(flags.includes('onlink') && { onlink: true }),
    protocol,
    table,
  };
}

export function createIpRouteDriver(opts: IpRouteOptions = {}): RouteDriver {
  const exec = opts.exec ?? [];
  const writes = opts.writes ?? new WriteCounter();
  const logger = opts.logger;
  // route and rule changes of one process go one at a time (read, compare, write must not interleave)
  const serial = serialQueue();

  const ip = async (args: string[], signal?: AbortSignal): Promise<string> => {
    const r = await run([...exec, 'ip', ...args], undefined, signal);
    if (r.code !== 0) throw new KernelError(`ip ${args.slice(0, 3).join(' ')}`, args.join(' '), errnoOf(r.stderr), r.stderr.trim());
    return r.stdout;
  };
  /** One `ip -batch` run: the lines are applied in order; a failure names the line. */
  const batch = async (what: string, lines: string[], kind: 'route' | 'address', signal?: AbortSignal): Promise<void> => {
    if (lines.length === 0) return;
    const r = await run([...exec, 'ip', '-batch', '-'], `${lines.join('\n')}\n`, signal);
    writes.inc(kind, lines.length);
    if (r.code !== 0) throw new KernelError(what, lines.join('; '), errnoOf(r.stderr), r.stderr.trim());
    logger?.debug({ lines }, what);
  };

  const listRoutes = async (table: number | 'main'): Promise<RouteInfo[]> => {
    if (opts.reads) return opts.reads.listRoutes(table);
    const r = await run([...exec, 'ip', '-j', '-4', 'route', 'show', 'table', String(table)]);
    // a table that never held a route does not exist yet
    if (r.code !== 0) {
      if (/FIB table does not exist/.test(r.stderr)) return [];
      throw new KernelError('ip route show', `table ${table}`, errnoOf(r.stderr), r.stderr.trim());
    }
    return parseJsonList(r.stdout).flatMap((j) => toRoute(j, table) ?? []);
  };

  const listRules = async (): Promise<RuleInfo[]> => {
    if (opts.reads) return opts.reads.listRules();
    const out = await ip(['-j', '-4', 'rule', 'show']);
    return parseJsonList(out).flatMap((j): RuleInfo[] => {
      const table = Number(j['table']);
      const src = str(j['src']);
      if (!Number.isInteger(table) || src === undefined || src === 'all') return [];
      const from = `${src}/${typeof j['srclen'] === 'number' ? j['srclen'] : 32}`;
      return [{ priority: Number(j['priority']), from, table, ours: String(j['protocol']) === String(ROUTE_PROTO) }];
    });
  };

  const addressesOf = async (ifname: string): Promise<L3Config['addresses']> => {
    if (opts.reads) return opts.reads.addressesOf(ifname);
    const r = await run([...exec, 'ip', '-j', '-4', 'addr', 'show', 'dev', ifname]);
    if (r.code !== 0) return [];
    return parseJsonList(r.stdout).flatMap((l) =>
      (Array.isArray(l['addr_info']) ? (l['addr_info'] as Json[]) : []).flatMap((a) =>
        a['family'] === 'inet' && typeof a['local'] === 'string' && typeof a['prefixlen'] === 'number' ? [{ address: a['local'], prefixlen: a['prefixlen'] }] : [],
      ),
    );
  };

  const routeLine = (verb: 'replace' | 'del', table: number, r: RouteSpec): string =>
    ['route', verb, ...routeWords(r), 'table', String(table), ...(verb === 'replace' ? ['proto', String(ROUTE_PROTO)] : [])].join(' ');

  return {
    writes,
    ensureTable: (spec: TableSpec, signal?: AbortSignal) =>
      serial(async () => {
        const priority = spec.priority ?? NI_RULE_PRIORITY;
        const [rules, routes] = await Promise.all([listRules(), listRoutes(spec.table)]);
        const lines: string[] = [];
        const mine = rules.filter((r) => r.ours && r.table === spec.table);
        for (const from of spec.from) {
          if (!mine.some((r) => r.from === from && r.priority === priority)) {
            lines.push(`rule add from ${from} lookup ${spec.table} priority ${priority} protocol ${ROUTE_PROTO}`);
          }
        }
        for (const r of mine) {
          if (!spec.from.includes(r.from) || r.priority !== priority) lines.push(`rule del from ${r.from} lookup ${spec.table} priority ${r.priority}`);
        }
        const ours = routes.filter((r) => r.protocol === String(ROUTE_PROTO));
        for (const want of spec.routes) {
          const have = ours.find((h) => routeKey(h) === routeKey(want));
          if (!have || !sameRoute(want, have)) lines.push(routeLine('replace', spec.table, want));
        }
        const wanted = new Set(spec.routes.map(routeKey));
        for (const have of ours) if (!wanted.has(routeKey(have))) lines.push(routeLine('del', spec.table, { to: have.to, ...(have.metric !== undefined && { metric: have.metric }) }));
        await batch('ensure table', lines, 'route', signal);
      }),
    replaceRoute: (table: number, route: RouteSpec, signal?: AbortSignal) =>
      serial(() => batch('replace route', [routeLine('replace', table, route)], 'route', signal)),
    removeTable: (table: number, signal?: AbortSignal) =>
      serial(async () => {
        const [rules, routes] = await Promise.all([listRules(), listRoutes(table)]);
        const lines = [
          ...rules.filter((r) => r.ours && r.table === table).map((r) => `rule del from ${r.from} lookup ${table} priority ${r.priority}`),
          ...routes
            .filter((r) => r.protocol === String(ROUTE_PROTO))
            .map((r) => routeLine('del', table, { to: r.to, ...(r.metric !== undefined && { metric: r.metric }) })),
        ];
        await batch('remove table', lines, 'route', signal);
      }),
    async tables(): Promise<number[]> {
      return [...new Set((await listRules()).filter((r) => r.ours).map((r) => r.table))].sort((a, b) => a - b);
    },
    listRules,
    listRoutes,
    async defaultGateway(ifname: string): Promise<string | undefined> {
      const defaults = (await listRoutes('main')).filter((r) => r.to === 'default' && r.dev === ifname && r.via !== undefined);
      defaults.sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0));
      return defaults[0]?.via;
    },
    async flushConntrack(subnet: string, signal?: AbortSignal): Promise<number> {
      const r = await run([...exec, 'conntrack', '-D', '-s', subnet], undefined, signal);
      const m = /(\d+) flow entries have been deleted/.exec(r.stderr + r.stdout);
      // conntrack exits 1 when nothing matched; "such conntrack doesn't exist": an entry it listed expired (or
      // was deleted) before it got to it, which is what was asked
      const gone = /such conntrack doesn't exist/.test(r.stderr);
      if (!m && !gone) throw new KernelError('conntrack -D', `-s ${subnet}`, errnoOf(r.stderr), r.stderr.trim());
      const n = m ? Number(m[1]) : 0;
      writes.inc('conntrack');
      return n;
    },
    async l3Of(ifname: string): Promise<L3Config> {
      const [addresses, routes] = await Promise.all([addressesOf(ifname), listRoutes('main')]);
      // the kernel's connected routes come and go with the addresses; everything else via the port is moved
      const own = routes.filter((r) => r.dev === ifname && r.protocol !== 'kernel');
      return { addresses, routes: own.map(({ table: _t, dev: _d, ...r }) => r) };
    },
    moveL3: (from: string, to: string, l3: L3Config, signal?: AbortSignal, opts: { release?: boolean } = {}) =>
      serial(async () => {
        // only what is missing on `to` is put there, only what is still on `from` is taken off (a move repeated
        // after a crash finds part of it done, a restart all of it: 0 writes)
        const key = (a: { address: string; prefixlen: number }): string => `${a.address}/${a.prefixlen}`;
        const [onFrom, onTo, main] = await Promise.all([addressesOf(from), addressesOf(to), listRoutes('main')]);
        const fromSet = new Set(onFrom.map(key));
        const toSet = new Set(onTo.map(key));
        const routeThere = (r: RouteSpec): boolean => main.some((h) => h.dev === to && routeKey(h) === routeKey(r) && sameRoute({ ...r, dev: to }, h));
        const lines = [
          ...(opts.release ? [`link set dev ${to} nomaster`] : []),
          ...l3.addresses.filter((a) => !toSet.has(key(a))).map((a) => `address replace ${key(a)} dev ${to}`),
          // `replace` matches a route by destination and metric: the port's route becomes the bridge's
          ...l3.routes
            .filter((r) => !routeThere(r))
            .map(({ protocol, ...r }) => ['route', 'replace', ...routeWords({ ...r, dev: to }), ...(protocol !== undefined && protocol !== 'boot' ? ['proto', protocol] : [])].join(' ')),
          ...l3.addresses.filter((a) => fromSet.has(key(a))).map((a) => `address del ${key(a)} dev ${from}`),
        ];
        await batch(`move addresses ${from} → ${to}`, lines, 'address', signal);
      }),
  };
}
