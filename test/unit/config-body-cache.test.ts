// PUT /v1/config with the last push's body again: the same document, parsed once and marked unchanging (O(change) pushes).
import { describe, expect, it } from 'vitest';
import { ConfigBodyCache, type BodyParse } from '../../src/api/config-body-cache.ts';
import { parseConfigBody } from '../../src/api/server.ts';
import { isDeepFrozen } from '../../src/config/push-cache.ts';
import { toAppliable } from '../../src/eve/eve-load.ts';

describe('config body cache', () => {
  const body = JSON.stringify({ networks: [{ name: 'sw', type: 'switch' }], apps: [{ name: 'a', interfaces: [{ network: 'sw', tap: 'ta' }] }] });
  const make = (text: string): BodyParse => ({ json: true, parse: () => parseConfigBody(text, 'application/json'), convert: (d) => toAppliable(d) });

  it('parses a body once: the same text and key give the same document, known unchanging (not frozen: that cost O(n) per body)', () => {
    const cache = new ConfigBodyCache();
    let parses = 0;
    const counted = (text: string): BodyParse => ({
      ...make(text),
      parse: () => {
        parses++;
        return make(text).parse(text);
      },
    });
    const a = cache.get(body, 'application/json', counted(body));
    const b = cache.get(body, 'application/json', counted(body));
    expect(b).toBe(a);
    expect(parses).toBe(1);
    expect(isDeepFrozen(a.config)).toBe(true);
    expect(Object.isFrozen(a.config)).toBe(false);
    // another key (content type, query) or another text is parsed anew
    expect(cache.get(body, 'application/yaml', counted(body))).not.toBe(a);
    expect(cache.get(`${body} `, 'application/yaml', counted(`${body} `))).not.toBe(a);
    expect(parses).toBe(3);
  });

  it('a body that fails to parse is not kept', () => {
    const cache = new ConfigBodyCache();
    const first = cache.get(body, 'k', make(body));
    expect(() => cache.get('{', 'k', make('{'))).toThrow(/not valid JSON/);
    const again = cache.get(body, 'k', make(body));
    expect(again).not.toBe(first);
    expect(again.config).toStrictEqual(first.config);
  });
  it('a JSON body changed in one app is parsed in a few apps: the others are the last document\'s objects', () => {
    const cache = new ConfigBodyCache();
    const apps = (n: number) => Array.from({ length: n }, (_, k) => ({ name: `a${k}`, interfaces: [{ network: 'sw', tap: `t${k}` }] }));
    const text = (n: number) => JSON.stringify({ networks: [{ name: 'sw', type: 'switch' }], apps: apps(n) }, null, 2);
    let parses = 0;
    const counted = (t: string): BodyParse => ({ ...make(t), parse: () => (parses++, make(t).parse(t)) });
    const first = cache.get(text(50), 'k', counted(text(50)));
    const second = cache.get(text(51), 'k', counted(text(51)));
    expect(parses).toBe(1);
    expect(second.config).toStrictEqual(JSON.parse(text(51)));
    expect(isDeepFrozen(second.config)).toBe(true);
    const before = (first.config as { apps: unknown[] }).apps;
    const after = (second.config as { apps: unknown[] }).apps;
    expect(after.slice(0, 48)).toEqual(before.slice(0, 48));
    for (let k = 0; k < 48; k++) expect(after[k]).toBe(before[k]);
    // YAML, or another key, is parsed whole
    cache.get(text(52), 'k', { ...counted(text(52)), json: false });
    expect(parses).toBe(2);
    cache.get(text(53), 'other', counted(text(53)));
    expect(parses).toBe(3);
  });
});
