import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NetnsWatcher } from '../../src/reconcile/netns-watch.ts';

describe('NetnsWatcher: the directories of the app namespaces', () => {
  let dir: string;
  const watchers: NetnsWatcher[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-netns-watch-'));
    for (const d of ['a', 'b', 'c']) await mkdir(join(dir, d));
  });
  afterEach(async () => {
    for (const w of watchers.splice(0)) await w.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('changePaths (what an apps-only push changed) watches what watchPaths of the whole list watches', () => {
    const incremental = new NetnsWatcher(() => undefined);
    const full = new NetnsWatcher(() => undefined);
    watchers.push(incremental, full);
    const paths = (d: string, i: number): string => join(dir, d, `ns${i}`);
    // a multiset of namespace paths (two apps may share one), changed a few at a time
    let now: string[] = [paths('a', 1), paths('a', 1), paths('b', 1)];
    incremental.watchPaths(now);
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let step = 0; step < 200; step++) {
      const removed = now.filter(() => rand(4) === 0);
      const kept = [...now];
      for (const r of removed) kept.splice(kept.indexOf(r), 1);
      const added = Array.from({ length: rand(3) }, () => paths(['a', 'b', 'c'][rand(3)]!, rand(3)));
      now = [...kept, ...added];
      incremental.changePaths(removed, added);
      full.watchPaths(now);
      expect(incremental.watched(), `step ${step}`).toEqual(full.watched());
    }
  });
});
