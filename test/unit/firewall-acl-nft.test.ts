// The nft driver of endpoint rules against an emulated nft (the JSON subset edgenet writes): requests of one turn
// are one transaction, the table is listed once (not per endpoint), an unchanged endpoint costs nothing, a table
// changed behind our back is listed again, and one bad endpoint in a batch fails alone.
import { describe, expect, it } from 'vitest';
import { NftEndpointRules } from '../../src/drivers/firewall-acl-nft.ts';
import { endpointNames, type EndpointRules, type Json } from '../../src/drivers/firewall-acl.ts';
import { canonicalJson } from '../../src/drivers/firewall.ts';
import { serialQueue } from '../../src/runtime/serial-queue.ts';
import { WriteCounter } from '../../src/drivers/write-counter.ts';

type Obj = { [key: string]: Json };
type Family = 'inet' | 'bridge';
interface Table {
  chains: Map<string, { handle: number; comment?: string; chain: string }[]>;
  counters: Set<string>;
  /** set → canonical value → the element as listed */
  sets: Map<string, Map<string, Json>>;
  maps: Map<string, Map<string, Json>>;
}

/** Just enough of nft -j: tables, chains, rules (with handles), counters, sets and their elements, verdict maps; atomic transactions. */
class FakeNft {
  tables = new Map<Family, Table>();
  private handle = 10;
  transactions: Obj[][] = [];
  /** per transaction: was nft asked to echo (-e -a)? */
  echoed: boolean[] = [];
  lists = 0;
  counterLists = 0;
  /** the next transaction fails with this stderr */
  failNext: string | undefined;
  /** transactions naming this string fail */
  poison: string | undefined;
  /** packets dropped by anti-spoofing, per interface (what `list set … as-drops` reports) */
  drops = new Map<string, number>();

  run = async (args: string[], input: string | undefined): Promise<{ code: number; stdout: string; stderr: string }> => {
    await Promise.resolve();
    if (args.includes('list')) {
      if (args.includes('counters')) {
        this.counterLists++;
        return { code: 0, stdout: '{"nftables":[]}', stderr: '' };
      }
      if (args.includes('set')) {
        const [family, , name] = args.slice(args.indexOf('set') + 1) as [Family, string, string];
        const elems = this.tables.get(family)?.sets.get(name);
        if (!elems) return { code: 1, stdout: '', stderr: 'Error: No such file or directory' };
        const elem = [...elems.values()].map((e) => ({ elem: { ...((e as Obj).elem as Obj), counter: { packets: this.drops.get(String(((e as Obj).elem as Obj).val)) ?? 0, bytes: 0 } } }));
        return { code: 0, stdout: JSON.stringify({ nftables: [{ set: { family, table: 'edgenet', name, elem } }] }), stderr: '' };
      }
      this.lists++;
      const family = args[args.indexOf('table') + 1] as Family;
      const t = this.tables.get(family);
      if (!t) return { code: 1, stdout: '', stderr: `Error: No such file or directory\nlist table ${family} edgenet\n` };
      return { code: 0, stdout: JSON.stringify({ nftables: this.listing(family, t) }), stderr: '' };
    }
    const cmds = (JSON.parse(input ?? '{}') as { nftables: Obj[] }).nftables;
    if (this.failNext !== undefined || (this.poison !== undefined && input?.includes(this.poison))) {
      const stderr = this.failNext ?? 'Error: Could not process rule: Invalid argument';
      this.failNext = undefined;
      return { code: 1, stdout: '', stderr };
    }
    const before = structuredClone(this.tables);
    const handle = this.handle;
    try {
      const echo = cmds.flatMap((c) => this.apply(c));
      this.transactions.push(cmds);
      const echoing = args.includes('-e');
      this.echoed.push(echoing);
      return { code: 0, stdout: echoing ? JSON.stringify({ nftables: echo }) : '', stderr: '' };
    } catch (e) {
      this.tables = before;
      this.handle = handle;
      return { code: 1, stdout: '', stderr: `Error: Could not process rule: ${(e as Error).message}` };
    }
  };

  private listing(family: Family, t: Table): Obj[] {
    const base = { family, table: 'edgenet' };
    const out: Obj[] = [{ table: { family, name: 'edgenet' } }];
    for (const name of t.counters) out.push({ counter: { ...base, name, packets: 0, bytes: 0 } });
    for (const [name, elems] of t.sets) out.push({ set: { ...base, name, type: 'ipv4_addr', ...(elems.size > 0 && { elem: [...elems.values()] }) } });
    for (const [name, elems] of t.maps) out.push({ map: { ...base, name, map: 'verdict', ...(elems.size > 0 && { elem: [...elems.values()] }) } });
    for (const [name, rules] of t.chains) {
      out.push({ chain: { ...base, name } });
      for (const r of rules) out.push({ rule: { ...base, chain: name, handle: r.handle, ...(r.comment !== undefined && { comment: r.comment }), expr: [] } });
    }
    return out;
  }

  private apply(cmd: Obj): Obj[] {
    const [verb, body] = Object.entries(cmd)[0] as [string, Obj];
    const [kind, o] = Object.entries(body)[0] as [string, Obj];
    const family = o.family as Family;
    if (kind === 'table') {
      if (verb === 'add' && !this.tables.has(family)) this.tables.set(family, { chains: new Map(), counters: new Set(), sets: new Map(), maps: new Map() });
      if (verb === 'delete') this.tables.delete(family);
      return [];
    }
    const t = this.tables.get(family);
    if (!t) throw new Error('No such file or directory');
    const name = String(o.name ?? '');
    const missing = (): never => {
      throw new Error('No such file or directory');
    };
    if (kind === 'chain') {
      if (verb === 'add' && !t.chains.has(name)) t.chains.set(name, []);
      if (verb === 'flush') (t.chains.get(name) ?? missing()).length = 0;
      if (verb === 'delete') {
        if (!t.chains.has(name)) missing();
        t.chains.delete(name);
      }
    } else if (kind === 'rule') {
      const rules = t.chains.get(String(o.chain)) ?? missing();
      if (verb === 'add' || verb === 'insert') {
        const handle = ++this.handle;
        rules.push({ handle, chain: String(o.chain), ...(typeof o.comment === 'string' && { comment: o.comment }) });
        return [{ [verb]: { rule: { ...o, handle } } }];
      }
      const i = rules.findIndex((r) => r.handle === o.handle);
      if (i < 0) missing();
      rules.splice(i, 1);
    } else if (kind === 'counter') {
      if (verb === 'add') t.counters.add(name);
      if (verb === 'delete' && !t.counters.delete(name)) missing();
    } else if (kind === 'set') {
      if (verb === 'add' && !t.sets.has(name)) t.sets.set(name, new Map());
      if (verb === 'delete' && !t.sets.delete(name)) missing();
    } else if (kind === 'map') {
      if (verb === 'add' && !t.maps.has(name)) t.maps.set(name, new Map());
      if (verb === 'delete' && !t.maps.delete(name)) missing();
    } else if (kind === 'element') {
      const map = t.maps.get(name);
      if (!map) {
        const set = t.sets.get(name) ?? missing();
        for (const e of o.elem as Json[]) {
          const inner = e !== null && typeof e === 'object' && !Array.isArray(e) && 'elem' in e ? (e.elem as Obj) : undefined;
          const val = inner ? (inner.val as Json) : e;
          // an element that is there stays as it is (its comment too), as in nft
          if (verb === 'add' && !set.has(canonicalJson(val))) set.set(canonicalJson(val), { elem: { val, ...(inner && { comment: inner.comment as Json }) } });
          else if (verb === 'delete' && !set.delete(canonicalJson(val))) missing();
        }
        return [];
      }
      for (const e of o.elem as Json[]) {
        if (verb === 'add') map.set(canonicalJson((e as Json[])[0]), e);
        else if (!map.delete(canonicalJson(e))) missing();
      }
    }
    return [];
  }
}

/** How many interfaces anti-spoofing guards (elements of as-guarded). */
const guarded = (nft: FakeNft): number | undefined => nft.tables.get('bridge')?.sets.get('as-guarded')?.size;

function ep(i: number, over: Partial<EndpointRules> = {}): EndpointRules {
  return {
    key: `app${i}/lan`,
    app: `app${i}`,
    network: 'lan',
    bridge: 'enbr-lan',
    hostIfname: `tap${i}`,
    mac: `02:00:00:00:01:${(i % 256).toString(16).padStart(2, '0')}`,
    ip: `10.50.0.${10 + i}`,
    gateway: '10.50.0.1',
    subnet: '10.50.0.0/24',
    ports: [{ name: 'up0', ifname: 'eth1' }],
    antiSpoof: true,
    exempt: [],
    staticHosts: [],
    ...over,
  };
}

function setup(): { nft: FakeNft; rules: NftEndpointRules; writes: WriteCounter } {
  const nft = new FakeNft();
  const writes = new WriteCounter();
  const serial = serialQueue();
  return { nft, rules: new NftEndpointRules(nft.run, writes, undefined, (fn) => serial(fn)), writes };
}

const portmap = { action: 'portmap' as const, match: { protocol: 'tcp' as const, lport: 8080 }, appPort: 80 };
const allow = { action: 'allow' as const, match: { protocol: 'tcp' as const, fport: 80 } };

describe('endpoint rules on nft (emulated)', () => {
  it('a converge of 50 endpoints: one listing, one transaction; again: nothing', async () => {
    const { nft, rules, writes } = setup();
    await Promise.all(Array.from({ length: 50 }, (_, i) => rules.ensure(ep(i, i % 5 === 0 ? { acls: [allow, portmap] } : {}))));
    expect(nft.transactions).toHaveLength(1);
    expect(nft.lists).toBe(2); // inet and bridge, once
    expect(writes.snapshot().nft).toBe(1);
    expect(guarded(nft)).toBe(50);
    expect(nft.tables.get('inet')?.chains.has(endpointNames('app5/lan').out)).toBe(true);
    await Promise.all(Array.from({ length: 50 }, (_, i) => rules.ensure(ep(i, i % 5 === 0 ? { acls: [allow, portmap] } : {}))));
    expect(nft.transactions).toHaveLength(1);
    expect(nft.lists).toBe(2);
  });

  it('one more endpoint later: one transaction, no listing; its removal: one transaction taking everything of it', async () => {
    const { nft, rules } = setup();
    await Promise.all([rules.ensure(ep(1)), rules.ensure(ep(2))]);
    const lists = nft.lists;
    await rules.ensure(ep(3, { acls: [allow, portmap] }));
    expect(nft.transactions).toHaveLength(2);
    expect(nft.lists).toBe(lists);
    const natRules = (): number => (nft.tables.get('inet')?.chains.get('acl-dnat')?.length ?? 0) + (nft.tables.get('inet')?.chains.get('acl-snat')?.length ?? 0);
    expect(natRules()).toBeGreaterThan(0);
    // the NAT rules are removed by the handles the transaction echoed: no listing
    await rules.remove('app3/lan');
    expect(nft.lists).toBe(lists);
    expect(natRules()).toBe(0);
    const inet = nft.tables.get('inet');
    expect([...(inet?.chains.keys() ?? [])].filter((c) => c.startsWith('ep-'))).toEqual([]);
    expect([...(inet?.counters ?? [])].filter((c) => c.startsWith('ep-'))).toEqual([]);
    expect(guarded(nft)).toBe(2);
    expect(rules.status('app3/lan')).toBeUndefined();
    expect(rules.status('app1/lan')).toEqual([{ rule: 'anti-spoofing', action: 'drop', packets: 0 }]);
  });

  it('rules only in the endpoint\'s own chains are written without echo (nft lists the whole ruleset to echo); NAT rules with it', async () => {
    const { nft, rules } = setup();
    await rules.ensure(ep(1));
    // the first write makes the base chains (rules counted by handle): echoed
    expect(nft.echoed).toEqual([true]);
    const lists = nft.lists;
    await rules.ensure(ep(2));
    await rules.ensure(ep(3, { acls: [allow] }));
    expect(nft.echoed).toEqual([true, false, false]);
    // a port forward adds rules to the shared acl-dnat/acl-snat: their handles are needed to remove them
    await rules.ensure(ep(4, { acls: [allow, portmap] }));
    expect(nft.echoed.at(-1)).toBe(true);
    // everything is followed without a listing: changes and removals find what is there
    await rules.ensure(ep(2, { mac: '02:00:00:00:09:09' }));
    await Promise.all([2, 3, 4].map((i) => rules.remove(`app${i}/lan`)));
    expect(nft.lists).toBe(lists);
    expect(guarded(nft)).toBe(1);
    expect([...(nft.tables.get('bridge')?.chains.keys() ?? [])].sort()).toEqual(['as-check', 'spoof']);
    expect([...(nft.tables.get('bridge')?.sets.get('as-mac')?.keys() ?? [])]).toEqual([canonicalJson({ concat: ['tap1', '02:00:00:00:01:01'] })]);
    expect([...(nft.tables.get('inet')?.chains.keys() ?? [])].filter((c) => c.startsWith('ep-'))).toEqual([]);
    expect(nft.tables.get('inet')?.chains.get('acl-dnat')).toHaveLength(0);
    // a restarted driver still adopts rules written without echo (the listing has their handles)
    const again = new NftEndpointRules(nft.run, new WriteCounter());
    const n = nft.transactions.length;
    await again.ensure(ep(1));
    expect(nft.transactions).toHaveLength(n);
  });

  it('a rule change rewrites that endpoint only, in place', async () => {
    const { nft, rules } = setup();
    await Promise.all([rules.ensure(ep(1, { acls: [allow] })), rules.ensure(ep(2, { acls: [allow] }))]);
    await rules.ensure(ep(1, { acls: [allow, portmap] }));
    const last = JSON.stringify(nft.transactions.at(-1));
    expect(last).toContain(endpointNames('app1/lan').out);
    expect(last).not.toContain(endpointNames('app2/lan').out);
    expect(nft.tables.get('inet')?.chains.get('acl-dnat')?.length).toBeGreaterThan(0);
  });

  it('the table deleted behind our back: the next write fails, lists again and succeeds (plumbing re-made)', async () => {
    const { nft, rules } = setup();
    await rules.ensure(ep(1));
    nft.tables.clear();
    const lists = nft.lists;
    await rules.ensure(ep(2));
    expect(nft.lists).toBe(lists + 2);
    expect(nft.tables.get('bridge')?.chains.has('spoof')).toBe(true);
    expect(guarded(nft)).toBe(1);
  });

  it('a restarted driver adopts intact rules carrying their spec: no write', async () => {
    const { nft, rules } = setup();
    await Promise.all([1, 2, 3].map((i) => rules.ensure(ep(i, { acls: [allow] }))));
    const again = new NftEndpointRules(nft.run, new WriteCounter());
    await Promise.all([1, 2, 3].map((i) => again.ensure(ep(i, { acls: [allow] }))));
    expect(nft.transactions).toHaveLength(1);
    // a changed spec is rewritten
    await again.ensure(ep(2, { acls: [allow, portmap] }));
    expect(nft.transactions).toHaveLength(2);
  });

  it('one endpoint the kernel refuses fails alone; the others of its batch are written', async () => {
    const { nft, rules } = setup();
    nft.poison = 'tap7';
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => rules.ensure(ep(i))));
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(results[7]?.status).toBe('rejected');
    expect(String((results[7] as PromiseRejectedResult).reason)).toContain('app7/lan');
    expect(guarded(nft)).toBe(9);
  });

  it('the sweep removes endpoints not kept, in one transaction', async () => {
    const { nft, rules } = setup();
    await Promise.all([1, 2, 3].map((i) => rules.ensure(ep(i, { acls: [allow] }))));
    const fresh = new NftEndpointRules(nft.run, new WriteCounter());
    const removed = await fresh.sweep(['app2/lan']);
    expect(removed).toHaveLength(2);
    expect(nft.transactions).toHaveLength(2);
    expect(guarded(nft)).toBe(1);
    expect([...(nft.tables.get('inet')?.chains.keys() ?? [])].filter((c) => c.startsWith('ep-'))).toHaveLength(3);
  });

  it('counters are listed only when someone read them (status, metrics) since the last listing', async () => {
    const { nft, rules } = setup();
    await rules.ensure(ep(1, { acls: [allow] }));
    await rules.refreshCounters();
    expect(nft.counterLists).toBe(0);
    expect(rules.status('app1/lan')?.length).toBeGreaterThan(0);
    await rules.refreshCounters();
    await rules.refreshCounters();
    expect(nft.counterLists).toBe(1);
  });

  it('anti-spoofing drops are read from the interface\'s element of as-drops, when someone asked', async () => {
    const { nft, rules } = setup();
    await rules.ensure(ep(1));
    nft.drops.set('tap1', 7);
    expect(rules.status('app1/lan')).toEqual([{ rule: 'anti-spoofing', action: 'drop', packets: 0 }]);
    await rules.refreshCounters();
    expect(rules.status('app1/lan')).toEqual([{ rule: 'anti-spoofing', action: 'drop', packets: 7 }]);
  });

  it('the layout before the sets (a chain, counter and map element per endpoint) is removed when the endpoint is written', async () => {
    const { nft, rules } = setup();
    const old = endpointNames('app1/lan').spoof;
    await nft.run(['-j', '-f', '-'], JSON.stringify({ nftables: [
      { add: { table: { family: 'bridge', name: 'edgenet' } } },
      { add: { map: { family: 'bridge', table: 'edgenet', name: 'spoof', type: 'ifname', map: 'verdict' } } },
      { add: { chain: { family: 'bridge', table: 'edgenet', name: old } } },
      { add: { counter: { family: 'bridge', table: 'edgenet', name: old } } },
      { add: { rule: { family: 'bridge', table: 'edgenet', chain: old, expr: [], comment: 'edgenet ep=x spec=y' } } },
      { add: { element: { family: 'bridge', table: 'edgenet', name: 'spoof', elem: [['tap1', { jump: { target: old } }]] } } },
    ] }));
    await rules.ensure(ep(1));
    const bridge = nft.tables.get('bridge');
    expect(bridge?.chains.has(old)).toBe(false);
    expect(bridge?.counters.has(old)).toBe(false);
    // its last element gone, the old verdict map goes too
    expect(bridge?.maps.has('spoof')).toBe(false);
    expect(guarded(nft)).toBe(1);
  });

  it('an aborted request is not written', async () => {
    const { nft, rules } = setup();
    const ac = new AbortController();
    const p = rules.ensure(ep(1), ac.signal);
    ac.abort(new Error('stopped'));
    await expect(p).rejects.toThrow('stopped');
    expect(nft.transactions).toHaveLength(0);
  });
});
