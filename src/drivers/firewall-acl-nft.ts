// The nft side of endpoint rules (firewall-acl.ts renders them): list what the kernel holds of one endpoint, write
// the difference in one transaction, read counters. Runs inside NftFirewall's queue (one operation at a time).
import { createHash } from 'node:crypto';
import type { EdgenetLogger as Logger } from '../util/logger.ts';
import { KernelError } from '../errors.ts';
import { PORT_FORWARD_CHAIN } from './firewall-base.ts';
import { FIREWALL_TABLE, canonicalJson } from './firewall.ts';
import { ACL_BASE, ACL_MAPS, aclRuleInfos, endpointNames, endpointNamesOfTag, endpointTag, ensureCommands, removalCommands, specComment } from './firewall-acl.ts';
import type { AclRuleInfo, AclRuleStatus, EndpointPresent, EndpointRules, Json, NftCmd } from './firewall-acl.ts';
import type { WriteCounter } from './write-counter.ts';

export interface NftRun {
  (args: string[], input: string | undefined, signal?: AbortSignal): Promise<{ code: number; stdout: string; stderr: string }>;
}

type Obj = { [key: string]: Json };
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

interface TableItems {
  chains: string[];
  counters: Map<string, number>;
  sets: string[];
  /** verdict maps: name → [key, jump target] */
  maps: Map<string, { key: Json; target: string }[]>;
  rules: { chain: string; handle: number; comment?: string }[];
}

function parseTable(stdout: string, family: 'inet' | 'bridge'): TableItems {
  const doc: unknown = JSON.parse(stdout);
  const items = isObj(doc) && Array.isArray(doc.nftables) ? doc.nftables : [];
  const out: TableItems = { chains: [], counters: new Map(), sets: [], maps: new Map(), rules: [] };
  for (const item of items) {
    if (!isObj(item)) continue;
    const mine = (o: Json | undefined): o is Obj => isObj(o) && o.family === family && o.table === FIREWALL_TABLE && typeof o.name === 'string';
    if (mine(item.chain)) out.chains.push(String(item.chain.name));
    if (mine(item.counter)) out.counters.set(String(item.counter.name), typeof item.counter.packets === 'number' ? item.counter.packets : 0);
    if (mine(item.set)) out.sets.push(String(item.set.name));
    if (mine(item.map)) {
      const elems: { key: Json; target: string }[] = [];
      for (const e of Array.isArray(item.map.elem) ? item.map.elem : []) {
        if (!Array.isArray(e) || e.length !== 2) continue;
        const [key, verdict] = e as [Json, Json];
        const jump = isObj(verdict) && isObj(verdict.jump) ? verdict.jump.target : undefined;
        if (key !== undefined && typeof jump === 'string') elems.push({ key, target: jump });
      }
      out.maps.set(String(item.map.name), elems);
    }
    const rule = item.rule;
    if (isObj(rule) && rule.family === family && rule.table === FIREWALL_TABLE && typeof rule.chain === 'string' && typeof rule.handle === 'number') {
      out.rules.push({ chain: rule.chain, handle: rule.handle, ...(typeof rule.comment === 'string' && { comment: rule.comment }) });
    }
  }
  return out;
}

const EMPTY: TableItems = { chains: [], counters: new Map(), sets: [], maps: new Map(), rules: [] };

function presentOf(key: string, inet: TableItems, bridge: TableItems, byTag = false): EndpointPresent {
  const names = byTag ? endpointNamesOfTag(key) : endpointNames(key);
  const elements: EndpointPresent['elements'] = [];
  for (const [family, t] of [['inet', inet], ['bridge', bridge]] as const) {
    for (const [map, elems] of t.maps) {
      for (const e of elems) if (e.target.startsWith(names.prefix) || e.target === names.spoof) elements.push({ map, key: e.key, family });
    }
  }
  return {
    inetChains: inet.chains.filter((c) => c.startsWith(names.prefix)),
    inetCounters: [...inet.counters.keys()].filter((c) => c.startsWith(names.prefix)),
    inetSets: inet.sets.filter((s) => s.startsWith(names.prefix)),
    elements,
    natRules: inet.rules.filter((r) => r.comment === names.comment).map((r) => ({ chain: r.chain, handle: r.handle })),
    bridgeChain: bridge.chains.includes(names.spoof),
    bridgeCounter: bridge.counters.has(names.spoof),
  };
}

/** The ACL layout's base chains, maps and jump rules are all there, as aclPlumbing() writes them. */
function plumbingIntact(inet: TableItems, bridge: TableItems): boolean {
  const rulesIn = (t: TableItems, chain: string): number => t.rules.filter((r) => r.chain === chain).length;
  return (
    [ACL_BASE.forward, ACL_BASE.input, ACL_BASE.dnat, ACL_BASE.snat, PORT_FORWARD_CHAIN].every((c) => inet.chains.includes(c)) &&
    [ACL_MAPS.out, ACL_MAPS.in, ACL_MAPS.gw].every((m) => inet.maps.has(m)) &&
    rulesIn(inet, ACL_BASE.forward) === 2 &&
    rulesIn(inet, ACL_BASE.input) === 1 &&
    rulesIn(inet, PORT_FORWARD_CHAIN) === 1 &&
    bridge.chains.includes(ACL_BASE.spoof) &&
    bridge.maps.has(ACL_MAPS.spoof) &&
    rulesIn(bridge, ACL_BASE.spoof) === 1
  );
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 16);

export class NftEndpointRules {
  /** per endpoint key: the spec last applied and its counted rules */
  private readonly applied = new Map<string, { spec: string; ep: EndpointRules; rules: AclRuleInfo[] }>();
  /** counter name → packets, from the last read */
  private packets = new Map<string, number>();

  constructor(
    private readonly run: NftRun,
    private readonly writes: WriteCounter,
    private readonly logger?: Logger,
  ) {}

  private async listTable(family: 'inet' | 'bridge', signal?: AbortSignal): Promise<TableItems> {
    const r = await this.run(['-j', 'list', 'table', family, FIREWALL_TABLE], undefined, signal);
    if (r.code !== 0) {
      if (/No such file or directory/.test(r.stderr) && r.stderr.includes('list table')) return EMPTY;
      throw new KernelError('nft list', `table ${family} ${FIREWALL_TABLE}`, undefined, r.stderr.trim());
    }
    return parseTable(r.stdout, family);
  }

  private async transact(cmds: NftCmd[], operation: string, object: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const r = await this.run(['-j', '-f', '-'], JSON.stringify({ nftables: cmds }), signal);
    if (r.code !== 0) {
      const line = r.stderr.split('\n').find((l) => l.includes('Error:')) ?? r.stderr.trim();
      throw new KernelError(`nft ${operation}`, object, /No such file/.test(line) ? 'ENOENT' : undefined, line.replace(/^.*?Error:\s*/, ''));
    }
    this.writes.inc('nft');
  }

  /** Converge one endpoint's rules: unchanged and still there, no write; else one transaction. */
  async ensure(ep: EndpointRules, signal?: AbortSignal): Promise<void> {
    const spec = sha(canonicalJson(ep));
    const object = `endpoint ${ep.key}`;
    const nothing = !ep.acls && !ep.antiSpoof;
    for (let attempt = 0; ; attempt++) {
      const inet = await this.listTable('inet', signal);
      const bridge = await this.listTable('bridge', signal);
      const present = presentOf(ep.key, inet, bridge);
      this.notePackets(inet, bridge);
      const names = endpointNames(ep.key);
      const intact =
        (!ep.acls || (present.inetChains.includes(names.out) && present.elements.some((e) => e.map === 'acl-out'))) &&
        (!ep.antiSpoof || (present.bridgeChain && present.elements.some((e) => e.family === 'bridge')));
      if (this.applied.get(ep.key)?.spec === spec && intact) return;
      // after a restart: rules carrying this spec, intact, are adopted as they are
      if (!this.applied.has(ep.key) && intact && ep.antiSpoof && bridge.rules.some((r) => r.chain === names.spoof && r.comment === specComment(ep.key, spec))) {
        this.applied.set(ep.key, { spec, ep, rules: aclRuleInfos(ep) });
        this.logger?.debug({ endpoint: ep.key }, 'endpoint rules adopted');
        return;
      }
      if (nothing && present.elements.length + present.inetChains.length + present.natRules.length === 0 && !present.bridgeChain) {
        this.applied.delete(ep.key);
        return;
      }
      try {
        await this.transact(nothing ? removalCommands(ep.key, present) : ensureCommands(ep, present, spec, !plumbingIntact(inet, bridge)), 'ensureEndpoint', object, signal);
        break;
      } catch (e) {
        if (attempt === 0 && e instanceof KernelError && e.errno === 'ENOENT') continue;
        throw e;
      }
    }
    if (nothing) this.applied.delete(ep.key);
    else this.applied.set(ep.key, { spec, ep, rules: aclRuleInfos(ep) });
    this.logger?.info({ endpoint: ep.key, acls: ep.acls?.length, antiSpoof: ep.antiSpoof, tag: endpointTag(ep.key) }, 'endpoint rules applied');
  }

  /** Remove one endpoint's rules; absent is success. */
  async remove(key: string, signal?: AbortSignal): Promise<void> {
    this.applied.delete(key);
    for (let attempt = 0; ; attempt++) {
      const inet = await this.listTable('inet', signal);
      const bridge = await this.listTable('bridge', signal);
      const present = presentOf(key, inet, bridge);
      const cmds = removalCommands(key, present);
      if (cmds.length === 0) return;
      try {
        await this.transact(cmds, 'removeEndpoint', `endpoint ${key}`, signal);
        this.logger?.info({ endpoint: key }, 'endpoint rules removed');
        return;
      } catch (e) {
        if (attempt === 0 && e instanceof KernelError && e.errno === 'ENOENT') continue;
        throw e;
      }
    }
  }

  /**
   * Removes the rules of endpoints not in `keep` (an app dropped while edgenet was down): found by the tags in
   * their chain names. Returns the tags removed.
   */
  async sweep(keep: readonly string[], signal?: AbortSignal): Promise<string[]> {
    const inet = await this.listTable('inet', signal);
    const bridge = await this.listTable('bridge', signal);
    const wanted = new Set(keep.map(endpointTag));
    const tags = new Set<string>();
    for (const c of inet.chains) {
      const m = /^ep-([0-9a-f]{10})-/.exec(c);
      if (m?.[1]) tags.add(m[1]);
    }
    for (const c of bridge.chains) {
      const m = /^as-([0-9a-f]{10})$/.exec(c);
      if (m?.[1]) tags.add(m[1]);
    }
    const orphans = [...tags].filter((t) => !wanted.has(t)).sort();
    const cmds = orphans.flatMap((t) => removalCommands(t, presentOf(t, inet, bridge, true), new Set(), true));
    if (cmds.length > 0) await this.transact(cmds, 'sweepEndpoints', orphans.map((t) => `endpoint ${t}`).join(', '), signal);
    return orphans;
  }

  /** Read every counter of ours (one listing); status then answers from it. */
  async refreshCounters(signal?: AbortSignal): Promise<void> {
    if (this.applied.size === 0) return;
    const r = await this.run(['-j', 'list', 'counters'], undefined, signal);
    if (r.code !== 0) return;
    const packets = new Map<string, number>();
    const doc: unknown = JSON.parse(r.stdout);
    for (const item of isObj(doc) && Array.isArray(doc.nftables) ? doc.nftables : []) {
      const c = isObj(item) ? item.counter : undefined;
      if (isObj(c) && c.table === FIREWALL_TABLE && typeof c.name === 'string') packets.set(`${String(c.family)}:${c.name}`, typeof c.packets === 'number' ? c.packets : 0);
    }
    this.packets = packets;
  }

  private notePackets(inet: TableItems, bridge: TableItems): void {
    const packets = new Map<string, number>();
    for (const [n, p] of inet.counters) packets.set(`inet:${n}`, p);
    for (const [n, p] of bridge.counters) packets.set(`bridge:${n}`, p);
    this.packets = packets;
  }

  /** Rules with packet counts of the last read, per endpoint key. */
  status(key: string): AclRuleStatus[] | undefined {
    const a = this.applied.get(key);
    if (!a) return undefined;
    return a.rules.map((r) => ({ rule: r.rule, action: r.action, packets: this.packets.get(`${r.family}:${r.counter}`) ?? 0 }));
  }

  forget(): void {
    this.applied.clear();
  }
}
