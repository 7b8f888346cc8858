// O(change) pushes (issue 20), end to end on fake drivers: one edgenet with incremental pushes, one with every push
// on the full path, fed the same random edits (apps added, removed, changed, reordered, broken; NIs and ports now
// and then; full address ranges; partial applies). After every push both answer the same (result, or the same
// errors with the same paths), run the same endpoints with the same addresses, and wrote the same last good config.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ConfigInput } from '../../src/config/config-schema.ts';
import { deepFreeze, PushCache } from '../../src/config/push-cache.ts';
import { LAST_GOOD_CONFIG } from '../../src/daemon/state-dir.ts';
import { createEdgenet } from '../../src/edgenet.ts';
import type { ApplyResult, Edgenet } from '../../src/edgenet-types.ts';
import { ConfigError } from '../../src/errors.ts';
import { createFakeDrivers } from '../../src/testing.ts';
import { readJournaled } from '../../src/util/journaled-file.ts';
import { ConfigEditor } from '../helpers/config-edits.ts';

interface Side {
  net: Edgenet;
  stateDir: string;
}

const sides: Side[] = [];
afterEach(async () => {
  for (const s of sides.splice(0)) {
    await s.net.stop();
    await rm(s.stateDir, { recursive: true, force: true });
  }
});

async function side(incrementalPushes: boolean): Promise<Side> {
  const stateDir = await mkdtemp(join(tmpdir(), 'edgenet-inc-'));
  const drivers = createFakeDrivers();
  drivers.links.addExternal('up0', { carrier: true });
  const net = createEdgenet({ stateDir, drivers, auditIntervalMs: 0, linkThrottleMs: 0, incrementalPushes });
  const s = { net, stateDir };
  sides.push(s);
  return s;
}

type Outcome = { ok: ApplyResult } | { error: string; issues?: unknown };

async function push(s: Side, config: unknown, partial: boolean): Promise<Outcome> {
  try {
    return { ok: await s.net.apply(config, partial ? { partial: true } : undefined) };
  } catch (err) {
    return err instanceof ConfigError ? { error: err.message, issues: err.issues } : { error: String(err) };
  }
}

function running(s: Side): unknown {
  const st = s.net.status();
  return {
    networks: st.networks.map((n) => [n.name, n.state]),
    endpoints: st.endpoints.map((e) => [e.app, e.network, e.kind, e.ifname, e.appIfname, e.netns, e.mac, e.ip]),
    ports: st.ports.map((p) => [p.name, p.network]),
    refused: st.refused,
  };
}

// what a restart reads: the snapshot and its journal (the two sides' journals may differ in their lines)
const lastGood = async (s: Side): Promise<string> => (await readJournaled(join(s.stateDir, LAST_GOOD_CONFIG)).catch(() => undefined)) ?? 'none';

describe('incremental pushes = full pushes (fake drivers, random edits)', () => {
  for (const seed of [11, 12, 13, 14, 15]) {
    it(`seed ${seed}: 150 pushes`, async () => {
      const inc = await side(true);
      const full = await side(false);
      const ed = new ConfigEditor(seed);
      let accepted: ConfigInput = structuredClone(ed.config);
      const judged = vi.spyOn(PushCache.prototype, 'tryIncremental');
      let lastFrozen: unknown;
      for (let step = 0; step < 150; step++) {
        const { what, config } = ed.next();
        const partial = step % 7 === 3;
        const at = `seed ${seed} step ${step}: ${what}${partial ? ' (partial)' : ''}`;
        // the incremental side gets the editor's object itself (changed in place by later edits), a frozen copy (as the
        // API server hands it), or the frozen object of the last good push again; the other side a copy
        const copy = structuredClone(config);
        const frozenAgain = what.startsWith('no-op') && lastFrozen !== undefined && step % 2 === 0;
        const given = frozenAgain ? lastFrozen : step % 3 === 0 ? deepFreeze(structuredClone(config)) : config;
        const a = await push(inc, given, partial);
        const b = await push(full, copy, partial);
        expect(a, at).toStrictEqual(b);
        expect(running(inc), at).toStrictEqual(running(full));
        expect(await lastGood(inc), at).toBe(await lastGood(full));
        if ('ok' in a) {
          accepted = structuredClone(copy);
          lastFrozen = Object.isFrozen(given) ? given : undefined;
        } else ed.reset(accepted);
      }
      // the incremental side took its own path for most pushes
      expect(judged.mock.results.filter((r) => r.value !== undefined).length).toBeGreaterThan(20);
      judged.mockRestore();
    }, 120_000);
  }

  it('a new app is not given the static address of an app that stays (the NI\'s statics are kept per NI)', async () => {
    const s = await side(true);
    const judged = vi.spyOn(PushCache.prototype, 'tryIncremental');
    const tiny = { name: 'tiny', type: 'local', subnet: '10.2.0.0/29' } as const;
    const apps = [{ name: 'a', interfaces: [{ network: 'tiny', tap: 'ta', ip: '10.2.0.4' }] }];
    await s.net.apply({ networks: [tiny], apps });
    await s.net.apply({ networks: [tiny], apps: [...apps, { name: 'b', interfaces: [{ network: 'tiny', tap: 'tb' }] }] });
    await s.net.apply({ networks: [tiny], apps: [...apps, { name: 'b', interfaces: [{ network: 'tiny', tap: 'tb' }] }, { name: 'c', interfaces: [{ network: 'tiny', tap: 'tc' }] }] });
    expect(s.net.status().endpoints.map((e) => [e.app, e.ip])).toEqual([['a', '10.2.0.4'], ['b', '10.2.0.5'], ['c', '10.2.0.6']]);
    expect(judged.mock.results.map((r) => r.value !== undefined)).toEqual([false, true, true]);
    // the range is full: refused, with the full path's words, and nothing moved
    const d = { name: 'd', interfaces: [{ network: 'tiny', tap: 'td' }] };
    const err = await s.net.apply({ networks: [tiny], apps: [...apps, { name: 'b', interfaces: [{ network: 'tiny', tap: 'tb' }] }, { name: 'c', interfaces: [{ network: 'tiny', tap: 'tc' }] }, d] }).catch((e: unknown) => e);
    expect((err as ConfigError).issues).toEqual([{ path: 'apps[3].interfaces[0]', message: 'tiny: no free address in 10.2.0.4-10.2.0.6 for d/tiny' }]);
    expect(s.net.status().endpoints.map((e) => e.app)).toEqual(['a', 'b', 'c']);
    judged.mockRestore();
  });
});
