// A config push is usually the last push with an app added, removed or changed. Parsing a 2 MB body again for that
// cost ~20 ms at 10 000 apps (and the garbage of a whole new document). A JSON object body that differs from the
// last one only inside one top-level array's run of elements is parsed in that run alone; every other object is the
// last document's, shared. The answer is JSON.parse's own: the new text is the old one with a run of whole elements
// replaced by a text that parses as a list of elements by itself (JSON's grammar is context-free), so the document
// is the old one with those elements replaced. Anything else (a change outside the arrays, a run that is not a list
// of elements, an array left empty) returns undefined: the caller parses the whole text.
// The bodies are compared as the bytes they came in (UTF-8): only the changed run is decoded, so a push makes no
// string of its whole body (2 MB at 10 000 apps, a large object in V8's old generation each push).
import { commonPrefixBytes, commonSuffixBytes } from './common-affix.ts';

/** A JSON object document, parsed, and where its top-level arrays' elements sit in its bytes. */
export interface IndexedJson {
  /** the document's text as UTF-8 */
  readonly bytes: Buffer;
  readonly value: Readonly<Record<string, unknown>>;
  /** the top-level keys holding arrays, in text order, with byte offsets (nobody changes them once made) */
  readonly arrays: readonly ArraySpans[];
}

interface ArraySpans {
  readonly key: string;
  /** [starts[k], ends[k]) is the text of element k */
  readonly starts: Int32Array;
  readonly ends: Int32Array;
}

/**
 * The index of `text`, which JSON.parse made into `value` (`bytes`: the UTF-8 it was decoded from, default its
 * encoding); undefined unless it is an object without repeated keys, and bytes that encode it char for char.
 */
export function indexJson(text: string, value: unknown, bytes: Buffer = Buffer.from(text)): IndexedJson | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const doc = value as Record<string, unknown>;
  const top = scanTopLevel(text);
  // a key given twice: JSON.parse kept the last one, and the offsets would not say which
  if (!top || top.keys !== Object.keys(doc).length) return undefined;
  for (const a of top.arrays) {
    const held = doc[a.key];
    if (!Array.isArray(held) || held.length !== a.starts.length) return undefined;
  }
  if (bytes.length === text.length) return { bytes, value: doc, arrays: top.arrays };
  // not ASCII: the offsets are made byte offsets (bytes that are not UTF-8 are not indexed: a whole parse next time)
  if (Buffer.byteLength(text) !== bytes.length) return undefined;
  const toBytes = byteOffsets(text);
  const arrays = top.arrays.map((a) => ({ key: a.key, starts: a.starts.map(toBytes), ends: a.ends.map(toBytes) }));
  return { bytes, value: doc, arrays };
}

/**
 * The UTF-8 offset of each char offset of `text`, asked in nondecreasing order within each of a few passes (each
 * array's starts, then its ends): the bytes from the last offset asked are counted on.
 */
function byteOffsets(text: string): (char: number) => number {
  let char = 0;
  let byte = 0;
  return (at: number): number => {
    if (at < char) {
      char = 0;
      byte = 0;
    }
    byte += Buffer.byteLength(text.slice(char, at));
    char = at;
    return byte;
  };
}

/**
 * Where the elements of the top-level array `key` sit in `text`, a JSON object JSON.parse took (the key given once);
 * undefined when there is no such array.
 */
export function topLevelArray(text: string, key: string): { starts: Int32Array; ends: Int32Array } | undefined {
  const found = scanTopLevel(text)?.arrays.filter((a) => a.key === key);
  return found?.length === 1 ? found[0] : undefined;
}

/** The top-level object's arrays and how many keys it has; undefined when the text is not an object. */
function scanTopLevel(text: string): { arrays: ArraySpans[]; keys: number } | undefined {
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== OPEN_OBJECT) return undefined;
  i = skipSpace(text, i + 1);
  const arrays: ArraySpans[] = [];
  let keys = 0;
  while (i < text.length && text.charCodeAt(i) !== CLOSE_OBJECT) {
    const keyEnd = skipString(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    keys++;
    i = skipSpace(text, skipSpace(text, keyEnd) + 1);
    if (text.charCodeAt(i) === OPEN_ARRAY) {
      const starts: number[] = [];
      const ends: number[] = [];
      i = scanElements(text, i + 1, 0, starts, ends);
      if (text.charCodeAt(i) !== CLOSE_ARRAY) return undefined;
      i++;
      arrays.push({ key, starts: Int32Array.from(starts), ends: Int32Array.from(ends) });
    } else i = skipValue(text, i);
    i = skipSpace(text, i);
    if (text.charCodeAt(i) === COMMA) i = skipSpace(text, i + 1);
  }
  return { arrays, keys };
}

/**
 * `body` (UTF-8, or a string to encode) parsed as `prev`'s text changed inside one top-level array's elements, or
 * undefined (parse it whole).
 */
export function spliceJson(prev: IndexedJson, body: Buffer | string): IndexedJson | undefined {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const old = prev.bytes;
  const max = Math.min(old.length, bytes.length);
  const p = commonPrefixBytes(old, bytes, max);
  const s = commonSuffixBytes(old, bytes, max - p);
  const changedEnd = old.length - s;
  const at = prev.arrays.findIndex((a) => a.starts.length > 0 && (a.starts[0] as number) <= p && changedEnd <= (a.ends[a.ends.length - 1] as number));
  const spans = prev.arrays[at];
  if (spans === undefined) return undefined;
  const n = spans.starts.length;
  // the elements the change touches, and one more each side: the run is never empty (an element removed between
  // two others leaves them in the run)
  const first = Math.max(0, lastAtOrBefore(spans.starts, p) - 1);
  const last = Math.min(n - 1, firstAtOrAfter(spans.ends, changedEnd) + 1);
  const from = spans.starts[first] as number;
  const to = spans.ends[last] as number;
  const delta = bytes.length - old.length;
  // (the run starts and ends at elements' edges, which are ASCII: no UTF-8 sequence is cut)
  const run = bytes.toString('utf8', from, to + delta);
  let elements: unknown;
  try {
    elements = JSON.parse(`[${run}]`);
  } catch {
    return undefined;
  }
  if (!Array.isArray(elements) || elements.length === 0) return undefined;
  let starts: number[] = [];
  let ends: number[] = [];
  scanElements(run, skipSpace(run, 0), 0, starts, ends);
  if (starts.length !== elements.length) return undefined;
  if (run.length !== to + delta - from) {
    // not ASCII: the run's char offsets as byte offsets (not UTF-8: a whole parse)
    if (Buffer.byteLength(run) !== to + delta - from) return undefined;
    const toBytes = byteOffsets(run);
    starts = starts.map(toBytes);
    ends = ends.map(toBytes);
  }
  starts = starts.map((x) => x + from);
  ends = ends.map((x) => x + from);

  const held = prev.value[spans.key] as readonly unknown[];
  const list = held.slice(0, first).concat(elements, held.slice(last + 1));
  const value: Record<string, unknown> = { ...prev.value, [spans.key]: list };
  const arrays = prev.arrays.map((a, k): ArraySpans => {
    if (k < at) return a;
    if (k > at) return { key: a.key, starts: shifted(a.starts, 0, delta), ends: shifted(a.ends, 0, delta) };
    return { key: a.key, starts: joined(a.starts, first, last, starts, delta), ends: joined(a.ends, first, last, ends, delta) };
  });
  return { bytes, value, arrays };
}

const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;


/** The last k with xs[k] <= v (0 when none). */
function lastAtOrBefore(xs: Int32Array, v: number): number {
  let lo = 0;
  let hi = xs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((xs[mid] as number) <= v) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The first k with xs[k] >= v (the last one when none). */
function firstAtOrAfter(xs: Int32Array, v: number): number {
  let lo = 0;
  let hi = xs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((xs[mid] as number) >= v) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function shifted(xs: Int32Array, from: number, delta: number): Int32Array {
  const out = xs.slice(from);
  if (delta !== 0) for (let k = 0; k < out.length; k++) out[k] = (out[k] as number) + delta;
  return out;
}

/** xs with [first, last] replaced by `mid` and what follows moved by `delta`. */
function joined(xs: Int32Array, first: number, last: number, mid: readonly number[], delta: number): Int32Array {
  const tail = shifted(xs, last + 1, delta);
  const out = new Int32Array(first + mid.length + tail.length);
  out.set(xs.subarray(0, first), 0);
  out.set(mid, first);
  out.set(tail, first + mid.length);
  return out;
}

/**
 * Reads a list of elements (valid JSON: JSON.parse took it) from `i` up to the `]` that ends it or the text's end,
 * pushing each element's [start, end) plus `base`; returns where it stopped.
 */
function scanElements(text: string, i: number, base: number, starts: number[], ends: number[]): number {
  i = skipSpace(text, i);
  while (i < text.length && text.charCodeAt(i) !== CLOSE_ARRAY) {
    starts.push(i + base);
    i = skipValue(text, i);
    ends.push(i + base);
    i = skipSpace(text, i);
    if (text.charCodeAt(i) === COMMA) i = skipSpace(text, i + 1);
  }
  return i;
}

function skipSpace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

/** past the string starting at `i` (its opening quote) */
function skipString(text: string, i: number): number {
  let j = i + 1;
  for (;;) {
    const q = text.indexOf('"', j);
    if (q < 0) return text.length;
    let slashes = 0;
    while (text.charCodeAt(q - 1 - slashes) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/** past the value starting at `i` */
function skipValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return skipString(text, i);
  if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
    let depth = 0;
    for (let k = i; k < text.length; k++) {
      const d = text.charCodeAt(k);
      if (d === QUOTE) k = skipString(text, k) - 1;
      else if (d === OPEN_OBJECT || d === OPEN_ARRAY) depth++;
      else if (d === CLOSE_OBJECT || d === CLOSE_ARRAY) {
        depth--;
        if (depth === 0) return k + 1;
      }
    }
    return text.length;
  }
  // a number, true, false or null
  let k = i;
  for (; k < text.length; k++) {
    const d = text.charCodeAt(k);
    if (d === COMMA || d === CLOSE_ARRAY || d === CLOSE_OBJECT || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) break;
  }
  return k;
}
