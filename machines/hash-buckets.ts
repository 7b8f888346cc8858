// A persistent (copy-on-write) map of string keys in a fixed number of hash buckets, as plain data: an update copies
// the bucket list and the one small bucket the key falls in, so a map of n entries costs O(n / BUCKETS) per update,
// not O(n) as a copy of the whole record (the system actor's bookkeeping of 10 000 members, one event at a time).

export const BUCKETS = 64;

export interface Buckets<V> {
  /** BUCKETS slots, each a small record (or undefined when empty) */
  readonly slots: readonly (Readonly<Record<string, V>> | undefined)[];
  readonly size: number;
}

/** FNV-1a of the key, folded to a slot. */
export function slotOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % BUCKETS;
}

export function bucketGet<V>(b: Buckets<V> | undefined, key: string): V | undefined {
  const slot = b?.slots[slotOf(key)];
  return slot !== undefined && Object.hasOwn(slot, key) ? slot[key] : undefined;
}

/** A new map with `key` set to `value` (`b` is left as it was). */
export function bucketSet<V>(b: Buckets<V> | undefined, key: string, value: V): Buckets<V> {
  const i = slotOf(key);
  const slots = b ? b.slots.slice() : new Array<Readonly<Record<string, V>> | undefined>(BUCKETS).fill(undefined);
  const old = slots[i];
  const had = old !== undefined && Object.hasOwn(old, key);
  slots[i] = { ...old, [key]: value };
  return { slots, size: (b?.size ?? 0) + (had ? 0 : 1) };
}

/** A new map without `key` (undefined when that leaves it empty); `b` itself when the key is not in it. */
export function bucketDelete<V>(b: Buckets<V> | undefined, key: string): Buckets<V> | undefined {
  if (!b) return undefined;
  const i = slotOf(key);
  const old = b.slots[i];
  if (old === undefined || !Object.hasOwn(old, key)) return b;
  if (b.size === 1) return undefined;
  const slots = b.slots.slice();
  const { [key]: _gone, ...rest } = old;
  slots[i] = Object.keys(rest).length === 0 ? undefined : rest;
  return { slots, size: b.size - 1 };
}

export function* bucketValues<V>(b: Buckets<V> | undefined): IterableIterator<V> {
  for (const slot of b?.slots ?? []) if (slot) yield* Object.values(slot);
}

export function bucketKeys<V>(b: Buckets<V> | undefined): string[] {
  const out: string[] = [];
  for (const slot of b?.slots ?? []) if (slot) out.push(...Object.keys(slot));
  return out;
}
