// glibc's malloc, tuned for the daemon at run time (README "Memory"; bench/memory.ts measures it). Two calls into
// libc through koffi (loaded anyway for libnftables):
//   mallopt(M_ARENA_MAX, 2)  glibc gives each thread that allocates an arena of its own (up to 8 per core: V8's
//                            platform threads and libuv's pool); the daemon's threads allocate little, so two are
//                            enough. The same as MALLOC_ARENA_MAX=2 in the environment, which glibc reads only at
//                            the process's start: set at `run`, it counts for every arena made after it (threads
//                            that allocated before keep theirs).
//   malloc_trim(0)           1 s after the last apply or transition, hands the free pages of every arena
//                            back to the kernel (malloc keeps freed memory in its arenas for the next allocation: the
//                            buffers of a converge's link dumps, events and nft transactions stay resident otherwise).
//                            ~0.1 ms when there is little to give back; at most once a second.
// $MALLOC_ARENA_MAX set: glibc has applied it already, and edgenet leaves it. Not glibc (musl): nothing to tune.
import { createRequire } from 'node:module';

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

/** Trims `delayMs` after the last `soon()` (a timer that does not hold the process); `close()` cancels it. */
export class MallocTrimmer {
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly delayMs = 1000,
    private readonly trim: () => unknown = trimMalloc,
  ) {}
  soon(): void {
    if (this.timer) this.timer.refresh();
    else {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.trim();
      }, this.delayMs);
      this.timer.unref();
    }
  }
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
