// `edgenet run`'s glibc malloc tuning (src/daemon/malloc-tuning.ts): the arena limit, and the trim after applies.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { collectGarbage, GC_AFTER_CHANGES, GC_AFTER_GROWTH_BYTES, limitMallocArenas, MallocTrimmer, trimMalloc } from '../../src/daemon/malloc-tuning.ts';

const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime !== undefined;

describe('malloc tuning', () => {
  afterEach(() => vi.useRealTimers());

  it('limits the arenas to two on glibc, and leaves a MALLOC_ARENA_MAX that glibc read at start', () => {
    expect(limitMallocArenas({ MALLOC_ARENA_MAX: '4' })).toBeUndefined();
    expect(limitMallocArenas({})).toBe(glibc ? 2 : undefined);
    expect(trimMalloc()).toBe(glibc);
  });

  it('trims once, a delay after the last of several applies; close() cancels it', () => {
    vi.useFakeTimers();
    const trim = vi.fn();
    const gc = vi.fn();
    const trimmer = new MallocTrimmer({ delayMs: 1000, trim, gc });
    trimmer.soon();
    vi.advanceTimersByTime(600);
    trimmer.soon();
    vi.advanceTimersByTime(600);
    expect(trim).not.toHaveBeenCalled();
    vi.advanceTimersByTime(400);
    expect(trim).toHaveBeenCalledTimes(1);
    trimmer.soon();
    trimmer.close();
    vi.advanceTimersByTime(5000);
    expect(trim).toHaveBeenCalledTimes(1);
    expect(gc).not.toHaveBeenCalled();
  });

  it('after a large apply, collects at most maxWaitMs after it while calls keep coming; other trims wait for a quiet delay', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const trim = vi.fn();
    const gc = vi.fn();
    const trimmer = new MallocTrimmer({ delayMs: 1000, maxWaitMs: 5000, trim, gc, heapUsed: () => 0 });
    // transitions every 300 ms: never a quiet second, and no trim while they come
    for (let t = 0; t < 6000; t += 300) {
      trimmer.soon();
      vi.advanceTimersByTime(300);
    }
    expect(trim).not.toHaveBeenCalled();
    // a large apply among them: its GC 5 s after it, however they go on
    trimmer.soon(GC_AFTER_CHANGES);
    for (let t = 0; t < 4800; t += 300) {
      vi.advanceTimersByTime(300);
      trimmer.soon();
    }
    expect(gc).not.toHaveBeenCalled();
    vi.advanceTimersByTime(200);
    expect(gc).toHaveBeenCalledTimes(2);
    expect(trim).toHaveBeenCalledTimes(1);
    // then the quiet second again
    trimmer.soon();
    vi.advanceTimersByTime(999);
    expect(trim).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(trim).toHaveBeenCalledTimes(2);
    trimmer.close();
  });

  it('collects garbage (two full GCs: the second compacts) before the trim once after an apply of many changes, not after small ones', () => {
    vi.useFakeTimers();
    const order: string[] = [];
    const trimmer = new MallocTrimmer({ delayMs: 1000, trim: () => order.push('trim'), gc: () => order.push('gc') });
    trimmer.soon(GC_AFTER_CHANGES);
    trimmer.soon(1);
    vi.advanceTimersByTime(1000);
    trimmer.soon(GC_AFTER_CHANGES - 1);
    vi.advanceTimersByTime(1000);
    expect(order).toEqual(['gc', 'gc', 'trim', 'trim']);
  });

  it('collects garbage before the trim when the heap grew by GC_AFTER_GROWTH_BYTES since its last full GC', () => {
    vi.useFakeTimers();
    let used = 100e6;
    const order: string[] = [];
    const reasons: (string | undefined)[] = [];
    const gc = (): void => {
      order.push('gc');
      used = 100e6;
    };
    const trimmer = new MallocTrimmer({ delayMs: 1000, trim: () => order.push('trim'), gc, heapUsed: () => used, report: (t) => reasons.push(t.why) });
    // an answer that left less than the threshold: the trim alone
    used += GC_AFTER_GROWTH_BYTES - 1;
    trimmer.soon();
    vi.advanceTimersByTime(1000);
    // more since (counted from the last full GC, not from the last trim): one GC, and the count starts over after it
    used += 2;
    trimmer.soon();
    vi.advanceTimersByTime(1000);
    used += 1024;
    trimmer.soon();
    vi.advanceTimersByTime(1000);
    expect(order).toEqual(['trim', 'gc', 'gc', 'trim', 'trim']);
    expect(reasons).toEqual([undefined, 'heap grew', undefined]);
  });

  it('reaches V8\'s full GC at run time', () => {
    expect(() => collectGarbage()).not.toThrow();
  });
});
