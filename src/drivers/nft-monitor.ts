// `nft monitor` as a source of drift events: a long-lived child prints every change to the ruleset, each transaction
// closed by `# new generation N by process P (name)`. A transaction that touched edgenet's tables (inet/bridge
// edgenet) and was not committed by edgenet itself (this process, through libnftables, or an nft process it spawned:
// their pids are registered, src/drivers/nft-runner.ts) nor by a dnsmasq (it fills the `host` rules' sets) is reported: the audit then looks at once, instead of listing the tables
// every second. Each (re)start of the monitor is reported too (`resync`): changes while it was down are unseen.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Observable, Subject, share } from 'rxjs';
import { silentLogger, type EdgenetLogger as Logger } from '../util/logger.ts';
import { FIREWALL_TABLE } from './firewall.ts';
import { onNftSpawn } from './nft-runner.ts';

export interface NftChange {
  /** `foreign`: a transaction of someone else's on our tables; `resync`: the monitor (re)started */
  kind: 'foreign' | 'resync';
  /** what nft printed first of it, and who committed it */
  detail: string;
}

export interface NftMonitorOptions {
  /** command prefix, e.g. `['ip', 'netns', 'exec', 'ent-x-dev']` */
  exec?: readonly string[];
  logger?: Logger;
  /** delay before restarting an exited monitor (default 1 s) */
  restartMs?: number;
}

/** How long a pid of ours is remembered: an nft transaction commits within this (its process has exited by then). */
const OWN_PID_TTL_MS = 60_000;

const GENERATION_RE = /^# new generation \d+(?: by process (\d+) \(([^)]*)\))?/;
const OURS_RE = new RegExp(`^(?:add|insert|replace|create|delete|destroy|flush|reset|update) \\S+ (?:inet|bridge) ${FIREWALL_TABLE}(?:\\s|$)`);

const ownThread = (pid: number): boolean => pid === process.pid || existsSync(`/proc/self/task/${pid}`);

/** Parses monitor lines: a transaction's lines, then its generation line. Pure (tests feed it lines). */
export class NftMonitorParser {
  private lines: string[] = [];
  private readonly own = new Map<number, number>();

  /**
   * `isSelf`: whether a committing pid is this process. libnftables runs on the thread pool's threads, and the
   * kernel names the committing thread: a pid of ours is one of /proc/self/task.
   */
  constructor(private readonly isSelf: (pid: number) => boolean = ownThread) {}

  /** A pid of an nft process edgenet itself runs (its transactions are not drift). */
  ownPid(pid: number): void {
    const now = Date.now();
    this.own.set(pid, now + OWN_PID_TTL_MS);
    if (this.own.size > 512) for (const [p, until] of this.own) if (until < now) this.own.delete(p);
  }

  /** One line of `nft monitor`; a change of someone else's to our tables when it closes such a transaction. */
  line(text: string): NftChange | undefined {
    const gen = GENERATION_RE.exec(text);
    if (!gen) {
      if (OURS_RE.test(text)) this.lines.push(text.trim());
      return undefined;
    }
    const touched = this.lines;
    this.lines = [];
    if (touched.length === 0) return undefined;
    const pid = gen[1] === undefined ? undefined : Number(gen[1]);
    const name = gen[2];
    if (pid !== undefined && this.isSelf(pid)) return undefined;
    if (pid !== undefined && this.own.has(pid)) {
      this.own.delete(pid);
      return undefined;
    }
    // dnsmasq adds what it resolves to the sets of `host` rules
    if (name === 'dnsmasq') return undefined;
    return { kind: 'foreign', detail: `${touched[0] ?? ''}${touched.length > 1 ? ` (+${touched.length - 1} more)` : ''} by ${name ?? 'an unknown process'}${pid === undefined ? '' : ` (pid ${pid})`}` };
  }
}

export class NftMonitor {
  readonly parser = new NftMonitorParser();
  /** foreign changes and (re)starts, while subscribed (the process runs only then) */
  readonly changes$: Observable<NftChange>;
  private readonly exec: readonly string[];
  private readonly log: Logger;
  private readonly restartMs: number;

  constructor(opts: NftMonitorOptions = {}) {
    this.exec = opts.exec ?? [];
    this.log = (opts.logger ?? silentLogger).child({ driver: 'nft-monitor' });
    this.restartMs = opts.restartMs ?? 1000;
    this.changes$ = new Observable<NftChange>((subscriber) => {
      const out = new Subject<NftChange>();
      const sub = out.subscribe(subscriber);
      let child: ChildProcess | undefined;
      let timer: NodeJS.Timeout | undefined;
      let closed = false;
      const forget = onNftSpawn((pid) => this.parser.ownPid(pid));
      const start = (): void => {
        // setpriv (util-linux): the monitor is killed with edgenet (a SIGKILLed daemon leaves no monitor behind)
        const [cmd, ...args] = [...this.exec, 'setpriv', '--pdeathsig', 'KILL', '--', 'nft', 'monitor'];
        if (cmd === undefined) return;
        const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        child = c;
        let partial = '';
        let announced = false;
        c.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
          const lines = (partial + chunk).split('\n');
          partial = lines.pop() ?? '';
          for (const l of lines) {
            const change = this.parser.line(l);
            if (change) out.next(change);
          }
        });
        c.stderr?.setEncoding('utf8').on('data', (d: string) => this.log.warn({ stderr: d.trim() }, 'nft monitor said'));
        c.once('spawn', () => {
          // listening from now on: what happened before is looked at once
          if (!announced) out.next({ kind: 'resync', detail: 'nft monitor started' });
          announced = true;
          this.log.debug({ pid: c.pid }, 'nft monitor started');
        });
        c.once('error', (err) => this.log.warn({ err: err.message }, 'nft monitor could not run'));
        c.once('exit', (code, signal) => {
          child = undefined;
          if (closed) return;
          this.log.warn({ code, signal, restartMs: this.restartMs }, 'nft monitor exited: restarting');
          timer = setTimeout(start, this.restartMs);
          timer.unref();
        });
      };
      start();
      return () => {
        closed = true;
        forget();
        if (timer) clearTimeout(timer);
        child?.stdout?.destroy();
        child?.kill('SIGTERM');
        sub.unsubscribe();
      };
    }).pipe(share());
  }
}
