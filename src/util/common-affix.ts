// Where two versions of a text differ: the JSON splice (a push body's bytes against the last one's) and the state
// journals (a file's new text against its last) look for the changed span between a common prefix and a common
// suffix.

/** chars compared at a time (a slice comparison is a memcmp; char by char only within the last block) */
const BLOCK = 4096;

/** How many chars `a` and `b` share from the start, up to `max`. */
export function commonPrefix(a: string, b: string, max: number): number {
  let p = 0;
  while (p + BLOCK <= max && a.slice(p, p + BLOCK) === b.slice(p, p + BLOCK)) p += BLOCK;
  while (p < max && a.charCodeAt(p) === b.charCodeAt(p)) p++;
  return p;
}

/** How many chars `a` and `b` share at the end, up to `max`. */
export function commonSuffix(a: string, b: string, max: number): number {
  let s = 0;
  while (s + BLOCK <= max && a.slice(a.length - s - BLOCK, a.length - s) === b.slice(b.length - s - BLOCK, b.length - s)) s += BLOCK;
  while (s < max && a.charCodeAt(a.length - 1 - s) === b.charCodeAt(b.length - 1 - s)) s++;
  return s;
}

/** How many bytes `a` and `b` share from the start, up to `max` (Buffer.compare on blocks: no copies). */
export function commonPrefixBytes(a: Uint8Array, b: Uint8Array, max: number): number {
  let p = 0;
  while (p + BLOCK <= max && Buffer.compare(a.subarray(p, p + BLOCK), b.subarray(p, p + BLOCK)) === 0) p += BLOCK;
  while (p < max && a[p] === b[p]) p++;
  return p;
}

/** How many bytes `a` and `b` share at the end, up to `max`. */
export function commonSuffixBytes(a: Uint8Array, b: Uint8Array, max: number): number {
  let s = 0;
  while (s + BLOCK <= max && Buffer.compare(a.subarray(a.length - s - BLOCK, a.length - s), b.subarray(b.length - s - BLOCK, b.length - s)) === 0) s += BLOCK;
  while (s < max && a[a.length - 1 - s] === b[b.length - 1 - s]) s++;
  return s;
}
