// Network namespaces for kernel tests: unique names, real commands, removal even on failure.
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'vitest';

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs a command; never throws for a non-zero exit (returns the code). */
export function run(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ stdout: String(stdout), stderr: String(stderr), code });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs a command and throws with its stderr when it fails. */
export async function must(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

function probeKernel(): { ok: boolean; why?: string } {
  if (process.getuid?.() !== 0) return { ok: false, why: 'not root' };
  const name = `enprobe-${process.pid}-${randomBytes(3).toString('hex')}`;
  const add = spawnSync('ip', ['netns', 'add', name]);
  if (add.status !== 0) return { ok: false, why: `ip netns add failed: ${String(add.stderr).trim() || add.error?.message}` };
  spawnSync('ip', ['netns', 'del', name]);
  return { ok: true };
}

const probe = probeKernel();
export const kernelAvailable = probe.ok;
export const kernelRequired = process.env.EDGENET_REQUIRE_KERNEL === '1';

/**
 * `describe` for data-plane tests: runs when root and netns are available; otherwise skips, except under
 * EDGENET_REQUIRE_KERNEL=1, where the missing kernel is a failing test.
 */
export function describeKernel(name: string, fn: () => void): void {
  if (kernelAvailable) {
    describe(name, fn);
  } else if (kernelRequired) {
    describe(name, () => {
      it('needs root and network namespaces (EDGENET_REQUIRE_KERNEL=1)', () => {
        throw new Error(`kernel tests required but unavailable: ${probe.why}`);
      });
    });
  } else {
    describe.skip(`${name} (skipped: ${probe.why})`, fn);
  }
}

/** A short unique tag for names in one test: namespace names, and interface names that must fit 15 chars. */
export function uniqueTag(): string {
  return `${(process.pid % 1000).toString(36)}${randomBytes(2).toString('hex')}`;
}

export class Netns {
  private constructor(readonly name: string) {}

  /** Creates `ent-<tag>-<role>` with lo up. */
  static async create(tag: string, role: string): Promise<Netns> {
    const ns = new Netns(`ent-${tag}-${role}`);
    await must('ip', ['netns', 'add', ns.name]);
    await must('ip', ['-n', ns.name, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  get path(): string {
    return `/run/netns/${this.name}`;
  }

  exec(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  async must(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<string> {
    return must('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  /** `ip -n <ns> ...` */
  ip(...args: string[]): Promise<string> {
    return must('ip', ['-n', this.name, ...args]);
  }

  async ping(target: string, opts: { count?: number; timeoutS?: number } = {}): Promise<boolean> {
    const r = await this.exec('ping', ['-c', String(opts.count ?? 1), '-W', String(opts.timeoutS ?? 2), '-q', target]);
    return r.code === 0;
  }

  /** Kills the processes still inside the namespace (ones our test started there), then removes it. */
  async remove(): Promise<void> {
    const pids = (await run('ip', ['netns', 'pids', this.name])).stdout.split(/\s+/).filter(Boolean).map(Number);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await run('ip', ['netns', 'del', this.name]);
  }
}

/** Collects namespaces made by one test so `afterEach` can remove them all, even when the test failed. */
export class NetnsPool {
  private readonly all: Netns[] = [];
  readonly tag = uniqueTag();

  async add(role: string): Promise<Netns> {
    const ns = await Netns.create(this.tag, role);
    this.all.push(ns);
    return ns;
  }

  /** Removes one namespace now (e.g. a container going away). */
  async remove(ns: Netns): Promise<void> {
    await ns.remove();
  }

  /** Creates a namespace again under the same name (a container coming back). */
  async readd(ns: Netns): Promise<Netns> {
    const again = await Netns.create(this.tag, ns.name.slice(`ent-${this.tag}-`.length));
    const i = this.all.indexOf(ns);
    if (i >= 0) this.all[i] = again;
    else this.all.push(again);
    return again;
  }

  async removeAll(): Promise<void> {
    const list = this.all.splice(0).reverse();
    for (const ns of list) await ns.remove();
  }
}

/** Waits until `check` returns a truthy value, polling every `everyMs`; throws with `what` on timeout. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
