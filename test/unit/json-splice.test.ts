// A push body that changed in a few apps is parsed in those apps alone: the document is JSON.parse's, every time.
import { describe, expect, it } from 'vitest';
import { indexJson, spliceJson, topLevelArray, type IndexedJson } from '../../src/util/json-splice.ts';
import { rng as random } from '../helpers/config-edits.ts';

const app = (k: number, rnd: () => number): unknown => ({
  name: `app-${k}`,
  // strings that look like the structure around them
  note: rnd() < 0.3 ? `say "]}," \\ ${k} [{` : undefined,
  interfaces: [{ network: `ni-${k % 7}`, tap: `tap${k}`, ...(rnd() < 0.3 ? { ip: `10.0.${k % 250}.${(k % 200) + 2}` } : {}), ports: rnd() < 0.2 ? [1, 2.5, -3e2, true, null] : [] }],
});

const configOf = (apps: unknown[]): Record<string, unknown> => ({ ports: [{ name: 'up0', ifname: 'eth1' }], networks: [{ name: 'lan', type: 'local', subnet: '10.1.0.0/24' }], apps, version: 3 });

const index = (text: string): IndexedJson => {
  const ix = indexJson(text, JSON.parse(text));
  if (!ix) throw new Error('not indexed');
  return ix;
};

describe('JSON splice', () => {
  it('indexes the elements of the top-level arrays (compact and pretty text)', () => {
    const rnd = random(1);
    const doc = configOf([0, 1, 2].map((k) => app(k, rnd)));
    for (const text of [JSON.stringify(doc), JSON.stringify(doc, null, 2), ` \n${JSON.stringify(doc, null, '\t')}\n`]) {
      const ix = index(text);
      expect(ix.arrays.map((a) => a.key)).toEqual(['ports', 'networks', 'apps']);
      const apps = ix.arrays[2]!;
      expect([...apps.starts].map((s, k) => JSON.parse(text.slice(s, apps.ends[k])) as unknown)).toEqual(JSON.parse(JSON.stringify(doc.apps)));
    }
  });

  it('topLevelArray: the spans of one top-level array of a text, when it is there once', () => {
    const text = JSON.stringify({ ports: [], apps: [{ name: 'a' }, { name: 'b]"' }] }, null, 2);
    const spans = topLevelArray(text, 'apps')!;
    expect([...spans.starts].map((s, k) => text.slice(s, spans.ends[k]))).toEqual([JSON.stringify({ name: 'a' }, null, 2).replace(/\n/g, '\n    '), JSON.stringify({ name: 'b]"' }, null, 2).replace(/\n/g, '\n    ')]);
    expect(topLevelArray(text, 'ports')?.starts).toHaveLength(0);
    expect(topLevelArray(text, 'networks')).toBeUndefined();
    expect(topLevelArray('{"apps": [1], "apps": [2]}', 'apps')).toBeUndefined();
    expect(topLevelArray('[1]', 'apps')).toBeUndefined();
  });

  it('is not made for what it cannot answer for: a repeated key, an array at the top, a scalar', () => {
    const twice = '{"apps": [1], "apps": [2, 3]}';
    expect(indexJson(twice, JSON.parse(twice))).toBeUndefined();
    expect(indexJson('[1, 2]', [1, 2])).toBeUndefined();
    expect(indexJson('3', 3)).toBeUndefined();
  });

  it('an app added, removed or changed anywhere: parsed in a few elements, the others shared, the document JSON.parse makes', () => {
    const rnd = random(7);
    for (const pretty of [false, true]) {
      for (let round = 0; round < 300; round++) {
        const n = 1 + Math.floor(rnd() * 40);
        const apps = Array.from({ length: n }, (_, k) => app(k, rnd));
        const before = pretty ? JSON.stringify(configOf(apps), null, 2) : JSON.stringify(configOf(apps));
        const prev = index(before);
        const next = [...apps];
        const at = Math.floor(rnd() * (n + 1));
        const kind = rnd();
        if (kind < 0.4) next.splice(at, 0, app(1000 + round, rnd));
        else if (kind < 0.7 && n > 1) next.splice(Math.min(at, n - 1), 1);
        else next[Math.min(at, n - 1)] = app(2000 + round, rnd);
        const after = pretty ? JSON.stringify(configOf(next), null, 2) : JSON.stringify(configOf(next));
        const got = spliceJson(prev, after);
        expect(got, `round ${round}`).toBeDefined();
        expect(got!.value).toStrictEqual(JSON.parse(after));
        // all but a few elements are the last document's own objects
        const old = new Set(prev.value['apps'] as unknown[]);
        const shared = (got!.value['apps'] as unknown[]).filter((a) => old.has(a)).length;
        expect(shared).toBeGreaterThanOrEqual(next.length - 4);
        // the new index is the index of the new text: the next push splices from it
        expect(got!.arrays).toStrictEqual(index(after).arrays);
      }
    }
  });

  it('pushes in a row, each spliced from the one before, stay equal to a whole parse', () => {
    const rnd = random(11);
    let apps = Array.from({ length: 20 }, (_, k) => app(k, rnd));
    let text = JSON.stringify(configOf(apps), null, 2);
    let ix = index(text);
    for (let round = 0; round < 200; round++) {
      apps = [...apps];
      const at = Math.floor(rnd() * apps.length);
      if (rnd() < 0.5) apps.splice(at, 0, app(5000 + round, rnd));
      else if (apps.length > 2) apps.splice(at, 1);
      text = JSON.stringify(configOf(apps), null, 2);
      const got = spliceJson(ix, text);
      expect(got).toBeDefined();
      expect(got!.value).toStrictEqual(JSON.parse(text));
      ix = got!;
    }
  });

  it('a change outside the arrays, across two of them, or leaving an array empty is left to a whole parse', () => {
    const rnd = random(3);
    const apps = [app(1, rnd), app(2, rnd)];
    const prev = index(JSON.stringify(configOf(apps)));
    expect(spliceJson(prev, JSON.stringify({ ...configOf(apps), version: 4 }))).toBeUndefined();
    expect(spliceJson(prev, JSON.stringify({ ...configOf(apps), networks: [], apps: [app(3, rnd)] }))).toBeUndefined();
    expect(spliceJson(prev, JSON.stringify(configOf([])))).toBeUndefined();
    expect(spliceJson(prev, prev.bytes)).toBeUndefined();
  });

  it('random edits of the text: a splice is given only for a text JSON.parse takes, and is what it makes', () => {
    const rnd = random(5);
    const alphabet = ['{', '}', '[', ']', ',', ':', '"', '\\', ' ', '\n', '1', 'a', 'null', '"x"', '{"b":[1]}', '},{', '],['];
    let spliced = 0;
    for (let round = 0; round < 3000; round++) {
      const apps = Array.from({ length: 1 + Math.floor(rnd() * 6) }, (_, k) => app(k, rnd));
      const before = JSON.stringify(configOf(apps), null, rnd() < 0.5 ? 2 : undefined);
      const prev = index(before);
      let after = before;
      for (let e = 1 + Math.floor(rnd() * 2); e > 0; e--) {
        const at = Math.floor(rnd() * after.length);
        const cut = Math.floor(rnd() * 4);
        const put = rnd() < 0.3 ? '' : (alphabet[Math.floor(rnd() * alphabet.length)] as string);
        after = after.slice(0, at) + put + after.slice(at + cut);
      }
      const got = spliceJson(prev, after);
      if (got === undefined) continue;
      spliced++;
      expect(() => JSON.parse(after) as unknown, after).not.toThrow();
      expect(got.value).toStrictEqual(JSON.parse(after));
    }
    expect(spliced).toBeGreaterThan(100);
  });

  it('bodies that are not ASCII are spliced at byte offsets: the same document and index as a whole parse', () => {
    const rnd = random(13);
    const words = ['é', '日本語', '😀', 'naïve "ü"', '\u00e9'];
    const wordy = (k: number): unknown => ({ ...(app(k, rnd) as object), note: `${words[k % words.length]} ${k}` });
    let apps = Array.from({ length: 12 }, (_, k) => wordy(k));
    let text = JSON.stringify(configOf(apps), null, 2);
    let ix = index(text);
    expect(ix.bytes.length).toBeGreaterThan(text.length);
    for (let round = 0; round < 200; round++) {
      apps = [...apps];
      const at = Math.floor(rnd() * apps.length);
      if (rnd() < 0.5) apps.splice(at, 0, wordy(5000 + round));
      else if (apps.length > 2) apps.splice(at, 1);
      text = JSON.stringify(configOf(apps), null, 2);
      const got = spliceJson(ix, Buffer.from(text));
      expect(got, `round ${round}`).toBeDefined();
      expect(got!.value).toStrictEqual(JSON.parse(text));
      expect(got!.arrays).toStrictEqual(index(text).arrays);
      ix = got!;
    }
  });

  it('bytes that are not UTF-8: not indexed, and a splice is what a whole parse of their decoding makes', () => {
    const rnd = random(17);
    const text = JSON.stringify(configOf([app(1, rnd), app(2, rnd), app(3, rnd)]));
    const prev = index(text);
    const at = text.indexOf('app-2') + 4;
    for (const bad of [[0x80], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xff, 0xfe]]) {
      const bytes = Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(bad), Buffer.from(text.slice(at))]);
      const decoded = bytes.toString('utf8');
      const got = spliceJson(prev, bytes);
      if (got !== undefined) expect(got.value).toStrictEqual(JSON.parse(decoded));
      const whole = indexJson(decoded, JSON.parse(decoded), bytes);
      // indexed only where every offset maps (each bad sequence three bytes, as its U+FFFD): then splices from it work
      if (whole !== undefined) expect(spliceJson(whole, Buffer.from(JSON.stringify(configOf([app(1, rnd)]))))).toBeDefined();
      else expect(Buffer.byteLength(decoded)).not.toBe(bytes.length);
    }
  });
});
