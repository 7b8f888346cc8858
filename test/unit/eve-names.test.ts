// Names edgenet derives for an EVE document's NIs, apps and tap interfaces.
import { describe, expect, it } from 'vitest';
import { appTapTags, NameAllocator, slug, tapName } from '../../src/eve/eve-names.ts';

const NI_NAME = /^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;

describe('EVE names', () => {
  it('slugs display names: lowercase, other characters become "-"', () => {
    expect(slug('Plant LAN')).toBe('plant-lan');
    expect(slug('  Line #2 / Cell_A ')).toBe('line-2-cell-a');
    expect(slug('***')).toBe('');
  });

  it('keeps a fitting name, and shortens a long one with a hash of the uuid (deterministically)', () => {
    const names = new NameAllocator(15, 'ni');
    expect(names.allocate('Plant LAN', 'u1')).toBe('plant-lan');
    const long = names.allocate('Production line network north', 'u2');
    expect(long).toMatch(NI_NAME);
    expect(long).toMatch(/^production-/);
    expect(new NameAllocator(15, 'ni').allocate('Production line network north', 'u2')).toBe(long);
    expect(new NameAllocator(15, 'ni').allocate('Production line network north', 'u3')).not.toBe(long);
  });

  it('gives a taken name to the first object only; later ones get a hash suffix', () => {
    const names = new NameAllocator(15, 'ni');
    const first = names.allocate('lan', 'u1');
    const second = names.allocate('LAN', 'u2');
    expect(first).toBe('lan');
    expect(second).toMatch(/^lan-[0-9a-f]{4}$/);
  });

  it('names an object whose display name has no usable character after its kind', () => {
    const names = new NameAllocator(15, 'ni');
    expect(names.allocate('', 'u1')).toMatch(/^ni-[0-9a-f]{4}$/);
    expect(names.allocate('%%%', 'u2')).toMatch(/^ni-[0-9a-f]{4}$/);
  });

  it('names taps nbu + 8 hex of the app uuid + x + adapter index, within 15 characters', () => {
    const tags = appTapTags(['6f1c2a9b-5d3e-4f60-8a71-92b3c4d5e6f7', 'not-a-uuid']);
    expect(tapName(tags.get('6f1c2a9b-5d3e-4f60-8a71-92b3c4d5e6f7') ?? '', 0)).toBe('nbu6f1c2a9bx0');
    expect(tags.get('not-a-uuid')).toMatch(/^[0-9a-f]{8}$/);
    expect(tapName('6f1c2a9b', 999)).toHaveLength(15);
  });

  it('falls back to hashes for apps whose uuids share their first 8 hex digits', () => {
    const tags = appTapTags(['c0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-000000000002', 'd1000000-0000-4000-8000-000000000001']);
    expect(tags.get('c0000000-0000-4000-8000-000000000001')).not.toBe('c0000000');
    expect(tags.get('c0000000-0000-4000-8000-000000000001')).not.toBe(tags.get('c0000000-0000-4000-8000-000000000002'));
    expect(tags.get('d1000000-0000-4000-8000-000000000001')).toBe('d1000000');
  });
});
