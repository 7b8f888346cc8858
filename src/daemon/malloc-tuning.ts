// glibc's malloc, tuned for the daemon at run time (README "Memory"; bench/memory.ts measures it). Two calls into
// libc through koffi (loaded anyway for libnftables):
//   mallopt(M_ARENA_MAX, 2)  glibc gives each thread that allocates an arena of its own (up to 8 per core: V8's
//                            platform threads and libuv's pool); the daemon's threads allocate little, so two are
//                            enough. The same as MALLOC_ARENA_MAX=2 in the environment, which glibc reads only at
//                            the process's start: set at `run`, it counts for every arena made after it (threads
//                            that allocated before keep theirs).
//   malloc_trim(0)           1 s after the last apply, transition or API request (after a large apply: at most 5
//                            s after it, even if events keep coming), hands the free pages of every arena
//                            back to the kernel (malloc keeps freed memory in its arenas for the next allocation: the
//                            buffers of a converge's link dumps, events and nft transactions stay resident otherwise).
//                            ~0.1 ms when there is little to give back; at most once a second.
//   a full GC before that trim, once after an apply that changed many objects (a converge, a remove-all), or when
//   the V8 heap has grown by GC_AFTER_GROWTH_BYTES since the last full GC of this trimmer (API answers: a status
//   at 10 000 endpoints leaves megabytes in the old generation): the old generation otherwise holds that garbage
//   until it reaches V8's next limit, and the memory reducer did not give it back within 30 s (bench/memory.ts).
//   One pause, taken when the daemon has been quiet for the delay (measured below).
// $MALLOC_ARENA_MAX set: glibc has applied it already, and edgenet leaves it. Not glibc (musl): nothing to tune.
import { createRequire } from 'node:module';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const M_ARENA_MAX = -8;
const DEFAULT_ARENAS = 2;

interface Libc {
  mallopt(param: number, value: number): number;
  malloc_trim(pad: number): number;
}

let libc: Libc | null | undefined;

function theLibc(): Libc | null {
  if (libc !== undefined) return libc;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const so = koffi.load('libc.so.6');
    libc = {
      mallopt: so.func('int mallopt(int param, int value)') as Libc['mallopt'],
      malloc_trim: so.func('int malloc_trim(size_t pad)') as Libc['malloc_trim'],
    };
  } catch {
    libc = null;
  }
  return libc;
}

/** The arena limit `run` sets: undefined when $MALLOC_ARENA_MAX is set (glibc took it at start) or libc is not glibc. */
export function limitMallocArenas(env: NodeJS.ProcessEnv = process.env): number | undefined {
  if (env.MALLOC_ARENA_MAX !== undefined) return undefined;
  const c = theLibc();
  if (!c) return undefined;
  return c.mallopt(M_ARENA_MAX, DEFAULT_ARENAS) === 1 ? DEFAULT_ARENAS : undefined;
}

/** Free malloc pages back to the kernel; false where that cannot be done (not glibc). */
export function trimMalloc(): boolean {
  const c = theLibc();
  if (!c) return false;
  c.malloc_trim(0);
  return true;
}

/** An apply that changed at least this many objects is followed by a full GC before the trim. */
export const GC_AFTER_CHANGES = 256;
/** A V8 heap grown by this much since the last full GC (of this trimmer) gets one before the trim too. */
export const GC_AFTER_GROWTH_BYTES = 32 * 1024 * 1024;

let fullGc: (() => void) | undefined;

/** V8's full GC, as `--expose-gc` gives it (set at run time: only a new context sees `gc`). */
export function collectGarbage(): void {
  if (!fullGc) {
    setFlagsFromString('--expose-gc');
    fullGc = runInNewContext('gc') as () => void;
  }
  fullGc();
}

/**
 * Trims `delayMs` after the last `soon()` (a timer that does not hold the process), after a full GC when one of the
 * calls since the last trim was for `GC_AFTER_CHANGES` changes or more; `close()` cancels it.
 */
export interface MallocTrimmerOptions {
  /** after the last `soon()` (default 1000 ms) */
  delayMs?: number;
  /**
   * after a large apply, its GC comes at most this long after it (default 5000 ms): events that keep trickling in
   * (at 10 000 links the kernel announces carrier changes for tens of seconds after a converge) do not put it off
   * for ever. Other trims wait for a quiet second however long that takes: a GC in the middle of a port's flaps or
   * of a stream of pushes would hold each of them up
   */
  maxWaitMs?: number;
  trim?: () => unknown;
  gc?: () => void;
  /** bytes of the V8 heap in use (default: v8.getHeapStatistics().used_heap_size) */
  heapUsed?: () => number;
  /** told how long the GC (when there was one) and the trim took, ms, and why there was a GC */
  report?: (took: { gcMs?: number; trimMs: number; why?: GcReason; grownBytes: number }) => void;
}

/** Why a full GC came before the trim: a large apply, or a heap grown since the last one. */
export type GcReason = 'large apply' | 'heap grew';

export class MallocTrimmer {
  private timer: NodeJS.Timeout | undefined;
  /** when the large apply whose GC is pending was told (performance.now()) */
  private collectSince = 0;
  private collect = false;
  private readonly delayMs: number;
  private readonly maxWaitMs: number;
  private readonly trim: () => unknown;
  private readonly gc: () => void;
  private readonly report: MallocTrimmerOptions['report'];
  private readonly heapUsed: () => number;
  /** the heap in use after this trimmer's last full GC (at first: when it was made) */
  private usedAfterGc: number;
  constructor(opts: MallocTrimmerOptions = {}) {
    this.delayMs = opts.delayMs ?? 1000;
    this.maxWaitMs = opts.maxWaitMs ?? 5000;
    this.trim = opts.trim ?? trimMalloc;
    this.gc = opts.gc ?? collectGarbage;
    this.report = opts.report;
    this.heapUsed = opts.heapUsed ?? (() => getHeapStatistics().used_heap_size);
    this.usedAfterGc = this.heapUsed();
  }
  /** `changes`: how many objects the apply changed (transitions, API requests: 0) */
  soon(changes = 0): void {
    const now = performance.now();
    if (changes >= GC_AFTER_CHANGES && !this.collect) {
      this.collect = true;
      this.collectSince = now;
    }
    // the delay after this call, or (a large apply's GC pending) what is left of the longest wait
    const wait = this.collect ? Math.max(0, Math.min(this.delayMs, this.collectSince + this.maxWaitMs - now)) : this.delayMs;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fire(), wait);
    this.timer.unref();
  }
  private fire(): void {
    this.timer = undefined;
    // (V8's own full GCs meanwhile lower what is in use: the growth is then counted short, never long)
    const grownBytes = this.heapUsed() - this.usedAfterGc;
    const why: GcReason | undefined = this.collect ? 'large apply' : grownBytes >= GC_AFTER_GROWTH_BYTES ? 'heap grew' : undefined;
    const t0 = performance.now();
    if (why) {
      // twice: the first frees the garbage, the second compacts the pages it left sparse (bench/memory.ts at 10 000
      // taps: one GC left the heap at 225 MiB committed for 100 used)
      this.gc();
      this.gc();
      this.usedAfterGc = this.heapUsed();
    }
    const t1 = performance.now();
    this.trim();
    this.report?.({ ...(why && { gcMs: t1 - t0, why }), trimMs: performance.now() - t1, grownBytes });
    this.collect = false;
  }
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
