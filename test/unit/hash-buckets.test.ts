import { describe, expect, it } from 'vitest';
import { BUCKETS, bucketDelete, bucketGet, bucketKeys, bucketSet, bucketValues, slotOf, type Buckets } from '../../machines/hash-buckets.ts';
import { rng } from '../helpers/config-edits.ts';


describe('hash buckets (persistent map of the system actor bookkeeping)', () => {
  it.each([1, 2, 3])('random sets and deletes give what a Map gives, and never change an earlier version (seed %i)', (seed) => {
    const rand = rng(seed);
    const model = new Map<string, number>();
    let b: Buckets<number> | undefined;
    const versions: { b: Buckets<number> | undefined; model: Map<string, number> }[] = [];
    for (let step = 0; step < 3000; step++) {
      const key = `app${Math.floor(rand() * 300)}/ni${Math.floor(rand() * 3)}`;
      if (rand() < 0.6) {
        b = bucketSet(b, key, step);
        model.set(key, step);
      } else {
        b = bucketDelete(b, key);
        model.delete(key);
      }
      if (step % 250 === 0) versions.push({ b, model: new Map(model) });
      expect(b?.size ?? 0).toBe(model.size);
      expect(bucketGet(b, key)).toBe(model.get(key));
    }
    expect(new Set(bucketKeys(b))).toEqual(new Set(model.keys()));
    expect([...bucketValues(b)].sort((x, y) => x - y)).toEqual([...model.values()].sort((x, y) => x - y));
    for (const v of versions) {
      expect(new Map(bucketKeys(v.b).map((k) => [k, bucketGet(v.b, k)]))).toEqual(v.model);
    }
  });

  it('an update copies only the bucket of its key; the empty map is undefined; a missing key changes nothing', () => {
    let b: Buckets<string> | undefined;
    for (let i = 0; i < 500; i++) b = bucketSet(b, `a${i}/lan`, `v${i}`);
    const next = bucketSet(b, 'a7/lan', 'changed');
    const slot = slotOf('a7/lan');
    expect(next.slots).toHaveLength(BUCKETS);
    next.slots.forEach((s, i) => (i === slot ? expect(s).not.toBe(b?.slots[i]) : expect(s).toBe(b?.slots[i])));
    expect(bucketGet(b, 'a7/lan')).toBe('v7');
    expect(bucketGet(next, 'a7/lan')).toBe('changed');
    expect(next.size).toBe(500);
    expect(bucketDelete(next, 'nobody/lan')).toBe(next);
    expect(bucketDelete(bucketSet(undefined, 'x/y', 'z'), 'x/y')).toBeUndefined();
    // inherited names are not keys
    expect(bucketGet(next, 'constructor')).toBeUndefined();
    expect(bucketGet(next, '__proto__')).toBeUndefined();
  });
});
