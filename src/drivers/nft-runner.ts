// How edgenet runs nftables. In the namespace it manages itself (no command prefix), through libnftables, the library
// the `nft` command is a thin shell around, loaded into this process with koffi (an FFI): a transaction or a listing
// costs about a millisecond, where an `nft` process cost 10–35 ms (a fork of a large process, nft's start and its
// cache). The call runs on libuv's thread pool, so the event loop does not wait for the kernel; calls take turns on
// one libnftables context. Elsewhere (a command prefix such as `ip netns exec X`, as the driver tests use) or when
// the library cannot be loaded, the `nft` command runs, as before. Both take nft's own arguments and give nft's
// output and messages, so callers need not know which ran. `EDGENET_NFT=command` forces the command.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { runCommand, type CommandResult } from './run-command.ts';
import type { EdgenetLogger as Logger } from '../util/logger.ts';

/** nft's arguments (`-j`, `-e`, `-a`, `-f -` or a command's words) and the text of `-f -`. */
export type NftRun = (args: string[], input: string | undefined, signal?: AbortSignal) => Promise<CommandResult>;

export interface NftRunner {
  run: NftRun;
  /** `library` once libnftables is loaded and used; `command` when the nft command runs */
  mode(): 'library' | 'command' | 'unknown';
}

// fcntl.h
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const O_CLOEXEC = 0o2000000;
// libnftables.h: output flags
const OUTPUT_HANDLE = 1 << 3;
const OUTPUT_JSON = 1 << 4;
const OUTPUT_ECHO = 1 << 5;
const FLAG_OF: Readonly<Record<string, number>> = { '-j': OUTPUT_JSON, '--json': OUTPUT_JSON, '-e': OUTPUT_ECHO, '--echo': OUTPUT_ECHO, '-a': OUTPUT_HANDLE, '--handle': OUTPUT_HANDLE };

/** What a run asks of libnftables; undefined when it uses an option the library path does not map (the command runs). */
export function libraryCall(args: readonly string[], input: string | undefined): { flags: number; buffer: string } | undefined {
  let flags = 0;
  let fromInput = false;
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (words.length === 0 && a.startsWith('-')) {
      const f = FLAG_OF[a];
      if (f !== undefined) flags |= f;
      else if ((a === '-f' || a === '--file') && args[i + 1] === '-') {
        fromInput = true;
        i++;
      } else return undefined;
    } else words.push(a);
  }
  if (fromInput) return words.length === 0 && input !== undefined ? { flags, buffer: input } : undefined;
  return words.length > 0 ? { flags, buffer: words.join(' ') } : undefined;
}

/** Pids of nft processes edgenet started, told to whoever follows `nft monitor` (their transactions are ours). */
const spawnListeners = new Set<(pid: number) => void>();
export function onNftSpawn(listener: (pid: number) => void): () => void {
  spawnListeners.add(listener);
  return () => spawnListeners.delete(listener);
}

function commandRunner(exec: readonly string[]): NftRun {
  return (args, input, signal) =>
    runCommand([...exec, 'nft', ...args], input, signal, (pid) => {
      for (const l of spawnListeners) l(pid);
    });
}

interface Library {
  /** runs one buffer (one transaction) with these output flags: nft's return code, output and messages */
  run(flags: number, buffer: string): Promise<{ rc: number; out: string; err: string }>;
}

type Ctx = object;
type AsyncFn<A extends unknown[], R> = ((...args: A) => R) & { async: (...args: [...A, (err: unknown, result: R) => void]) => void };

async function loadLibrary(): Promise<Library> {
  const { load } = await import('koffi');
  const so = load('libnftables.so.1');
  const fn = <F>(definition: string): F => so.func(definition) as F;
  const ctxNew = fn<(flags: number) => Ctx | null>('void *nft_ctx_new(uint32_t flags)');
  const bufferOutput = fn<(ctx: Ctx) => number>('int nft_ctx_buffer_output(void *ctx)');
  const bufferError = fn<(ctx: Ctx) => number>('int nft_ctx_buffer_error(void *ctx)');
  const outputBuffer = fn<(ctx: Ctx) => string | null>('const char *nft_ctx_get_output_buffer(void *ctx)');
  const errorBuffer = fn<(ctx: Ctx) => string | null>('const char *nft_ctx_get_error_buffer(void *ctx)');
  const setFlags = fn<(ctx: Ctx, flags: number) => void>('void nft_ctx_output_set_flags(void *ctx, uint32_t flags)');
  const runBuffer = fn<AsyncFn<[Ctx, string], number>>('int nft_run_cmd_from_buffer(void *ctx, const char *buf)');
  // libnftables opens its netfilter socket without SOCK_CLOEXEC (libmnl), when it first needs it: every child edgenet
  // starts (dnsmasq, nft monitor, ip) would inherit it. Until it has been found, and again after a failed call (the
  // library may have opened another), a socket of this process that lacks O_CLOEXEC (fdinfo's flags) gets
  // FD_CLOEXEC: not a scan of the descriptors on every call.
  const libc = load('libc.so.6');
  const fcntl = libc.func('int fcntl(int fd, int cmd, int arg)') as (fd: number, cmd: number, arg: number) => number;
  const checked = new Map<string, string>();
  let socketMarked = false;
  const closeOnExec = (): void => {
    for (const fd of readdirSync('/proc/self/fd')) {
      let target: string;
      try {
        target = readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        continue;
      }
      if (checked.get(fd) === target || !target.startsWith('socket:')) continue;
      checked.set(fd, target);
      const flags = /flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
      if (flags !== undefined && (parseInt(flags, 8) & O_CLOEXEC) === 0 && fcntl(Number(fd), F_SETFD, FD_CLOEXEC) === 0) socketMarked = true;
    }
  };
  const ctx = ctxNew(0);
  if (ctx === null) throw new Error('nft_ctx_new failed');
  closeOnExec();
  if (bufferOutput(ctx) !== 0 || bufferError(ctx) !== 0) throw new Error('nft_ctx_buffer_output/error failed');
  // one call at a time on the one context: its buffers are read (and reset) before the next call starts
  let tail: Promise<unknown> = Promise.resolve();
  const one = (flags: number, buffer: string): Promise<{ rc: number; out: string; err: string }> =>
    new Promise((resolve, reject) => {
      setFlags(ctx, flags);
      runBuffer.async(ctx, buffer, (err, rc) => {
        const out = outputBuffer(ctx) ?? '';
        const msg = errorBuffer(ctx) ?? '';
        if (!socketMarked || err || rc !== 0) closeOnExec();
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve({ rc, out, err: msg });
      });
    });
  return {
    run(flags, buffer) {
      const p = tail.then(() => one(flags, buffer));
      tail = p.catch(() => undefined);
      return p;
    },
  };
}

let library: Promise<Library | undefined> | undefined;
let libraryMode: 'library' | 'command' | 'unknown' = 'unknown';

/** libnftables in this process, loaded once; undefined (and said once) when it cannot be. */
function theLibrary(logger: Logger | undefined): Promise<Library | undefined> {
  library ??= loadLibrary().then(
    (lib) => {
      libraryMode = 'library';
      logger?.info('nftables through libnftables in this process');
      return lib;
    },
    (e: unknown) => {
      libraryMode = 'command';
      logger?.warn({ err: e instanceof Error ? e.message : String(e) }, 'libnftables could not be loaded: running the nft command for each change');
      return undefined;
    },
  );
  return library;
}

export interface NftRunnerOptions {
  /** command prefix, e.g. `['ip', 'netns', 'exec', 'ent-x-dev']`; empty: this process's namespace (the library) */
  exec?: readonly string[];
  logger?: Logger;
}

export function createNftRunner(opts: NftRunnerOptions = {}): NftRunner {
  const exec = opts.exec ?? [];
  const command = commandRunner(exec);
  if (exec.length > 0 || process.env.EDGENET_NFT === 'command') return { run: command, mode: () => 'command' };
  // loaded now, not at the first change: koffi and the library take ~30 ms to load
  void theLibrary(opts.logger);
  return {
    mode: () => libraryMode,
    async run(args, input, signal) {
      signal?.throwIfAborted();
      const call = libraryCall(args, input);
      const lib = call ? await theLibrary(opts.logger) : undefined;
      if (!call || !lib) return command(args, input, signal);
      signal?.throwIfAborted();
      const r = await lib.run(call.flags, call.buffer);
      return { code: r.rc === 0 ? 0 : 1, stdout: r.out, stderr: r.err };
    },
  };
}
