// Caps on a config's size, and validation that stays O(n log n) however many networks a raised cap lets in.
import { describe, expect, it } from 'vitest';
import { issuesOf } from '../helpers/config-issues.ts';
import { DEFAULT_LIMITS, resolveLimits } from '../../src/config/config-limits.ts';
import { validateConfig } from '../../src/config/config-load.ts';
import { firstEarlierOverlap, type Prefix } from '../../src/config/subnet-overlaps.ts';

const locals = (n: number): { name: string; type: 'local'; subnet: string }[] =>
  Array.from({ length: n }, (_, i) => ({ name: `n${i}`, type: 'local' as const, subnet: `10.${(i >> 8) & 255}.${i & 255}.0/24` }));
const switches = (n: number): { name: string; type: 'switch' }[] => Array.from({ length: n }, (_, i) => ({ name: `s${i}`, type: 'switch' as const }));
const taps = (n: number, network: string): { name: string; interfaces: { network: string; tap: string }[] }[] =>
  Array.from({ length: n }, (_, i) => ({ name: `a${i}`, interfaces: [{ network, tap: `t${i}` }] }));

describe('config limits', () => {
  it('defaults: 1000 networks, 250 local, 5000 app interfaces', () => {
    expect(DEFAULT_LIMITS).toEqual({ networks: 1000, localNetworks: 250, endpoints: 5000 });
  });

  it.each([
    {
      mistake: 'too many networks',
      input: { networks: switches(11) },
      limits: { networks: 10 },
      issue: { path: 'networks', message: '11 network instances exceed the limit of 10 (limits.networks, edgenet run --max-networks)' },
    },
    {
      mistake: 'too many local networks (dnsmasqs)',
      input: { networks: locals(3) },
      limits: { localNetworks: 2 },
      issue: { path: 'networks', message: '3 local network instances (one dnsmasq each) exceed the limit of 2 (limits.localNetworks, edgenet run --max-local-networks)' },
    },
    {
      mistake: 'too many app interfaces',
      input: { networks: switches(1), apps: taps(6, 's0') },
      limits: { endpoints: 5 },
      issue: { path: 'apps', message: '6 app interfaces exceed the limit of 5 (limits.endpoints, edgenet run --max-endpoints)' },
    },
  ])('$mistake → refused before any other check', ({ input, limits, issue }) => {
    // only the cap is reported: nothing else of the document is looked at
    expect(issuesOf(() => validateConfig({ ...input, ports: 'not even a list' }, undefined, { limits }))).toEqual([issue]);
  });

  it('accepts a config at its limits', () => {
    expect(() => validateConfig({ networks: [...switches(8), ...locals(2)], apps: taps(5, 's0') }, undefined, { limits: { networks: 10, localNetworks: 2, endpoints: 5 } })).not.toThrow();
  });

  it('refuses a 10 001-NI document by default, at once', () => {
    const t0 = performance.now();
    const issues = issuesOf(() => validateConfig({ networks: locals(10_001) }));
    const ms = performance.now() - t0;
    expect(issues.map((i) => i.message)).toEqual([
      '10001 network instances exceed the limit of 1000 (limits.networks, edgenet run --max-networks)',
      '10001 local network instances (one dnsmasq each) exceed the limit of 250 (limits.localNetworks, edgenet run --max-local-networks)',
    ]);
    console.log(`10 001-NI document refused by the caps in ${ms.toFixed(1)} ms`);
  });

  it('validates 10 001 local NIs when the caps allow it (sorted overlap check: figure printed)', () => {
    const networks = locals(10_001);
    networks[10_000] = { name: 'late', type: 'local', subnet: '10.0.0.0/16' }; // contains the first 256
    const t0 = performance.now();
    const issues = issuesOf(() => validateConfig({ networks }, undefined, { limits: { networks: 20_000, localNetworks: 20_000 } }));
    const ms = performance.now() - t0;
    expect(issues).toEqual([{ path: 'networks[10000].subnet', message: 'subnet 10.0.0.0/16 overlaps subnet 10.0.0.0/24 of network "n0"' }]);
    console.log(`10 001 local NIs validated in ${ms.toFixed(0)} ms (was minutes with the pairwise check)`);
  });

  it.each([{ networks: 0 }, { endpoints: 1.5 }, { localNetworks: -1 }])('refuses a bad limit %j', (limits) => {
    expect(() => resolveLimits(limits)).toThrow(/^limits\.\w+: must be a positive integer/);
  });
});

describe('firstEarlierOverlap', () => {
  const prefix = (network: number, prefixlen: number): Prefix => {
    const size = 2 ** (32 - prefixlen);
    const base = Math.floor(network / size) * size;
    return { network: base, broadcast: base + size - 1, prefixlen };
  };
  const naive = (ps: Prefix[]): (number | undefined)[] =>
    ps.map((p, k) => {
      for (let j = 0; j < k; j++) {
        const q = ps[j] as Prefix;
        if (q.network <= p.broadcast && p.network <= q.broadcast) return j;
      }
      return undefined;
    });

  it('agrees with the pairwise check on random nested, equal and disjoint prefixes', () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      const ps = Array.from({ length: 1 + rand(40) }, () => prefix(rand(2 ** 12) * 2 ** 20, 4 + rand(16)));
      expect(firstEarlierOverlap(ps)).toEqual(naive(ps));
    }
  });

  it('finds none among disjoint prefixes', () => {
    expect(firstEarlierOverlap([prefix(0, 24), prefix(256, 24), prefix(512, 23)])).toEqual([undefined, undefined, undefined]);
  });
});
