// A partial apply (EVE semantics) refuses an app interface that gets no address alone, applies the rest, and builds
// the refused one without a push of its own once an address is free (a wider range, or another app's removal).
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { fakeEdgenet, type FakeSystem } from '../helpers/fake-edgenet.ts';

const config = (apps: string[], end = '10.1.0.10') => ({
  networks: [{ name: 'lan', type: 'local', subnet: '10.1.0.0/24', dhcpRange: { start: '10.1.0.10', end } }],
  apps: apps.map((name) => ({ name, interfaces: [{ network: 'lan', tap: `tap-${name}` }] })),
});

describe('partial apply (EVE semantics) on fake drivers', () => {
  let sys: FakeSystem | undefined;
  afterEach(async () => {
    await sys?.net.stop();
    sys = undefined;
  });

  it('refuses the interface that gets no address alone; a wider range serves it without moving the first', async () => {
    sys = await fakeEdgenet();
    const first = await sys.net.apply(config(['a', 'b']), { partial: true });
    expect(first.refused).toEqual([{ key: 'b/lan', app: 'b', network: 'lan', path: 'apps[1].interfaces[0]', reason: 'lan: no free address in 10.1.0.10-10.1.0.10 for b/lan' }]);
    expect(first.created).toEqual(expect.arrayContaining(['network lan', 'endpoint a/lan']));
    expect(first.created).not.toContain('endpoint b/lan');
    const s1 = sys.net.status();
    expect(s1.endpoints.map((e) => [e.app, e.ip])).toEqual([['a', '10.1.0.10']]);
    expect(s1.refused?.map((r) => r.key)).toEqual(['b/lan']);
    expect(sys.dhcpdns.spec('lan')?.reservations.map((r) => r.name)).toEqual(['a']);

    const wider = await sys.net.apply(config(['a', 'b'], '10.1.0.20'), { partial: true });
    expect(wider.refused).toBeUndefined();
    expect(wider.created).toEqual(['endpoint b/lan']);
    const s2 = sys.net.status();
    expect(s2.endpoints.map((e) => [e.app, e.ip])).toEqual([['a', '10.1.0.10'], ['b', '10.1.0.11']]);
    expect(s2.refused).toBeUndefined();
  });

  it("serves the refused interface in the push that removes another app (its address is freed by the removal)", async () => {
    sys = await fakeEdgenet();
    await sys.net.apply(config(['a', 'b']), { partial: true });
    const r = await sys.net.apply(config(['b']), { partial: true });
    expect(r.refused).toBeUndefined();
    expect(r.deleted).toContain('endpoint a/lan');
    expect(r.created).toContain('endpoint b/lan');
    expect(sys.net.status().endpoints.map((e) => [e.app, e.ip])).toEqual([['b', '10.1.0.10']]);
  });

  it("keeps edgenet's own all-or-nothing refusal without partial", async () => {
    sys = await fakeEdgenet();
    const err = await sys.net.apply(config(['a', 'b'])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([{ path: 'apps[1].interfaces[0]', message: 'lan: no free address in 10.1.0.10-10.1.0.10 for b/lan' }]);
  });
});
