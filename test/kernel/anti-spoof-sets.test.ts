// Anti-spoofing as elements of shared sets (src/drivers/firewall-acl.ts) on the real kernel, through the endpoint
// rules driver: an upgrade from the chain-per-app layout removes what that layout left, a restarted driver adopts
// intact elements without a write, a removal takes exactly the app's elements, and the switch NI address learner
// (same table) takes only its own objects when the last switch NI goes. (The traffic it drops:
// test/kernel/acl.test.ts, app-gateway.test.ts.)
import { afterEach, expect, it } from 'vitest';
import { NftEndpointRules } from '../../src/drivers/firewall-acl-nft.ts';
import { endpointNames, endpointTag, type EndpointRules } from '../../src/drivers/firewall-acl.ts';
import { createNftRunner } from '../../src/drivers/nft-runner.ts';
import { WriteCounter } from '../../src/drivers/write-counter.ts';
import { NetnsPool, describeKernel, type Netns } from '../helpers/netns.ts';
import { runFixtureInNetns } from '../helpers/netns-child.ts';

const ep = (i: number, over: Partial<EndpointRules> = {}): EndpointRules => ({
  key: `app${i}/lan`,
  app: `app${i}`,
  network: 'lan',
  bridge: 'enbr-lan',
  hostIfname: `tap${i}`,
  mac: `02:00:00:00:01:0${i}`,
  ip: `10.50.0.1${i}`,
  gateway: '10.50.0.1',
  subnet: '10.50.0.0/24',
  ports: [],
  antiSpoof: true,
  exempt: [],
  staticHosts: [],
  ...over,
});

interface Listed {
  chains: string[];
  counters: string[];
  maps: string[];
  /** set → element values (JSON) */
  sets: Record<string, string[]>;
  rules: Record<string, number>;
}

async function listBridge(ns: Netns): Promise<Listed> {
  const doc = JSON.parse(await ns.must('nft', ['-j', 'list', 'table', 'bridge', 'edgenet'])) as { nftables: Record<string, Record<string, unknown>>[] };
  const out: Listed = { chains: [], counters: [], maps: [], sets: {}, rules: {} };
  for (const o of doc.nftables) {
    if (o.chain) out.chains.push(String(o.chain.name));
    if (o.counter) out.counters.push(String(o.counter.name));
    if (o.map) out.maps.push(String(o.map.name));
    if (o.set) out.sets[String(o.set.name)] = ((o.set.elem as { elem?: { val: unknown } }[] | undefined) ?? []).map((e) => JSON.stringify(e.elem?.val ?? e));
    if (o.rule) out.rules[String(o.rule.chain)] = (out.rules[String(o.rule.chain)] ?? 0) + 1;
  }
  out.chains.sort();
  return out;
}

describeKernel('anti-spoofing sets (kernel)', () => {
  const pool = new NetnsPool();
  afterEach(() => pool.removeAll());

  it('an upgrade removes the chain-per-app layout; a restart adopts without a write; a removal takes only that app\'s elements', async () => {
    const ns = await pool.add('asset');
    const old = endpointNames('app1/lan').spoof;
    // what an earlier version left: a chain, counter and verdict-map element per app
    await ns.must('nft', ['-f', '-'], {
      input: [
        'add table bridge edgenet',
        'add map bridge edgenet spoof { type ifname : verdict; }',
        'add chain bridge edgenet spoof { type filter hook prerouting priority -200; policy accept; }',
        'add rule bridge edgenet spoof iifname vmap @spoof',
        `add counter bridge edgenet ${old}`,
        `add chain bridge edgenet ${old}`,
        `add rule bridge edgenet ${old} ether saddr != 02:00:00:00:01:01 counter name ${old} drop comment "edgenet ep=${endpointTag('app1/lan')} spec=old"`,
        `add element bridge edgenet spoof { "tap1" : jump ${old} }`,
        '',
      ].join('\n'),
    });
    const runner = createNftRunner({ exec: ['ip', 'netns', 'exec', ns.name] });
    const writes = new WriteCounter();
    const rules = new NftEndpointRules(runner.run, writes);
    await Promise.all([rules.ensure(ep(1)), rules.ensure(ep(2, { exempt: ['192.168.5.0/24'] }))]);
    const after = await listBridge(ns);
    expect(after.chains).toEqual(['as-check', 'spoof']);
    expect(after.counters).toEqual([]);
    expect(after.maps).toEqual([]);
    expect(after.rules).toEqual({ spoof: 1, 'as-check': 5 });
    expect(after.sets['as-guarded']?.sort()).toEqual(['"tap1"', '"tap2"']);
    expect(after.sets['as-mac']).toHaveLength(2);
    expect(after.sets['as-exempt']).toEqual([JSON.stringify({ concat: ['tap2', { prefix: { addr: '192.168.5.0', len: 24 } }] })]);
    expect(after.sets['as-drops']?.sort()).toEqual(['"tap1"', '"tap2"']);

    // a restarted driver: one listing, no write
    const restarted = new WriteCounter();
    const again = new NftEndpointRules(runner.run, restarted);
    await Promise.all([again.ensure(ep(1)), again.ensure(ep(2, { exempt: ['192.168.5.0/24'] }))]);
    expect(restarted.snapshot().nft ?? 0).toBe(0);

    // a changed MAC: that element only; a removal: every element of the app, nothing of the other
    await again.ensure(ep(1, { mac: '02:00:00:00:09:09' }));
    await again.remove('app2/lan');
    const last = await listBridge(ns);
    expect(last.sets['as-mac']).toEqual([JSON.stringify({ concat: ['tap1', '02:00:00:00:09:09'] })]);
    for (const set of ['as-guarded', 'as-drops']) expect(last.sets[set]).toEqual(['"tap1"']);
    expect(last.sets['as-exempt'] ?? []).toEqual([]);
    expect(last.sets['as-ip']).toHaveLength(2);
  });

  it('the address learner, sharing table bridge edgenet, removes only its chain and sets: anti-spoofing stays', async () => {
    const ns = await pool.add('aslearn');
    const r = await runFixtureInNetns<{ learning: string[]; afterLast: string[]; afterRemove: string[] }>(ns.path, 'test/kernel/fixtures/learner-child.ts');
    const spoof = ['chain as-check', 'chain spoof', 'set as-arp', 'set as-drops', 'set as-exempt', 'set as-guarded', 'set as-ip', 'set as-mac'];
    expect(r.learning).toEqual([...spoof, 'chain learn', 'set dhcp', 'set traffic'].sort());
    expect(r.afterLast).toEqual(spoof);
    expect(r.afterRemove).toEqual(spoof);
  });
});
