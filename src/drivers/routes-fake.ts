import { NI_RULE_PRIORITY, ROUTE_PROTO, routeKey, sameRoute } from './routes.ts';
import type { L3Config, RouteDriver, RouteInfo, RouteSpec, RuleInfo, TableSpec } from './routes.ts';
import { WriteCounter } from './write-counter.ts';

/**
 * In-memory rules, tables, main-table routes, interface addresses and conntrack entries with the real driver's
 * semantics (converge, count writes only for differences). Tests set the kernel's side with the `set…` methods.
 */
export class FakeRouteDriver implements RouteDriver {
  readonly writes = new WriteCounter();
  /** what `moveL3(…, { release })` does to the link */
  release?: (ifname: string) => Promise<void>;
  private rules: RuleInfo[] = [];
  private readonly routes = new Map<number | 'main', Map<string, RouteInfo>>();
  private readonly addresses = new Map<string, L3Config['addresses']>();
  /** connections by source address */
  private conntrack: string[] = [];
  /** flushes done, by subnet (tests assert "a switchover flushed that NI's connections, no other") */
  readonly flushed: string[] = [];
  /** ensureTable fails with this error once when set */
  failNext: Error | undefined;

  private table(t: number | 'main'): Map<string, RouteInfo> {
    let m = this.routes.get(t);
    if (!m) this.routes.set(t, (m = new Map()));
    return m;
  }

  // ---- the kernel's side, for tests ----
  setMainRoute(route: RouteSpec & { protocol?: string }): void {
    this.table('main').set(routeKey(route), { protocol: 'boot', ...route, table: 'main' });
  }
  setAddresses(ifname: string, addresses: L3Config['addresses']): void {
    this.addresses.set(ifname, addresses);
  }
  addConnection(src: string): void {
    this.conntrack.push(src);
  }
  connections(): string[] {
    return [...this.conntrack];
  }
  /** Our routes of a table, as text, sorted: what a test asserts on. */
  tableText(table: number): string[] {
    return [...this.table(table).values()].map((r) => [r.to, r.via && `via ${r.via}`, r.dev && `dev ${r.dev}`].filter(Boolean).join(' ')).sort();
  }
  addressesOf(ifname: string): L3Config['addresses'] {
    return [...(this.addresses.get(ifname) ?? [])];
  }

  async ensureTable(spec: TableSpec): Promise<void> {
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = undefined;
      throw err;
    }
    const priority = spec.priority ?? NI_RULE_PRIORITY;
    const keep = this.rules.filter((r) => !(r.ours && r.table === spec.table && (!spec.from.includes(r.from) || r.priority !== priority)));
    this.writes.inc('route', this.rules.length - keep.length);
    this.rules = keep;
    for (const from of spec.from) {
      if (this.rules.some((r) => r.ours && r.table === spec.table && r.from === from && r.priority === priority)) continue;
      this.rules.push({ priority, from, table: spec.table, ours: true });
      this.writes.inc('route');
    }
    const t = this.table(spec.table);
    const wanted = new Set(spec.routes.map(routeKey));
    for (const [k, r] of t) {
      if (r.protocol === String(ROUTE_PROTO) && !wanted.has(k)) {
        t.delete(k);
        this.writes.inc('route');
      }
    }
    for (const want of spec.routes) {
      const have = t.get(routeKey(want));
      if (have && sameRoute(want, have)) continue;
      t.set(routeKey(want), { ...want, protocol: String(ROUTE_PROTO), table: spec.table });
      this.writes.inc('route');
    }
  }

  async replaceRoute(table: number, route: RouteSpec): Promise<void> {
    this.table(table).set(routeKey(route), { ...route, protocol: String(ROUTE_PROTO), table });
    this.writes.inc('route');
  }

  async removeTable(table: number): Promise<void> {
    const keep = this.rules.filter((r) => !(r.ours && r.table === table));
    this.writes.inc('route', this.rules.length - keep.length);
    this.rules = keep;
    const t = this.table(table);
    for (const [k, r] of t) {
      if (r.protocol !== String(ROUTE_PROTO)) continue;
      t.delete(k);
      this.writes.inc('route');
    }
  }

  async tables(): Promise<number[]> {
    return [...new Set(this.rules.filter((r) => r.ours).map((r) => r.table))].sort((a, b) => a - b);
  }

  async listRules(): Promise<RuleInfo[]> {
    return this.rules.map((r) => ({ ...r }));
  }

  async listRoutes(table: number | 'main'): Promise<RouteInfo[]> {
    return [...this.table(table).values()].map((r) => ({ ...r }));
  }

  async defaultGateway(ifname: string): Promise<string | undefined> {
    const defaults = (await this.listRoutes('main')).filter((r) => r.to === 'default' && r.dev === ifname && r.via !== undefined);
    defaults.sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0));
    return defaults[0]?.via;
  }

  async flushConntrack(subnet: string): Promise<number> {
    const [net = '', len = '32'] = subnet.split('/');
    const prefix = net.split('.').slice(0, Math.floor(Number(len) / 8)).join('.');
    const before = this.conntrack.length;
    this.conntrack = this.conntrack.filter((src) => !src.startsWith(`${prefix}.`));
    this.flushed.push(subnet);
    this.writes.inc('conntrack');
    return before - this.conntrack.length;
  }

  async l3Of(ifname: string): Promise<L3Config> {
    const routes = [...this.table('main').values()].filter((r) => r.dev === ifname && r.protocol !== 'kernel');
    return { addresses: [...this.addressesOf(ifname)], routes: routes.map(({ table: _t, dev: _d, ...r }) => r) };
  }

  async moveL3(from: string, to: string, l3: L3Config, _signal?: AbortSignal, opts: { release?: boolean } = {}): Promise<void> {
    if (opts.release) await this.release?.(to);
    const key = (a: { address: string; prefixlen: number }): string => `${a.address}/${a.prefixlen}`;
    const moving = new Set(l3.addresses.map(key));
    const target = this.addressesOf(to);
    for (const a of l3.addresses) {
      if (target.some((b) => key(b) === key(a))) continue;
      target.push(a);
      this.writes.inc('address');
    }
    this.addresses.set(to, target);
    const left = this.addressesOf(from).filter((a) => !moving.has(key(a)));
    this.writes.inc('address', this.addressesOf(from).length - left.length);
    this.addresses.set(from, left);
    const main = this.table('main');
    for (const { protocol, ...r } of l3.routes) {
      const have = main.get(routeKey(r));
      if (have && have.dev === to && sameRoute({ ...r, dev: to }, have)) continue;
      main.set(routeKey(r), { ...r, dev: to, protocol: protocol ?? 'boot', table: 'main' });
      this.writes.inc('address');
    }
  }
}

/** `release`: what `moveL3(…, { release })` does to the link (the fake link driver's detach). */
export function createFakeRouteDriver(opts: { release?: (ifname: string) => Promise<void> } = {}): FakeRouteDriver {
  const d = new FakeRouteDriver();
  if (opts.release) d.release = opts.release;
  return d;
}
