// The real daemon (`edgenet run`) inside the bench's device namespace, driven over its API socket. With a profile
// dir, the daemon runs under `node --cpu-prof` (written when it exits after SIGTERM).
import type { ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { createApiClient, type ApiClient } from '../src/api/client.ts';
import type { Status, Transition } from '../src/edgenet-types.ts';
import { noWrites, type WriteCounts, type WriteKind } from '../src/drivers/write-counter.ts';
import { deviceEnv } from './cli-timing.ts';
import { sleep, type Sandbox } from './sandbox.ts';

const REPO = resolve(import.meta.dirname, '..');

export interface SeenTransition extends Transition {
  /** `at` as epoch ms */
  atMs: number;
  /** when the bench received it (epoch ms) */
  recvMs: number;
}

export interface DaemonOptions {
  ns: string;
  configPath: string;
  stateDir: string;
  logPath: string;
  profileDir?: string;
  /** Node/V8 flags for the daemon process, before BENCH_DAEMON_NODE_FLAGS's (bench/memory.ts: its probe, variants) */
  nodeFlags?: string[];
  /** added to the daemon's environment */
  env?: Record<string, string>;
}

/** Above the default limit of 5000 app interfaces: the bench runs up to 10 000 (BENCH_SIZES) plus its added apps. */
export const BENCH_MAX_ENDPOINTS = 20_000;

export class BenchDaemon {
  readonly api: ApiClient;
  readonly transitions: SeenTransition[] = [];
  private waiters: { pred: (t: SeenTransition) => boolean; resolve: (t: SeenTransition) => void }[] = [];
  private readonly stopEvents = new AbortController();
  private eventsDone: Promise<void> | undefined;

  private constructor(
    readonly opts: DaemonOptions,
    private readonly child: ChildProcess,
    /** epoch ms of the spawn */
    readonly spawnedAt: number,
  ) {
    this.api = createApiClient(join(opts.stateDir, 'api.sock'));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  static spawn(sandbox: Sandbox, opts: DaemonOptions): BenchDaemon {
    // BENCH_DAEMON_NODE_FLAGS: V8/Node flags for the daemon alone (A/B of e.g. --max-semi-space-size=1)
    const flags = (process.env.BENCH_DAEMON_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
    const node = [process.execPath, ...(opts.nodeFlags ?? []), ...flags, ...(opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : [])];
    const log = openSync(opts.logPath, 'a');
    const spawnedAt = Date.now();
    // the figures come from the real CLI; library options it lacks (bench A/B experiments) need the bench's entry
    const experiment = process.env.BENCH_AUDIT_MS !== undefined || process.env.BENCH_LINK_THROTTLE_MS !== undefined;
    const argv = experiment
      ? [join(REPO, 'bin/run-ts.js'), join(REPO, 'bench/daemon-entry.ts'), opts.configPath, opts.stateDir]
      : [join(REPO, 'bin/edgenet.js'), 'run', '-c', opts.configPath, '--allow-api-push', '--state-dir', opts.stateDir, '--max-endpoints', String(BENCH_MAX_ENDPOINTS)];
    const child = sandbox.spawnIn(opts.ns, [...node, ...argv], {
      cwd: REPO,
      stdio: ['ignore', log, log],
      // as on a device: without the sandbox's NODE_EXTRA_CA_CERTS (see cli-timing.ts)
      env: { ...deviceEnv(), EDGENET_LOG_LEVEL: process.env.EDGENET_LOG_LEVEL ?? 'info', ...opts.env },
    });
    closeSync(log);
    return new BenchDaemon(opts, child, spawnedAt);
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Waits until the API answers (the daemon serves it once its start-up apply has settled). */
  async waitApi(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const sock = join(this.opts.stateDir, 'api.sock');
    for (;;) {
      if (this.exited) throw new Error(`daemon exited ${this.child.exitCode ?? this.child.signalCode}:\n${await this.logTail()}`);
      if (existsSync(sock)) {
        try {
          await this.get('/v1/status');
          return;
        } catch {
          /* not yet */
        }
      }
      if (Date.now() > deadline) throw new Error(`daemon API not up after ${timeoutMs} ms:\n${await this.logTail()}`);
      await sleep(10);
    }
  }

  /** Follows /v1/events: every transition is kept (with its `at`) and offered to waiters. */
  followEvents(): void {
    this.eventsDone = this.api.events((t) => {
      const seen: SeenTransition = { ...t, atMs: Date.parse(t.at), recvMs: Date.now() };
      this.transitions.push(seen);
      const still: typeof this.waiters = [];
      for (const w of this.waiters) {
        if (w.pred(seen)) w.resolve(seen);
        else still.push(w);
      }
      this.waiters = still;
    }, this.stopEvents.signal);
    this.eventsDone.catch(() => undefined);
  }

  /** The first transition from now on that matches (transitions already seen are not considered). */
  nextTransition(pred: (t: SeenTransition) => boolean, timeoutMs = 5000, what = 'transition'): Promise<SeenTransition> {
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const done = (t: SeenTransition): void => {
        clearTimeout(timer);
        resolvePromise(t);
      };
      this.waiters.push({ pred, resolve: done });
    });
  }

  /** Raw GET over the socket (status JSON, metrics text). */
  get(path: string): Promise<string> {
    return new Promise((resolvePromise, reject) => {
      const req = request({ socketPath: join(this.opts.stateDir, 'api.sock'), method: 'GET', path }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () => (res.statusCode === 200 ? resolvePromise(Buffer.concat(chunks).toString()) : reject(new Error(`${path}: ${res.statusCode}`))));
        res.once('error', reject);
      });
      req.once('error', reject);
      req.end();
    });
  }

  async status(): Promise<Status> {
    return JSON.parse(await this.get('/v1/status')) as Status;
  }

  /**
   * Kernel writes by kind, from `edgenet_kernel_writes_total` alone: a status at 10 000 endpoints is ~40 ms of the
   * daemon's CPU and megabytes of garbage, which a push timed right after it would pay the GC for.
   */
  async writes(): Promise<WriteCounts> {
    const text = await this.get('/metrics?name=edgenet_kernel_writes_total');
    const counts = noWrites();
    for (const m of text.matchAll(/^edgenet_kernel_writes_total\{kind="(\w+)"\} (\S+)$/gm)) {
      const kind = m[1] as WriteKind;
      if (kind in counts) counts[kind] = Number(m[2]);
    }
    return counts;
  }

  /** `edgenet_apply_duration_seconds` sum and count for result="ok": the daemon's own timing of apply(). */
  async applyTiming(): Promise<{ sumS: number; count: number }> {
    // that family alone: a whole scrape at 10 000 endpoints is a status and 3.8 MB of text, garbage the push measured
    // next would pay the GC for
    const text = await this.get('/metrics?name=edgenet_apply_duration_seconds');
    const num = (name: string): number => Number(new RegExp(`^${name}\\{result="ok"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    return { sumS: num('edgenet_apply_duration_seconds_sum'), count: num('edgenet_apply_duration_seconds_count') };
  }

  /**
   * p99 of the daemon's event-loop delay since the last scrape, ms (prom-client's `nodejs_eventloop_lag_p99_seconds`:
   * its histogram is reset at each collection, so scrape once before a phase and once after). NaN when absent.
   */
  async loopLagP99Ms(): Promise<number> {
    const text = await this.get('/metrics?name=nodejs_eventloop_lag_p99_seconds');
    return Number(/^nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(text)?.[1] ?? NaN) * 1000;
  }

  /** VmRSS in MiB, from /proc. */
  async rssMiB(): Promise<number> {
    const text = await readFile(`/proc/${this.pid}/status`, 'utf8');
    const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(text)?.[1] ?? NaN);
    return kb / 1024;
  }

  /** Epoch ms of the first log line whose message starts with `msg`, once it is there. */
  async logTime(msg: string, timeoutMs = 120_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = await readFile(this.opts.logPath, 'utf8').catch(() => '');
      for (const line of text.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const rec = JSON.parse(line) as { time?: number; msg?: string; pid?: number };
          if (rec.pid === this.pid && rec.msg?.startsWith(msg) && typeof rec.time === 'number') return rec.time;
        } catch {
          /* partial line */
        }
      }
      if (this.exited) throw new Error(`daemon exited before logging "${msg}":\n${await this.logTail()}`);
      if (Date.now() > deadline) throw new Error(`no "${msg}" in the daemon log after ${timeoutMs} ms`);
      await sleep(10);
    }
  }

  async logTail(lines = 30): Promise<string> {
    const text = await readFile(this.opts.logPath, 'utf8').catch(() => '');
    return text.split('\n').slice(-lines).join('\n');
  }

  /** Sends a signal and waits for the exit (SIGKILL after the timeout). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<void> {
    this.stopEvents.abort();
    if (this.exited) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await done;
    clearTimeout(timer);
  }
}
