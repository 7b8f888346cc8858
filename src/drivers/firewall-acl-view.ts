// What the kernel holds of the endpoint rules (firewall-acl.ts layout), kept in memory by firewall-acl-nft.ts:
// built from one listing of `inet edgenet` and `bridge edgenet` (at start, after an error), then moved forward by
// the transactions edgenet itself writes (apply), so an endpoint's change costs no listing of the whole table.
// Indexed by endpoint tag: what one endpoint has is found without scanning everyone's objects.
import { FIREWALL_TABLE, canonicalJson } from './firewall.ts';
import { PORT_FORWARD_CHAIN } from './firewall-base.ts';
import { ACL_BASE, ACL_MAPS, SPOOF_CHAIN, SPOOF_SETS, isSpoofSet, spoofElementId } from './firewall-acl.ts';
import type { EndpointPresent, Json, NftCmd, SpoofElement, SpoofSet } from './firewall-acl.ts';

type Family = 'inet' | 'bridge';
type Obj = { [key: string]: Json };
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** One endpoint's objects (by its tag). */
interface TagObjects {
  inetChains: Set<string>;
  inetCounters: Set<string>;
  inetSets: Set<string>;
  /** `<family>:<map>:<canonical key>` → element */
  elements: Map<string, { map: string; key: Json; family: Family }>;
  /** NAT rules (acl-dnat / acl-snat) commented `edgenet ep=<tag>`, by handle */
  natRules: Map<number, string>;
  /** anti-spoofing set elements commented with the tag, by spoofElementId */
  spoof: Map<string, SpoofElement>;
  bridgeChain: boolean;
  bridgeCounter: boolean;
}

interface RuleEntry {
  handle: number;
  comment?: string;
}

/** The endpoint tag an object name carries (`ep-<tag>-…` in inet, `as-<tag>` in bridge). */
export function tagOfName(name: string, family: Family): string | undefined {
  const m = family === 'inet' ? /^ep-([0-9a-f]{10})-/.exec(name) : /^as-([0-9a-f]{10})$/.exec(name);
  return m?.[1];
}

/**
 * Does this transaction add a rule whose handle the view must learn (nft's echo, which costs a listing of the whole
 * ruleset inside nft: ~10x the transaction at a few hundred endpoints)? Only rules in shared chains (base chains, the
 * NAT rules of acl-dnat/acl-snat) are ever deleted by handle or counted; a rule in an endpoint's own chain goes with
 * its chain.
 */
export function needsEcho(cmds: readonly NftCmd[]): boolean {
  for (const cmd of cmds) {
    for (const [verb, body] of Object.entries(cmd)) {
      if (verb !== 'add' && verb !== 'insert') continue;
      const rule = body.rule;
      if (!rule) continue;
      const family = rule.family === 'bridge' ? 'bridge' : 'inet';
      if (typeof rule.chain !== 'string' || tagOfName(rule.chain, family) === undefined) return true;
    }
  }
  return false;
}

/**
 * A set element as nft lists it (or edgenet writes it): a bare value, or `{elem: {val, comment, counter}}`; `packets`
 * of its counter (0 without one).
 */
export function setElementOf(e: Json): { val: Json; comment: string; packets: number } | undefined {
  const inner = isObj(e) && isObj(e.elem) ? e.elem : undefined;
  const val = inner ? inner.val : e;
  if (val === undefined) return undefined;
  const c = inner?.counter;
  return { val, comment: inner && typeof inner.comment === 'string' ? inner.comment : '', packets: isObj(c) && typeof c.packets === 'number' ? c.packets : 0 };
}

const tagOfComment = (comment: string | undefined): string | undefined => /^edgenet ep=([0-9a-f]{10})(?: |$)/.exec(comment ?? '')?.[1];

export class AclTableView {
  private readonly chains: Record<Family, Set<string>> = { inet: new Set(), bridge: new Set() };
  private readonly maps: Record<Family, Set<string>> = { inet: new Set(), bridge: new Set() };
  /** the anti-spoofing sets there are */
  private readonly spoofSets = new Set<SpoofSet>();
  /** spoofElementId → the tag whose element it is */
  private readonly spoofOwner = new Map<string, string>();
  /** `<family>:<chain>` → rules */
  private readonly rules = new Map<string, Map<number, RuleEntry>>();
  private readonly byTag = new Map<string, TagObjects>();
  /** counter packets of the listing (`<family>:<name>`) */
  readonly packets = new Map<string, number>();
  /** false once a write could not be followed exactly (a rule whose handle is unknown): list again before use */
  exact = true;
  /** handles given to rules of endpoint chains written without echo (negative: never a kernel handle) */
  private unechoed = 0;

  /** From `nft -j list table inet edgenet` and `… bridge edgenet` (undefined: the table is absent). */
  static fromListings(inet: string | undefined, bridge: string | undefined): AclTableView {
    const view = new AclTableView();
    if (inet !== undefined) view.load(inet, 'inet');
    if (bridge !== undefined) view.load(bridge, 'bridge');
    return view;
  }

  private tag(tag: string): TagObjects {
    let t = this.byTag.get(tag);
    if (!t) {
      t = { inetChains: new Set(), inetCounters: new Set(), inetSets: new Set(), elements: new Map(), natRules: new Map(), spoof: new Map(), bridgeChain: false, bridgeCounter: false };
      this.byTag.set(tag, t);
    }
    return t;
  }

  private load(stdout: string, family: Family): void {
    const doc: unknown = JSON.parse(stdout);
    const items = isObj(doc) && Array.isArray(doc.nftables) ? doc.nftables : [];
    const mine = (o: Json | undefined): o is Obj => isObj(o) && o.family === family && o.table === FIREWALL_TABLE && typeof o.name === 'string';
    for (const item of items) {
      if (!isObj(item)) continue;
      if (mine(item.chain)) this.addChain(family, String(item.chain.name));
      if (mine(item.counter)) {
        const name = String(item.counter.name);
        this.addCounter(family, name);
        this.packets.set(`${family}:${name}`, typeof item.counter.packets === 'number' ? item.counter.packets : 0);
      }
      if (mine(item.set)) {
        const name = String(item.set.name);
        this.addSet(family, name);
        if (family === 'bridge' && isSpoofSet(name)) for (const e of Array.isArray(item.set.elem) ? item.set.elem : []) this.loadSpoofElement(name, e);
      }
      if (mine(item.map)) {
        const name = String(item.map.name);
        this.maps[family].add(name);
        for (const e of Array.isArray(item.map.elem) ? item.map.elem : []) this.addElement(family, name, e);
      }
      const rule = item.rule;
      if (isObj(rule) && rule.family === family && rule.table === FIREWALL_TABLE && typeof rule.chain === 'string' && typeof rule.handle === 'number') {
        this.addRule(family, rule.chain, rule.handle, typeof rule.comment === 'string' ? rule.comment : undefined);
      }
    }
  }

  // ---- the model ----

  private addChain(family: Family, name: string): void {
    this.chains[family].add(name);
    const tag = tagOfName(name, family);
    if (tag === undefined) return;
    if (family === 'inet') this.tag(tag).inetChains.add(name);
    else this.tag(tag).bridgeChain = true;
  }

  private deleteChain(family: Family, name: string): void {
    this.flushChain(family, name);
    this.chains[family].delete(name);
    this.rules.delete(`${family}:${name}`);
    const tag = tagOfName(name, family);
    const t = tag === undefined ? undefined : this.byTag.get(tag);
    if (!t) return;
    if (family === 'inet') t.inetChains.delete(name);
    else t.bridgeChain = false;
  }

  private flushChain(family: Family, name: string): void {
    const rules = this.rules.get(`${family}:${name}`);
    if (!rules) return;
    for (const r of rules.values()) this.untagRule(family, r);
    rules.clear();
  }

  private addCounter(family: Family, name: string): void {
    const tag = tagOfName(name, family);
    if (tag === undefined) return;
    if (family === 'inet') this.tag(tag).inetCounters.add(name);
    else this.tag(tag).bridgeCounter = true;
  }

  private deleteCounter(family: Family, name: string): void {
    const tag = tagOfName(name, family);
    const t = tag === undefined ? undefined : this.byTag.get(tag);
    if (!t) return;
    if (family === 'inet') t.inetCounters.delete(name);
    else t.bridgeCounter = false;
  }

  private loadSpoofElement(set: SpoofSet, e: Json): void {
    const el = setElementOf(e);
    if (!el) return;
    if (set === SPOOF_SETS.drops && typeof el.val === 'string') this.packets.set(`spoof:${el.val}`, el.packets);
    this.addSpoofElement({ set, val: el.val, comment: el.comment });
  }

  private addSpoofElement(e: SpoofElement): void {
    const tag = tagOfComment(e.comment);
    if (tag === undefined) return;
    const id = spoofElementId(e);
    const owner = this.spoofOwner.get(id);
    // `add` of an element that is there changes nothing (its comment stays)
    if (owner !== undefined) return;
    this.spoofOwner.set(id, tag);
    this.tag(tag).spoof.set(id, e);
  }

  private deleteSpoofElement(set: SpoofSet, val: Json): void {
    const id = spoofElementId({ set, val });
    const tag = this.spoofOwner.get(id);
    if (tag === undefined) return;
    this.spoofOwner.delete(id);
    this.byTag.get(tag)?.spoof.delete(id);
  }

  private addSet(family: Family, name: string): void {
    if (family === 'bridge' && isSpoofSet(name)) this.spoofSets.add(name);
    const tag = tagOfName(name, family);
    if (tag !== undefined && family === 'inet') this.tag(tag).inetSets.add(name);
  }

  private deleteSet(family: Family, name: string): void {
    if (family === 'bridge' && isSpoofSet(name)) {
      this.spoofSets.delete(name);
      for (const [id, tag] of this.spoofOwner) {
        if (!id.startsWith(`${name}:`)) continue;
        this.spoofOwner.delete(id);
        this.byTag.get(tag)?.spoof.delete(id);
      }
    }
    const tag = tagOfName(name, family);
    if (tag !== undefined && family === 'inet') this.byTag.get(tag)?.inetSets.delete(name);
  }

  /** A verdict map element `[key, {jump: {target}}]` of an endpoint's chain. */
  private addElement(family: Family, map: string, e: Json): void {
    if (!Array.isArray(e) || e.length !== 2) return;
    const [key, verdict] = e as [Json, Json];
    const target = isObj(verdict) && isObj(verdict.jump) ? verdict.jump.target : undefined;
    if (key === undefined || typeof target !== 'string') return;
    const tag = tagOfName(target, family);
    if (tag === undefined) return;
    this.tag(tag).elements.set(`${family}:${map}:${canonicalJson(key)}`, { map, key, family });
  }

  private deleteElement(family: Family, map: string, key: Json): void {
    const id = `${family}:${map}:${canonicalJson(key)}`;
    for (const t of this.byTag.values()) if (t.elements.delete(id)) return;
  }

  private addRule(family: Family, chain: string, handle: number, comment: string | undefined): void {
    const id = `${family}:${chain}`;
    let rules = this.rules.get(id);
    if (!rules) this.rules.set(id, (rules = new Map()));
    const entry: RuleEntry = { handle, ...(comment !== undefined && { comment }) };
    rules.set(handle, entry);
    if (family === 'inet' && (chain === ACL_BASE.dnat || chain === ACL_BASE.snat)) {
      const tag = tagOfComment(comment);
      if (tag !== undefined) this.tag(tag).natRules.set(handle, chain);
    }
  }

  private untagRule(family: Family, r: RuleEntry): void {
    if (family !== 'inet') return;
    const tag = tagOfComment(r.comment);
    if (tag !== undefined) this.byTag.get(tag)?.natRules.delete(r.handle);
  }

  private deleteRule(family: Family, chain: string, handle: number): void {
    const rules = this.rules.get(`${family}:${chain}`);
    const r = rules?.get(handle);
    if (!rules || !r) return;
    this.untagRule(family, r);
    rules.delete(handle);
  }

  /**
   * Follows a transaction that succeeded. `handles`: the handles of its added rules in order (`nft --echo`);
   * without them (or a count that does not match) the view is no longer exact. `echoed: false`: written without
   * echo (needsEcho() said no): the rules of endpoint chains get handles of their own, known to be unknown.
   */
  apply(cmds: readonly NftCmd[], handles: readonly number[] | undefined, echoed = true): void {
    let next = 0;
    const famOf = (o: Obj): Family | undefined => (o.family === 'inet' || o.family === 'bridge' ? o.family : undefined);
    for (const cmd of cmds) {
      for (const [verb, body] of Object.entries(cmd)) {
        for (const [kind, o] of Object.entries(body)) {
          if (kind === 'table') {
            if (verb === 'delete') this.clearFamily(famOf(o));
            continue;
          }
          const family = famOf(o);
          if (!family || o.table !== FIREWALL_TABLE) continue;
          const name = typeof o.name === 'string' ? o.name : '';
          if (kind === 'chain') {
            if (verb === 'add') this.addChain(family, name);
            else if (verb === 'flush') this.flushChain(family, name);
            else if (verb === 'delete') this.deleteChain(family, name);
          } else if (kind === 'rule' && typeof o.chain === 'string') {
            if (verb === 'add' || verb === 'insert') {
              const handle = !echoed && tagOfName(o.chain, family) !== undefined ? --this.unechoed : handles?.[next++];
              if (handle === undefined) this.exact = false;
              else this.addRule(family, o.chain, handle, typeof o.comment === 'string' ? o.comment : undefined);
            } else if (verb === 'delete' && typeof o.handle === 'number') this.deleteRule(family, o.chain, o.handle);
          } else if (kind === 'counter') {
            if (verb === 'add') this.addCounter(family, name);
            else if (verb === 'delete') this.deleteCounter(family, name);
          } else if (kind === 'set') {
            if (verb === 'add') this.addSet(family, name);
            else if (verb === 'delete') this.deleteSet(family, name);
          } else if (kind === 'map') {
            if (verb === 'add') this.maps[family].add(name);
            else if (verb === 'delete') this.maps[family].delete(name);
          } else if (kind === 'element' && family === 'bridge' && isSpoofSet(name) && Array.isArray(o.elem)) {
            for (const e of o.elem) {
              const el = verb === 'add' ? setElementOf(e) : undefined;
              if (el) this.addSpoofElement({ set: name, val: el.val, comment: el.comment });
              else if (verb === 'delete') this.deleteSpoofElement(name, e);
            }
          } else if (kind === 'element' && this.maps[family].has(name) && Array.isArray(o.elem)) {
            for (const e of o.elem) {
              if (verb === 'add') this.addElement(family, name, e);
              else if (verb === 'delete') this.deleteElement(family, name, e);
            }
          }
        }
      }
    }
    if (handles !== undefined && next !== handles.length) this.exact = false;
  }

  private clearFamily(family: Family | undefined): void {
    if (!family) return;
    this.chains[family].clear();
    this.maps[family].clear();
    if (family === 'bridge') {
      this.spoofSets.clear();
      this.spoofOwner.clear();
    }
    for (const id of [...this.rules.keys()]) if (id.startsWith(`${family}:`)) this.rules.delete(id);
    for (const [tag, t] of this.byTag) {
      if (family === 'inet') {
        t.inetChains.clear();
        t.inetCounters.clear();
        t.inetSets.clear();
        t.natRules.clear();
      } else {
        t.bridgeChain = false;
        t.bridgeCounter = false;
        t.spoof.clear();
      }
      for (const [id, e] of t.elements) if (e.family === family) t.elements.delete(id);
      if (this.isEmpty(t)) this.byTag.delete(tag);
    }
  }

  private isEmpty(t: TagObjects): boolean {
    return t.inetChains.size + t.inetCounters.size + t.inetSets.size + t.elements.size + t.natRules.size + t.spoof.size === 0 && !t.bridgeChain && !t.bridgeCounter;
  }

  // ---- questions ----

  /** What the kernel holds of the endpoint with this tag. */
  present(tag: string): EndpointPresent {
    const t = this.byTag.get(tag);
    if (!t) return { inetChains: [], inetCounters: [], inetSets: [], elements: [], natRules: [], spoofElements: [], bridgeChain: false, bridgeCounter: false };
    return {
      inetChains: [...t.inetChains],
      inetCounters: [...t.inetCounters],
      inetSets: [...t.inetSets],
      elements: [...t.elements.values()],
      natRules: [...t.natRules].map(([handle, chain]) => ({ chain, handle })),
      spoofElements: [...t.spoof.values()],
      bridgeChain: t.bridgeChain,
      bridgeCounter: t.bridgeCounter,
    };
  }

  hasChain(family: Family, name: string): boolean {
    return this.chains[family].has(name);
  }

  /** Tags of every endpoint that has objects. */
  tags(): string[] {
    return [...this.byTag].filter(([, t]) => !this.isEmpty(t)).map(([tag]) => tag);
  }

  /**
   * The verdict map `spoof` of the layout before the anti-spoofing sets is there and no longer used (every endpoint's
   * element of it removed): it can go. Scans only while that map exists (the first converge after an upgrade).
   */
  legacySpoofMapUnused(): boolean {
    if (!this.maps.bridge.has(ACL_MAPS.spoof)) return false;
    for (const t of this.byTag.values()) for (const e of t.elements.values()) if (e.family === 'bridge') return false;
    return true;
  }

  /** The ACL layout's base chains, maps and jump rules are all there, as aclPlumbing() writes them. */
  plumbingIntact(): boolean {
    const rulesIn = (family: Family, chain: string): number => this.rules.get(`${family}:${chain}`)?.size ?? 0;
    return (
      [ACL_BASE.forward, ACL_BASE.input, ACL_BASE.dnat, ACL_BASE.snat, PORT_FORWARD_CHAIN].every((c) => this.chains.inet.has(c)) &&
      [ACL_MAPS.out, ACL_MAPS.in, ACL_MAPS.gw].every((m) => this.maps.inet.has(m)) &&
      rulesIn('inet', ACL_BASE.forward) === 2 &&
      rulesIn('inet', ACL_BASE.input) === 1 &&
      rulesIn('inet', PORT_FORWARD_CHAIN) === 1 &&
      this.chains.bridge.has(ACL_BASE.spoof) &&
      this.chains.bridge.has(SPOOF_CHAIN) &&
      Object.values(SPOOF_SETS).every((s) => this.spoofSets.has(s)) &&
      rulesIn('bridge', ACL_BASE.spoof) === 1 &&
      rulesIn('bridge', SPOOF_CHAIN) === 5
    );
  }
}
