// PUT /v1/config with the last push's body again: the same document, parsed once and marked unchanging (O(change) pushes).
import { describe, expect, it } from 'vitest';
import { ConfigBodyCache } from '../../src/api/config-body-cache.ts';
import { parseConfigBody } from '../../src/api/server.ts';
import { isDeepFrozen } from '../../src/config/push-cache.ts';
import { toAppliable } from '../../src/eve/eve-load.ts';

describe('config body cache', () => {
  const body = JSON.stringify({ networks: [{ name: 'sw', type: 'switch' }], apps: [{ name: 'a', interfaces: [{ network: 'sw', tap: 'ta' }] }] });
  const make = (text: string) => () => toAppliable(parseConfigBody(text, 'application/json'));

  it('parses a body once: the same text and key give the same document, known unchanging (not frozen: that cost O(n) per body)', () => {
    const cache = new ConfigBodyCache();
    let parses = 0;
    const counted = (text: string) => () => {
      parses++;
      return make(text)();
    };
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
});
