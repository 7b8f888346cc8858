// Network namespaces for kernel tests: unique names, real commands, removal even on failure.
import { spawnSync } from 'node:child_process';
import { must, run, type RunOptions, type RunResult } from './command.ts';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'vitest';

export { must, run, type RunResult } from './command.ts';

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

  exec(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  async must(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
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

/**
 * The device's uplink, as most kernel tests build it: `eth1` in the device (192.168.77.1/24) is a veth whose far
 * end `eth0` is a host outside (192.168.77.2/24) with no route back to the device's NIs.
 */
export async function addUplink(dev: Netns, outside: Netns): Promise<void> {
  await dev.ip('link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside.name);
  await dev.ip('addr', 'add', '192.168.77.1/24', 'dev', 'eth1');
  await dev.ip('link', 'set', 'eth1', 'up');
  await outside.ip('addr', 'add', '192.168.77.2/24', 'dev', 'eth0');
  await outside.ip('link', 'set', 'eth0', 'up');
}

/** A second uplink beside addUplink's: the device's eth2 (192.168.78.1/24) ↔ `outside`'s eth0 (192.168.78.2/24). */
export async function addSecondUplink(dev: Netns, outside: Netns): Promise<void> {
  await dev.ip('link', 'add', 'eth2', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside.name);
  await dev.ip('addr', 'add', '192.168.78.1/24', 'dev', 'eth2');
  await dev.ip('link', 'set', 'eth2', 'up');
  await outside.ip('addr', 'add', '192.168.78.2/24', 'dev', 'eth0');
  await outside.ip('link', 'set', 'eth0', 'up');
}
