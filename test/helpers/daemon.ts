// The real daemon, started inside a test's "device" namespace, driven over its unix socket.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createApiClient, type ApiClient } from '../../src/api/client.ts';
import { afterAll, afterEach, beforeAll, beforeEach, type TestContext } from 'vitest';
import type { Netns } from './netns.ts';
import { addUplink, eventually, NetnsPool } from './netns.ts';

const REPO = resolve(import.meta.dirname, '..', '..');

/** Every TestDaemon started and not yet removed in this test file (daemonTest() removes them after each test). */
const live = new Set<TestDaemon>();

export interface TestDaemonOptions {
  stateDir?: string;
  dir?: string;
  /** a separate runtime dir (socket, dnsmasq's files); default: the state dir holds both */
  runtimeDir?: string;
  /** `--allow-api-push` (default true: most tests push configs that differ from the file) */
  allowApiPush?: boolean;
  /** more `edgenet run` flags (`--no-watch`, …) */
  args?: string[];
  /** more environment (NOTIFY_SOCKET, …) */
  env?: NodeJS.ProcessEnv;
  /** how long start() waits for the API (default 30 s) */
  upTimeoutMs?: number;
  /** start without -c: resume the state dir's last good config (`config` is still written to the file) */
  resume?: boolean;
}

export class TestDaemon {
  private constructor(
    readonly ns: Netns,
    readonly dir: string,
    readonly stateDir: string,
    readonly configPath: string,
    readonly api: ApiClient,
    private child: ChildProcess,
    readonly log: string[],
    private readonly opts: TestDaemonOptions,
  ) {}

  /** where the API socket is (the runtime dir's) */
  get socketPath(): string {
    return join(this.opts.runtimeDir ?? this.stateDir, 'api.sock');
  }

  /** Sends a signal without waiting (SIGHUP: reload). */
  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** The exit code once the process has ended by itself (null while it runs or when a signal ended it). */
  get exitCode(): number | null {
    return this.child.exitCode;
  }

  /** Writes `config` (YAML/JSON text) to a file and runs `edgenet run -c` on it inside `ns`. */
  static async start(ns: Netns, config: string, opts: TestDaemonOptions = {}): Promise<TestDaemon> {
    const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'edgenet-test-')));
    if (opts.dir) await mkdir(dir, { recursive: true });
    // dnsmasq drops root and re-reads its hosts files from the state dir: the path must be searchable
    await chmod(dir, 0o755);
    const stateDir = opts.stateDir ?? join(dir, 'state');
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, config);
    const log: string[] = [];
    const child = TestDaemon.spawn(ns, opts.resume ? undefined : configPath, stateDir, log, opts);
    const api = createApiClient(join(opts.runtimeDir ?? stateDir, 'api.sock'));
    const d = new TestDaemon(ns, dir, stateDir, configPath, api, child, log, opts);
    live.add(d);
    try {
      await d.waitUp();
    } catch (err) {
      await d.remove();
      // the log as it is now (the wait's message was written before the daemon said anything)
      throw new Error(`${err instanceof Error ? err.message : String(err)}\ndaemon log (last 40 lines, info and above):\n${log.filter((l) => !l.includes('"level":20')).slice(-40).join('\n')}`);
    }
    return d;
  }

  /** `configPath` undefined: `edgenet run` without -c (resumes the state dir's last good config) */
  private static spawn(ns: Netns, configPath: string | undefined, stateDir: string, log: string[], opts: TestDaemonOptions): ChildProcess {
    // nsenter enters only the network namespace: like a device agent, the daemon shares the host's mount
    // namespace (so inotify sees /run/netns change; `ip netns exec` would give it a private mount namespace)
    const config = configPath === undefined ? [] : ['-c', configPath, ...(opts.allowApiPush === false ? [] : ['--allow-api-push'])];
    const dirs = ['--state-dir', stateDir, ...(opts.runtimeDir ? ['--runtime-dir', opts.runtimeDir] : [])];
    const child = spawn('nsenter', [`--net=${ns.path}`, process.execPath, join(REPO, 'bin/edgenet.js'), 'run', ...config, ...dirs, ...(opts.args ?? [])], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, EDGENET_LOG_LEVEL: 'debug', ...opts.env },
    });
    const keep = (b: Buffer): void => {
      for (const line of b.toString().split('\n')) if (line) log.push(line);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    return child;
  }

  private async waitUp(): Promise<void> {
    // the log at the time it gave up (the message below is built before the daemon has written anything)
    await this.waitUpOnce().catch((err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)}\ndaemon log (last 40 lines):\n${this.log.slice(-40).join('\n')}`);
    });
  }

  private async waitUpOnce(): Promise<void> {
    await eventually(
      `daemon in ${this.ns.name} to serve its API\n${this.log.slice(-20).join('\n')}`,
      async () => {
        if (this.child.exitCode !== null) throw new Error(`daemon exited ${this.child.exitCode}: ${this.log.slice(-20).join('\n')}`);
        if (!existsSync(this.socketPath)) return false;
        const s = await this.api.status();
        return s.networks.every((n) => n.state !== 'creating' && n.state !== 'pending');
      },
      this.opts.upTimeoutMs ?? 30_000,
      100,
    );
  }

  /** Pushes a config over the API (like `edgenet apply`). */
  apply(config: string): ReturnType<ApiClient['putConfig']> {
    return this.api.putConfig(config, 'application/yaml');
  }

  status(): ReturnType<ApiClient['status']> {
    return this.api.status();
  }

  /** Sends a signal and waits for the process to end. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    const done = new Promise<number | null>((r) => this.child.once('exit', (code) => r(code)));
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    const code = await done;
    clearTimeout(timer);
    return code;
  }

  /** Starts the daemon again on the same state dir and config file (`resume`: without -c, on the last good config). */
  async restart(opts: { resume?: boolean } = {}): Promise<void> {
    await this.stop();
    this.child = TestDaemon.spawn(this.ns, opts.resume ? undefined : this.configPath, this.stateDir, this.log, this.opts);
    await this.waitUp();
  }

  async remove(): Promise<void> {
    live.delete(this);
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export interface DaemonTestOptions {
  /** 'file': one pool of namespaces for the whole file (beforeAll/afterAll), for tests sharing one daemon */
  per?: 'test' | 'file';
  /** print only the last N lines of a failed test's daemon log (default: every line at info and above) */
  logTail?: number;
}

export interface DaemonTest {
  /** this test's namespaces (a fresh pool per test, or per file) */
  readonly pool: NetnsPool;
  /** processes to SIGKILL after the test (resolvers, servers, listeners started by the test) */
  readonly children: ChildProcess[];
  /**
   * One namespace `ent-<tag>-<role>` per role, in order; with `uplink: true` the roles must include `dev` and `out`,
   * which are joined by addUplink (eth1 192.168.77.1 in the device, eth0 192.168.77.2 outside).
   */
  namespaces<R extends string>(roles: readonly R[], opts?: { uplink?: boolean }): Promise<Record<R, Netns>>;
  /** Runs `fn` after the test (last registered first), before the daemons and namespaces go. */
  defer(fn: () => unknown): void;
}

/**
 * The set-up and tear-down every daemon kernel test shares: a fresh NetnsPool before each test (or once per file),
 * and after it — even when it failed — the deferred clean-ups, the log of every daemon the test started (when the
 * test failed), then those daemons removed, the children killed and the namespaces removed. Call it at the top of
 * a `describeKernel` body; the test's own `afterEach` hooks run before this one's.
 */
export function daemonTest(opts: DaemonTestOptions = {}): DaemonTest {
  let pool: NetnsPool | undefined;
  const children: ChildProcess[] = [];
  const deferred: (() => unknown)[] = [];
  const printLogs = (ctx: TestContext): void => {
    if (ctx.task.result?.state !== 'fail') return;
    for (const d of live) {
      const lines = d.log.filter((l) => !l.includes('"level":20'));
      console.log(`daemon in ${d.ns.name} (${d.stateDir}):\n${(opts.logTail ? lines.slice(-opts.logTail) : lines).join('\n')}`);
    }
  };
  const tearDown = async (): Promise<void> => {
    const errors: unknown[] = [];
    const attempt = async (fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    };
    for (const fn of deferred.splice(0).reverse()) await attempt(fn);
    for (const d of [...live]) await attempt(() => d.remove());
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await attempt(() => pool?.removeAll());
    pool = undefined;
    if (errors.length > 0) throw errors[0];
  };
  const setUp = (): void => {
    pool = new NetnsPool();
  };
  if (opts.per === 'file') {
    beforeAll(setUp);
    afterEach(printLogs);
    afterAll(tearDown);
  } else {
    beforeEach(setUp);
    afterEach(async (ctx) => {
      printLogs(ctx);
      await tearDown();
    });
  }
  const current = (): NetnsPool => {
    if (!pool) throw new Error('daemonTest: the pool exists only inside a test or its hooks');
    return pool;
  };
  return {
    get pool() {
      return current();
    },
    children,
    async namespaces<R extends string>(roles: readonly R[], nsOpts: { uplink?: boolean } = {}): Promise<Record<R, Netns>> {
      const out = {} as Record<R, Netns>;
      for (const role of roles) out[role] = await current().add(role);
      if (nsOpts.uplink) {
        const byRole = out as Partial<Record<string, Netns>>;
        const dev = byRole.dev;
        const outside = byRole.out;
        if (!dev || !outside) throw new Error("daemonTest: uplink needs the roles 'dev' and 'out'");
        await addUplink(dev, outside);
      }
      return out;
    },
    defer(fn) {
      deferred.push(fn);
    },
  };
}
