// The nft side of endpoint rules (firewall-acl.ts renders them): what the kernel holds is kept in memory
// (firewall-acl-view.ts: one listing at start and after an error, then followed through our own writes), and the
// endpoint changes requested meanwhile — all the app interfaces of an apply, an NI's members — are written together
// in one transaction. Runs inside NftFirewall's queue (one operation at a time).
import { createHash } from 'node:crypto';
import type { EdgenetLogger as Logger } from '../util/logger.ts';
import { KernelError } from '../errors.ts';
import { FIREWALL_TABLE, canonicalJson } from './firewall.ts';
import { ACL_MAPS, SPOOF_SETS, aclPlumbing, aclRuleInfos, endpointNames, endpointTag, ensureCommands, removalCommands, spoofElementId, spoofElements } from './firewall-acl.ts';
import type { AclRuleInfo, AclRuleStatus, EndpointRules, Json, NftCmd, SpoofElement } from './firewall-acl.ts';
import { AclTableView, needsEcho, setElementOf } from './firewall-acl-view.ts';
import type { WriteCounter } from './write-counter.ts';
import type { NftRun } from './nft-runner.ts';


const sha = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 16);

type Op = { kind: 'ensure'; key: string; ep: EndpointRules } | { kind: 'remove'; key: string };

interface Pending {
  op: Op;
  signal: AbortSignal | undefined;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** What one op writes, and what to remember once it is written. */
interface Planned {
  op: Op;
  cmds: NftCmd[];
  /** the transaction needs the ACL base chains and maps (not intact in the view) */
  plumbing: boolean;
  done: () => void;
}

/** Runs `fn` in the firewall's one-at-a-time queue. */
export type SerialRun = <T>(fn: () => Promise<T>) => Promise<T>;

const isObj = (v: unknown): v is { [key: string]: Json } => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The handles of the rules an `nft --echo --handle -j` transaction added, in order. */
function echoedHandles(stdout: string): number[] | undefined {
  if (stdout.trim() === '') return [];
  try {
    const doc: unknown = JSON.parse(stdout);
    const items = isObj(doc) && Array.isArray(doc.nftables) ? doc.nftables : [];
    const out: number[] = [];
    for (const item of items) {
      if (!isObj(item)) continue;
      const body = isObj(item.add) ? item.add : isObj(item.insert) ? item.insert : undefined;
      const rule = body?.rule;
      if (!isObj(rule)) continue;
      if (typeof rule.handle !== 'number') return undefined;
      out.push(rule.handle);
    }
    return out;
  } catch {
    return undefined;
  }
}

export class NftEndpointRules {
  /** per endpoint key: the spec last applied and its counted rules */
  private readonly applied = new Map<string, { spec: string; ep: EndpointRules; rules: AclRuleInfo[] }>();
  /** counter name → packets, from the last read */
  private packets = new Map<string, number>();
  /** someone read the counters (status, metrics) since they were last listed: the next refresh lists them */
  private asked = false;
  /** what the kernel holds, as far as we know; undefined: list before the next write */
  private view: AclTableView | undefined;
  private pending: Pending[] = [];
  private scheduled = false;
  /** listings of the tables so far (tests: changes must not list) */
  listings = 0;

  constructor(
    private readonly run: NftRun,
    private readonly writes: WriteCounter,
    private readonly logger?: Logger,
    private readonly serial: SerialRun = (fn) => fn(),
  ) {}

  private async listTable(family: 'inet' | 'bridge', signal?: AbortSignal): Promise<string | undefined> {
    const r = await this.run(['-j', 'list', 'table', family, FIREWALL_TABLE], undefined, signal);
    if (r.code !== 0) {
      if (/No such file or directory/.test(r.stderr) && r.stderr.includes('list table')) return undefined;
      throw new KernelError('nft list', `table ${family} ${FIREWALL_TABLE}`, undefined, r.stderr.trim());
    }
    return r.stdout;
  }

  /** The view, listed now when there is none (or it lost track). */
  private async currentView(signal?: AbortSignal): Promise<AclTableView> {
    if (this.view?.exact) return this.view;
    this.view = undefined;
    const [inet, bridge] = await Promise.all([this.listTable('inet', signal), this.listTable('bridge', signal)]);
    this.listings++;
    const view = AclTableView.fromListings(inet, bridge);
    this.packets = new Map(view.packets);
    this.view = view;
    return view;
  }

  /** Forget what we know of the kernel's table (it changed behind our back, or we cannot tell): list next time. */
  invalidate(): void {
    this.view = undefined;
  }

  /** One transaction; the handles of its added rules when it needed nft's echo (needsEcho), else []. */
  private async transact(cmds: NftCmd[], operation: string, object: string, echo = needsEcho(cmds)): Promise<number[] | undefined> {
    this.logger?.debug({ object, commands: cmds.length, echo }, 'endpoint rules transaction');
    const r = await this.run(['-j', ...(echo ? ['-e', '-a'] : []), '-f', '-'], JSON.stringify({ nftables: cmds }));
    if (r.code !== 0) {
      const line = r.stderr.split('\n').find((l) => l.includes('Error:')) ?? r.stderr.trim();
      throw new KernelError(`nft ${operation}`, object, /No such file/.test(line) ? 'ENOENT' : undefined, line.replace(/^.*?Error:\s*/, ''));
    }
    this.writes.inc('nft');
    return echo ? echoedHandles(r.stdout) : [];
  }

  /** Converge one endpoint's rules: unchanged and still there, no write; else written with the others queued now. */
  ensure(ep: EndpointRules, signal?: AbortSignal): Promise<void> {
    return this.enqueue({ kind: 'ensure', key: ep.key, ep }, signal);
  }

  /** Remove one endpoint's rules; absent is success. */
  remove(key: string, signal?: AbortSignal): Promise<void> {
    return this.enqueue({ kind: 'remove', key }, signal);
  }

  private enqueue(op: Op, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ op, signal, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      // requests of the same run of JavaScript (and of the time the queue is busy) go into one transaction. A
      // microtask, not setImmediate: a +1 app's transaction began 1.7–2.6 ms late behind the push's other work
      // (dnsmasq's files, the state journals), 1.2–1.8 ms now; a converge still makes 5 transactions at 1000 taps
      queueMicrotask(() => void this.serial(() => this.flush()));
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    // the last request per endpoint wins; everyone asking is answered by it
    const byKey = new Map<string, { op: Op; waiters: Pending[] }>();
    for (const p of batch) {
      if (p.signal?.aborted) {
        p.reject(p.signal.reason instanceof Error ? p.signal.reason : new Error('aborted'));
        continue;
      }
      const entry = byKey.get(p.op.key);
      if (entry) {
        entry.op = p.op;
        entry.waiters.push(p);
      } else byKey.set(p.op.key, { op: p.op, waiters: [p] });
    }
    const entries = [...byKey.values()];
    if (entries.length === 0) return;
    try {
      await this.write(entries.map((e) => e.op));
      for (const e of entries) for (const w of e.waiters) w.resolve();
      return;
    } catch (err) {
      if (entries.length === 1) {
        for (const w of entries[0]?.waiters ?? []) w.reject(err);
        return;
      }
    }
    // the batch failed: each alone, so the error reaches the endpoint it is about
    for (const e of entries) {
      try {
        await this.write([e.op]);
        for (const w of e.waiters) w.resolve();
      } catch (err) {
        for (const w of e.waiters) w.reject(err);
      }
    }
  }

  /** One transaction for these ops (none when nothing differs); a stale view is listed again and tried once more. */
  private async write(ops: readonly Op[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const view = await this.currentView();
      const planned = ops.map((op) => this.plan(op, view));
      const writing = planned.filter((p) => p.cmds.length > 0);
      for (const p of planned) if (p.cmds.length === 0) p.done();
      if (writing.length === 0) return;
      const cmds = [...(writing.some((p) => p.plumbing) ? aclPlumbing(true) : []), ...writing.flatMap((p) => p.cmds)];
      const object = writing.map((p) => `endpoint ${p.op.key}`).join(', ');
      try {
        const echo = needsEcho(cmds);
        const handles = await this.transact(cmds, writing.every((p) => p.op.kind === 'remove') ? 'removeEndpoint' : 'ensureEndpoint', object, echo);
        view.apply(cmds, handles, echo);
      } catch (e) {
        // what we knew of the table was wrong (changed behind our back): list again, once
        this.view = undefined;
        if (attempt === 0 && e instanceof KernelError && e.errno === 'ENOENT') continue;
        throw e;
      }
      for (const p of writing) p.done();
      await this.dropLegacySpoofMap(view);
      return;
    }
  }

  /** After an upgrade: the old layout's verdict map, once its last element is gone (best effort: it is empty). */
  private async dropLegacySpoofMap(view: AclTableView): Promise<void> {
    if (!view.legacySpoofMapUnused()) return;
    const cmds: NftCmd[] = [{ delete: { map: { family: 'bridge', table: FIREWALL_TABLE, name: ACL_MAPS.spoof } } }];
    try {
      await this.transact(cmds, 'removeLegacyMap', `map bridge ${FIREWALL_TABLE} ${ACL_MAPS.spoof}`, false);
      view.apply(cmds, [], false);
    } catch (e) {
      this.view = undefined;
      this.logger?.warn({ err: e }, 'the unused anti-spoofing map of an earlier version could not be removed');
    }
  }

  private plan(op: Op, view: AclTableView): Planned {
    const names = endpointNames(op.key);
    const present = view.present(endpointTag(op.key));
    if (op.kind === 'remove') {
      const cmds = removalCommands(op.key, present);
      return {
        op,
        cmds,
        plumbing: false,
        done: () => {
          this.applied.delete(op.key);
          if (cmds.length > 0) this.logger?.info({ endpoint: op.key }, 'endpoint rules removed');
        },
      };
    }
    const ep = op.ep;
    const spec = sha(canonicalJson(ep));
    const nothing = !ep.acls && !ep.antiSpoof;
    const guarded = present.spoofElements.find((e) => e.set === SPOOF_SETS.guarded);
    const intact =
      (!ep.acls || (present.inetChains.includes(names.out) && present.elements.some((e) => e.map === 'acl-out'))) &&
      (!ep.antiSpoof || (guarded !== undefined && !present.bridgeChain));
    const remember = (): void => {
      this.applied.set(ep.key, { spec, ep, rules: aclRuleInfos(ep) });
    };
    const none = (done: () => void): Planned => ({ op, cmds: [], plumbing: false, done });
    if (this.applied.get(ep.key)?.spec === spec && intact) return none(() => undefined);
    // after a restart: rules carrying this spec, intact (every anti-spoofing element there, no other), are adopted
    if (!this.applied.has(ep.key) && intact && ep.antiSpoof && this.spoofExact(ep, spec, present.spoofElements)) {
      return none(() => {
        remember();
        this.logger?.debug({ endpoint: ep.key }, 'endpoint rules adopted');
      });
    }
    if (nothing) {
      const cmds = removalCommands(ep.key, present);
      return { op, cmds, plumbing: false, done: () => this.applied.delete(ep.key) };
    }
    return {
      op,
      cmds: ensureCommands(ep, present, spec, false),
      plumbing: !view.plumbingIntact(),
      done: () => {
        remember();
        this.logger?.info({ endpoint: ep.key, acls: ep.acls?.length, antiSpoof: ep.antiSpoof, tag: endpointTag(ep.key) }, 'endpoint rules applied');
      },
    };
  }

  /** The endpoint's anti-spoofing elements are exactly those `present`, comments too (its `as-guarded` one: the spec). */
  private spoofExact(ep: EndpointRules, spec: string, present: readonly SpoofElement[]): boolean {
    const wanted = spoofElements(ep, spec);
    if (wanted.length !== present.length) return false;
    const there = new Map(present.map((e) => [spoofElementId(e), e.comment]));
    return wanted.every((e) => there.get(spoofElementId(e)) === e.comment);
  }

  /**
   * Removes the rules of endpoints not in `keep` (an app dropped while edgenet was down): found by the tags in
   * their chain names. Returns the tags removed. Lists the tables afresh (it runs once, at start).
   */
  async sweep(keep: readonly string[]): Promise<string[]> {
    this.view = undefined;
    const view = await this.currentView();
    const wanted = new Set(keep.map(endpointTag));
    const orphans = view
      .tags()
      .filter((t) => {
        if (wanted.has(t)) return false;
        const p = view.present(t);
        return p.inetChains.length > 0 || p.bridgeChain || p.spoofElements.length > 0;
      })
      .sort();
    const cmds = orphans.flatMap((t) => removalCommands(t, view.present(t), new Set(), true));
    if (cmds.length > 0) {
      try {
        const echo = needsEcho(cmds);
        view.apply(cmds, await this.transact(cmds, 'sweepEndpoints', orphans.map((t) => `endpoint ${t}`).join(', '), echo), echo);
      } catch (e) {
        this.view = undefined;
        throw e;
      }
    }
    return orphans;
  }

  /**
   * Read every counter of ours (one listing); status then answers from it. Only when someone asked for them since
   * the last read: at 1000 endpoints the listing is a large document, and nobody may be looking.
   */
  async refreshCounters(signal?: AbortSignal): Promise<void> {
    if (this.applied.size === 0 || !this.asked) return;
    this.asked = false;
    const r = await this.run(['-j', 'list', 'counters'], undefined, signal);
    if (r.code !== 0) return;
    const packets = new Map<string, number>();
    const items = (stdout: string): Json[] => {
      const doc: unknown = JSON.parse(stdout);
      return isObj(doc) && Array.isArray(doc.nftables) ? doc.nftables : [];
    };
    for (const item of items(r.stdout)) {
      const c = isObj(item) ? item.counter : undefined;
      if (isObj(c) && c.table === FIREWALL_TABLE && typeof c.name === 'string') packets.set(`${String(c.family)}:${c.name}`, typeof c.packets === 'number' ? c.packets : 0);
    }
    // anti-spoofing drops: per interface, in its element of as-drops (absent set: no anti-spoofing, nothing counted)
    const drops = await this.run(['-j', 'list', 'set', 'bridge', FIREWALL_TABLE, SPOOF_SETS.drops], undefined, signal);
    for (const item of drops.code === 0 ? items(drops.stdout) : []) {
      const set = isObj(item) ? item.set : undefined;
      for (const e of isObj(set) && Array.isArray(set.elem) ? set.elem : []) {
        const el = setElementOf(e);
        if (el && typeof el.val === 'string') packets.set(`spoof:${el.val}`, el.packets);
      }
    }
    this.packets = packets;
  }

  /** Rules with packet counts of the last read, per endpoint key. */
  status(key: string): AclRuleStatus[] | undefined {
    const a = this.applied.get(key);
    if (!a) return undefined;
    this.asked = true;
    return a.rules.map((r) => ({ rule: r.rule, action: r.action, packets: this.packets.get(`${r.family}:${r.counter}`) ?? 0 }));
  }

  forget(): void {
    this.applied.clear();
    this.view = undefined;
  }
}
