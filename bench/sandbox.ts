// Everything the bench makes lives in namespaces named `enbench-<pid>-<role>` and temp dirs it created; cleanup()
// kills the processes inside those namespaces (all started by this bench: daemons, their dnsmasqs, baseline
// dnsmasqs, the kernel hands), deletes the namespaces and the dirs. It runs on normal exit, on failure, and on
// SIGINT/SIGTERM/SIGHUP. Nothing here touches the root namespace.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { must, run } from '../test/helpers/command.ts';

export { must, run, type RunResult } from '../test/helpers/command.ts';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Sandbox {
  readonly prefix = `enbench-${process.pid}`;
  private readonly namespaces: string[] = [];
  private readonly dirs: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private cleaning: Promise<void> | undefined;
  private readonly onSignal = (sig: NodeJS.Signals): void => {
    console.error(`\nbench: ${sig}: cleaning up ${this.prefix}-*`);
    void this.cleanup().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };

  constructor() {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, this.onSignal);
  }

  /** Creates `enbench-<pid>-<role>` with lo up; returns its name. */
  async netns(role: string): Promise<string> {
    const name = `${this.prefix}-${role}`;
    await must('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    await must('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** A temp dir searchable by dnsmasq's unprivileged user (it re-reads its hosts files after dropping root). */
  async dir(tag: string): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), `${this.prefix}-${tag}-`));
    await chmod(d, 0o755);
    this.dirs.push(d);
    return d;
  }

  /** Spawns a process inside a namespace (nsenter execs it: the child's pid is the program's own). */
  spawnIn(ns: string, argv: string[], opts: Parameters<typeof spawn>[2] = {}): ChildProcess {
    const child = spawn('nsenter', [`--net=/run/netns/${ns}`, ...argv], opts);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Kills the processes inside one of our namespaces, then deletes it. */
  async removeNetns(name: string): Promise<void> {
    const pids = (await run('ip', ['netns', 'pids', name])).stdout.split(/\s+/).filter(Boolean).map(Number);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
    if (pids.length) await sleep(50);
    await run('ip', ['netns', 'del', name]);
    const i = this.namespaces.indexOf(name);
    if (i >= 0) this.namespaces.splice(i, 1);
  }

  cleanup(): Promise<void> {
    this.cleaning ??= (async () => {
      for (const child of this.children) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      for (const ns of [...this.namespaces].reverse()) await this.removeNetns(ns);
      for (const d of this.dirs) await rm(d, { recursive: true, force: true });
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(sig, this.onSignal);
    })();
    return this.cleaning;
  }
}
