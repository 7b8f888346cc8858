// O(change) pushes (issue 20): the push cache's answer for an apps-only push is exactly the full path's — the same
// accepted config, resolution, diff and last-good text — over random sequences of edits; everything it cannot judge
// (invalid input, NI or port edits, VLANs, ACLs) is left to the full path.
import { describe, expect, it } from 'vitest';
import { isDeepStrictEqual } from 'node:util';
import { changedFields, diffResolved, resolveConfig, type ResolvedConfig } from '../../src/config/config-diff.ts';
import { validateConfig } from '../../src/config/config-load.ts';
import { resolveLimits } from '../../src/config/config-limits.ts';
import { copyInput, copyPlain, deepEqual, deepFreeze, isDeepFrozen, matchesCopy, PushCache } from '../../src/config/push-cache.ts';
import type { Config, ConfigInput } from '../../src/config/config-schema.ts';
import { lastGoodText } from '../../src/daemon/state-dir.ts';
import { ConfigEditor } from '../helpers/config-edits.ts';

const limits = resolveLimits({});

function fullPath(input: unknown): { config: Config; resolved: ResolvedConfig } | Error {
  try {
    const config = validateConfig(input, undefined, { limits });
    return { config, resolved: resolveConfig(config) };
  } catch (err) {
    return err as Error;
  }
}

/** Objects of the same key before and after (networks, endpoints, ports). */
function pairs(before: ResolvedConfig | undefined, after: ResolvedConfig): [object, object][] {
  if (!before) return [];
  const out: [object, object][] = [];
  const match = <T extends object>(xs: readonly T[], ys: readonly T[], key: (t: T) => string): void => {
    const old = new Map(xs.map((x) => [key(x), x]));
    for (const y of ys) {
      const x = old.get(key(y));
      if (x) out.push([x, y]);
    }
  };
  match(before.networks, after.networks, (n) => n.name);
  match(before.endpoints, after.endpoints, (e) => e.key);
  match(before.ports, after.ports, (p) => p.name);
  return out;
}

describe('push cache: incremental = full, over random edit sequences', () => {
  // frozen: each push unchanging (as the API server's bodies), kept as it is rather than copied
  for (const [seed, frozen] of [1, 2, 3, 4, 5, 6, 7, 8].map((s) => [s, s > 6] as const)) {
    it(`seed ${seed}: 400 edits${frozen ? ', frozen inputs' : ''}`, () => {
      const cache = new PushCache();
      const ed = new ConfigEditor(seed);
      let running: ResolvedConfig | undefined;
      let accepted: ConfigInput = structuredClone(ed.config);
      let incremental = 0;
      let lastContent: string | readonly string[] | undefined;
      for (let step = 0; step < 400; step++) {
        const { what, config: edited } = ed.next();
        const input = frozen ? deepFreeze(structuredClone(edited)) : edited;
        const inc = cache.tryIncremental(input, limits);
        const want = fullPath(input);
        const at = `seed ${seed} step ${step}: ${what}`;
        if (want instanceof Error) {
          // an invalid push is never judged valid by the cache
          expect(inc, at).toBeUndefined();
          ed.reset(accepted);
          continue;
        }
        const raw = copyInput(input);
        // the diff's fast field comparison says what isDeepStrictEqual says
        for (const [before, after] of pairs(running, want.resolved)) {
          const fields = [...new Set([...Object.keys(before), ...Object.keys(after)])];
          const rb = before as Record<string, unknown>;
          const ra = after as Record<string, unknown>;
          expect(changedFields(before, after), at).toEqual(fields.filter((f) => !isDeepStrictEqual(rb[f], ra[f])));
        }
        if (inc) {
          incremental++;
          expect(inc.config, at).toStrictEqual(want.config);
          expect(inc.resolved, at).toStrictEqual(want.resolved);
          const fullDiff = diffResolved(running, want.resolved);
          expect(inc.diff, at).toStrictEqual(fullDiff);
          expect(inc.unchanged, at).toBe(fullDiff.networks.unchanged.length + fullDiff.endpoints.unchanged.length + fullDiff.ports.unchanged.length);
          // what is written: the text, or its parts (the push after one that wrote parts has no text to slice)
          const content = inc.content();
          expect(typeof content === 'string' ? content : content.join(''), at).toBe(lastGoodText(want.config));
          if (inc.same) expect(content, at).toBe(lastContent);
          if (step % 3 === 0) expect(inc.text(), at).toBe(lastGoodText(want.config));
          expect(inc.same, at).toBe(running !== undefined && lastGoodText(want.config) === lastGoodText(validateConfig(accepted)));
          inc.commit();
          lastContent = content;
        } else {
          lastContent = lastGoodText(want.config);
          cache.rebuild(raw, want.config, want.resolved, lastGoodText(want.config), input);
        }
        running = want.resolved;
        accepted = structuredClone(input);
      }
      // most pushes of this mix change apps only
      expect(incremental).toBeGreaterThan(100);
    });
  }

  it('apps inserted, removed and moved anywhere (the walk that follows a shift of places): incremental = full', () => {
    const cache = new PushCache();
    const app = (i: number) => ({ name: `a${i}`, interfaces: [{ network: i % 3 === 0 ? 'lan' : 'sw', tap: `t${i}` }] });
    const networks: ConfigInput['networks'] = [{ name: 'lan', type: 'local', subnet: '10.1.0.0/24' }, { name: 'sw', type: 'switch' }];
    let names = Array.from({ length: 30 }, (_, i) => i);
    const push = (next: number[], what: string): void => {
      const before = fullPath({ networks, apps: names.map(app) });
      const input: ConfigInput = { networks, apps: next.map(app) };
      const want = fullPath(input);
      if (before instanceof Error || want instanceof Error) throw new Error('bad test config');
      const inc = cache.tryIncremental(structuredClone(input), limits);
      expect(inc, what).toBeDefined();
      if (!inc) return;
      const fullDiff = diffResolved(before.resolved, want.resolved);
      expect(inc.diff, what).toStrictEqual(fullDiff);
      expect(inc.config, what).toStrictEqual(want.config);
      expect(inc.resolved, what).toStrictEqual(want.resolved);
      expect(inc.text(), what).toBe(lastGoodText(want.config));
      expect(inc.removedKeys.sort(), what).toEqual(fullDiff.endpoints.removed.map((r) => r.key).sort());
      expect(inc.unchanged, what).toBe(fullDiff.networks.unchanged.length + fullDiff.endpoints.unchanged.length + fullDiff.ports.unchanged.length);
      inc.commit();
      names = next;
    };
    const first = validateConfig({ networks, apps: names.map(app) });
    cache.rebuild(copyInput({ networks, apps: names.map(app) }), first, resolveConfig(first), lastGoodText(first));
    const at = (k: number, xs: number[], ins: number[]): number[] => [...xs.slice(0, k), ...ins, ...xs.slice(k)];
    push(names.slice(1), 'remove the first');
    push(names.slice(0, -1), 'remove the last');
    push([...names.slice(0, 10), ...names.slice(11)], 'remove one in the middle');
    push([...names.slice(0, 5), ...names.slice(7, 15), ...names.slice(16)], 'remove three, two of them side by side');
    push(at(0, names, [100]), 'insert at the start');
    push(at(12, names, [101]), 'insert in the middle');
    push(at(12, names, [102, 103, 104]), 'insert three side by side');
    push([...names.slice(0, 8), ...names.slice(9, 20), names[8]!, ...names.slice(20)], 'move one further down');
    push([...names.slice(1, 6), 105, ...names.slice(7)], 'remove the first, replace the sixth');
    push([...names].reverse(), 'reverse');
    push([], 'remove all');
    push([1, 2, 3], 'add to an empty list');
  });

  it('a rejected push leaves the cache as it was: the next push is judged against the last good config', () => {
    const cache = new PushCache();
    const good: ConfigInput = {
      networks: [{ name: 'lan', type: 'local', subnet: '10.1.0.0/24' }],
      apps: [{ name: 'a', interfaces: [{ network: 'lan', tap: 'ta', ip: '10.1.0.5' }] }],
    };
    const config = validateConfig(good);
    cache.rebuild(copyInput(good), config, resolveConfig(config), lastGoodText(config));
    // b takes a's address: not judged here (the full path reports it)
    const clash = { ...good, apps: [...good.apps!, { name: 'b', interfaces: [{ network: 'lan', tap: 'tb', ip: '10.1.0.5' }] }] };
    expect(cache.tryIncremental(clash, limits)).toBeUndefined();
    // a push that is judged but never committed (rejected later, by reservations or the kernel) changes nothing
    const withB = { ...good, apps: [...good.apps!, { name: 'b', interfaces: [{ network: 'lan', tap: 'tb', ip: '10.1.0.6' }] }] };
    expect(cache.tryIncremental(withB, limits)?.diff.endpoints.added.map((e) => e.key)).toEqual(['b/lan']);
    const again = cache.tryIncremental(withB, limits);
    expect(again?.diff.endpoints.added.map((e) => e.key)).toEqual(['b/lan']);
    expect(cache.tryIncremental(structuredClone(good), limits)?.same).toBe(true);
  });

  it('the limits hold on the incremental path: endpoints counted from what changed, NIs from the last good config', () => {
    const cache = new PushCache();
    const good: ConfigInput = {
      networks: [
        { name: 'lan', type: 'local', subnet: '10.1.0.0/24' },
        { name: 'sw', type: 'switch' },
      ],
      apps: [
        { name: 'a', interfaces: [{ network: 'lan', tap: 'ta' }] },
        { name: 'b', interfaces: [{ network: 'lan', tap: 'tb' }] },
      ],
    };
    const config = validateConfig(good);
    cache.rebuild(copyInput(good), config, resolveConfig(config), lastGoodText(config));
    const c = { name: 'c', interfaces: [{ network: 'lan', tap: 'tc' }, { network: 'sw', tap: 'tc2' }] };
    const withC = { ...good, apps: [...good.apps!, c] };
    // 4 endpoints: over a limit of 3 (left to the full path, which names the limit), within one of 4
    expect(cache.tryIncremental(withC, resolveLimits({ endpoints: 3 }))).toBeUndefined();
    expect(() => validateConfig(withC, undefined, { limits: resolveLimits({ endpoints: 3 }) })).toThrow(/4 app interfaces exceed the limit of 3/);
    expect(cache.tryIncremental(withC, resolveLimits({ endpoints: 4 }))?.diff.endpoints.added.map((e) => e.key)).toEqual(['c/lan', 'c/sw']);
    // b replaced by c: 3 endpoints, within 3
    expect(cache.tryIncremental({ ...good, apps: [good.apps![0]!, c] }, resolveLimits({ endpoints: 3 }))).toBeDefined();
    // the NIs are the last good config's: over a lowered limit of NIs or local NIs, left to the full path
    expect(cache.tryIncremental(withC, resolveLimits({ networks: 1 }))).toBeUndefined();
    expect(cache.tryIncremental(withC, resolveLimits({ localNetworks: 1 }))).toBeDefined();
    expect(cache.tryIncremental(withC, resolveLimits({ networks: 2, localNetworks: 1 }))).toBeDefined();
  });

  it('an input changed in place after the push is compared with what was pushed, not with itself', () => {
    const cache = new PushCache();
    const input: ConfigInput = { networks: [{ name: 'sw', type: 'switch' }], apps: [{ name: 'a', interfaces: [{ network: 'sw', tap: 'ta' }] }] };
    const config = validateConfig(input);
    cache.rebuild(copyInput(input), config, resolveConfig(config), lastGoodText(config));
    input.apps![0]!.interfaces![0]!.tap = 'tb';
    const inc = cache.tryIncremental(input, limits);
    expect(inc?.diff.endpoints.changed.map((c) => [c.key, c.fields])).toEqual([['a/sw', ['hostIfname']]]);
  });

  it('the frozen object of the last good push, pushed again, is known unchanged without a look', () => {
    const cache = new PushCache();
    const input = deepFreeze({ networks: [{ name: 'sw', type: 'switch' }], apps: [{ name: 'a', interfaces: [{ network: 'sw', tap: 'ta' }] }] });
    const config = validateConfig(input);
    cache.rebuild(copyInput(input), config, resolveConfig(config), lastGoodText(config), input);
    const inc = cache.tryIncremental(input, limits);
    expect(inc?.same).toBe(true);
    expect(inc?.config).toBe(config);
    expect(inc?.diff.endpoints.unchanged).toEqual(['a/sw']);
    // a copy is compared (and found the same)
    expect(cache.tryIncremental(structuredClone(input), limits)?.same).toBe(true);
  });

  it('an unchanging push is kept as it is: the next one sharing its apps is judged by identity, a copy by content', () => {
    const cache = new PushCache();
    const apps = Array.from({ length: 5 }, (_, k) => ({ name: `a${k}`, interfaces: [{ network: 'sw', tap: `t${k}` }] }));
    const input = deepFreeze({ networks: [{ name: 'sw', type: 'switch' }], apps });
    const config = validateConfig(input);
    cache.rebuild(copyInput(input), config, resolveConfig(config), lastGoodText(config), input);
    // the same apps (the very objects) and one more: only the new one is parsed and diffed
    const next = deepFreeze({ networks: input.networks, apps: [...input.apps, { name: 'a5', interfaces: [{ network: 'sw', tap: 't5' }] }] });
    const inc = cache.tryIncremental(next, limits);
    expect(inc?.diff.endpoints.added.map((e) => e.key)).toEqual(['a5/sw']);
    expect(inc?.diff.endpoints.unchanged).toHaveLength(5);
    inc?.commit();
    // a copy of the same data is the same config; a changed copy is a change
    expect(cache.tryIncremental(structuredClone(next), limits)?.same).toBe(true);
    const changed = structuredClone(next);
    changed.apps[2]!.interfaces[0]!.tap = 'tx';
    expect(cache.tryIncremental(changed, limits)?.diff.endpoints.changed.map((c) => c.key)).toEqual(['a2/sw']);
  });

  it('isDeepFrozen / deepFreeze: all the way down', () => {
    const shallow = Object.freeze({ apps: [{ name: 'a' }] });
    expect(isDeepFrozen(shallow)).toBe(false);
    expect(isDeepFrozen(deepFreeze({ apps: [{ name: 'a' }] }))).toBe(true);
    const by = Object.freeze({ apps: Object.freeze([Object.freeze({ name: 'a' })]) });
    expect(isDeepFrozen(by)).toBe(true);
    // frozen by someone else at the top only, then deepFreeze: every level is frozen
    const top = Object.freeze({ apps: [{ name: 'a' }] });
    deepFreeze(top);
    expect(Object.isFrozen(top.apps[0])).toBe(true);
  });

  it('matchesCopy(a, copyPlain(b)) answers what deepEqual(a, b) answers', () => {
    const values: unknown[] = [
      0, -0, 1, Number.NaN, '', 'x', true, false, null, undefined, () => 1, new Date(0), [], [1, , 3], [1, undefined, 3], [1, 2, 3],
      {}, { a: undefined }, { a: 1, b: 2 }, { b: 2, a: 1 }, { a: [1, { b: 'x' }] }, { a: [1, { b: 'y' }] }, { a: [1, { b: 'x', c: 1 }] },
      Object.create(null), Object.assign(Object.create(null), { a: 1 }), { name: 'a', interfaces: [{ network: 'lan', tap: 't' }] },
      { name: 'a', interfaces: [{ network: 'lan', tap: 'u' }] }, { name: 'a', interfaces: [{ tap: 't', network: 'lan' }] }, [[]], [{}], { 0: 'a', 1: 'b' }, ['a', 'b'],
    ];
    for (const [i, a] of values.entries()) {
      for (const [j, b] of values.entries()) expect(matchesCopy(a, copyPlain(b)), `${i} vs ${j}`).toBe(deepEqual(a, b));
    }
  });

  it('deepEqual: plain data only, keys in order', () => {
    expect(deepEqual({ a: [1, { b: 'x' }] }, { a: [1, { b: 'x' }] })).toBe(true);
    expect(deepEqual({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(false);
    expect(deepEqual({ a: undefined }, {})).toBe(false);
    expect(deepEqual(0, -0)).toBe(false);
    expect(deepEqual(new Date(0), new Date(0))).toBe(false);
    expect(deepEqual([1, , 3], [1, undefined, 3])).toBe(false);
    expect(deepEqual(Number.NaN, Number.NaN)).toBe(true);
  });
});
