// `edgenet run`'s glibc malloc tuning (src/daemon/malloc-tuning.ts): the arena limit, and the trim after applies.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { collectGarbage, GC_AFTER_CHANGES, limitMallocArenas, MallocTrimmer, trimMalloc } from '../../src/daemon/malloc-tuning.ts';

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

  it('collects garbage before the trim once after an apply of many changes, not after small ones', () => {
    vi.useFakeTimers();
    const order: string[] = [];
    const trimmer = new MallocTrimmer({ delayMs: 1000, trim: () => order.push('trim'), gc: () => order.push('gc') });
    trimmer.soon(GC_AFTER_CHANGES);
    trimmer.soon(1);
    vi.advanceTimersByTime(1000);
    trimmer.soon(GC_AFTER_CHANGES - 1);
    vi.advanceTimersByTime(1000);
    expect(order).toEqual(['gc', 'trim', 'trim']);
  });

  it('reaches V8\'s full GC at run time', () => {
    expect(() => collectGarbage()).not.toThrow();
  });
});
