// DhcpDns in memory, for unit tests of the machines: same convergence rules as the dnsmasq driver (it renders the
// same files to decide between nothing, reload and restart), with fake PIDs, a crash switch and DNS answers.
import { Subject, type Observable } from 'rxjs';
import type { DhcpDns, DhcpDnsEvent, DhcpDnsSpec, DhcpLease } from './dhcpdns.ts';
import { dnsmasqPaths, renderDnsmasqFiles, type DnsmasqFiles } from './dhcpdns-dnsmasq.ts';
import { WriteCounter } from './write-counter.ts';

type FailableOp = 'ensure' | 'remove' | 'evictLease';

interface Served {
  spec: DhcpDnsSpec;
  files: DnsmasqFiles;
  /** undefined while "down" between a crash and its restart */
  pid?: number;
  leases: DhcpLease[];
  restartTimer?: NodeJS.Timeout;
}

export interface FakeDhcpDnsOptions {
  /** delay between `kill()`'s exited and started events; 0 = next macrotask */
  restartDelayMs?: number;
}

const FAKE_STATE_DIR = '/fake-edgenet';

export class FakeDhcpDns implements DhcpDns {
  readonly writes = new WriteCounter();
  private readonly events = new Subject<DhcpDnsEvent>();
  readonly events$: Observable<DhcpDnsEvent> = this.events.asObservable();
  private readonly served = new Map<string, Served>();
  private readonly failures = new Map<FailableOp, Error[]>();
  private nextPid = 10_000;
  private closed = false;
  private readonly restartDelayMs: number;

  constructor(opts: FakeDhcpDnsOptions = {}) {
    this.restartDelayMs = opts.restartDelayMs ?? 0;
  }

  async ensure(spec: DhcpDnsSpec, signal?: AbortSignal): Promise<{ pid: number }> {
    this.assertOpen();
    this.maybeFail('ensure');
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
    const files = renderDnsmasqFiles(structuredClone(spec), dnsmasqPaths(FAKE_STATE_DIR, spec.ni));
    const cur = this.served.get(spec.ni);
    if (cur?.pid !== undefined && sameConfig(cur.files, files)) {
      if (cur.files.hosts !== files.hosts || cur.files.dhcpHosts !== files.dhcpHosts || cur.files.servers !== files.servers) this.writes.inc('dnsmasqReload');
      cur.spec = structuredClone(spec);
      cur.files = files;
      return { pid: cur.pid };
    }
    if (cur?.restartTimer) clearTimeout(cur.restartTimer);
    const owesStarted = cur !== undefined && cur.pid === undefined;
    const pid = this.startPid();
    this.served.set(spec.ni, { spec: structuredClone(spec), files, pid, leases: cur?.leases ?? [] });
    if (owesStarted) this.events.next({ type: 'started', ni: spec.ni, pid });
    return { pid };
  }

  async remove(ni: string): Promise<void> {
    this.assertOpen();
    this.maybeFail('remove');
    const cur = this.served.get(ni);
    if (cur?.restartTimer) clearTimeout(cur.restartTimer);
    this.served.delete(ni);
  }

  async evictLease(ni: string, mac: string): Promise<void> {
    this.assertOpen();
    this.maybeFail('evictLease');
    const cur = this.served.get(ni);
    const m = mac.toLowerCase();
    if (!cur?.leases.some((l) => l.mac === m)) return;
    cur.leases = cur.leases.filter((l) => l.mac !== m);
    // The real driver restarts dnsmasq to drop a lease.
    if (cur.pid !== undefined) cur.pid = this.startPid();
  }

  pid(ni: string): number | undefined {
    return this.served.get(ni)?.pid;
  }

  async leases(ni: string): Promise<DhcpLease[]> {
    return this.leasesNow(ni);
  }

  leasesNow(ni: string): DhcpLease[] {
    return structuredClone(this.served.get(ni)?.leases ?? []);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.served.values()) if (s.restartTimer) clearTimeout(s.restartTimer);
    this.events.complete();
  }

  // ---- test controls -------------------------------------------------------------------------------------------

  /** Simulates a crash: `exited` now, then (after restartDelayMs) a restart with a new PID and `started`. */
  kill(ni: string): void {
    const cur = this.served.get(ni);
    if (cur?.pid === undefined) throw new Error(`fake dnsmasq: nothing runs for ${ni}`);
    const pid = cur.pid;
    delete cur.pid;
    this.events.next({ type: 'exited', ni, pid, code: null, signal: 'SIGKILL' });
    cur.restartTimer = setTimeout(() => {
      delete cur.restartTimer;
      if (this.closed || this.served.get(ni) !== cur || cur.pid !== undefined) return;
      cur.pid = this.startPid();
      this.events.next({ type: 'started', ni, pid: cur.pid });
    }, this.restartDelayMs);
  }

  /** The next call of `op` rejects with `err` (queued: call again to fail more calls). */
  failNext(op: FailableOp, err: Error): void {
    const list = this.failures.get(op) ?? [];
    list.push(err);
    this.failures.set(op, list);
  }

  /** What is served on the NI (undefined when nothing is). */
  spec(ni: string): DhcpDnsSpec | undefined {
    const s = this.served.get(ni)?.spec;
    return s && structuredClone(s);
  }

  /** NIs with a dnsmasq (running or waiting for its restart). */
  async known(): Promise<string[]> {
    return this.networks();
  }

  networks(): string[] {
    return [...this.served.keys()].sort();
  }

  /** What a DNS query for `name` on the NI's gateway would answer: reservations and static hosts, `<name>.<ni>` too. */
  resolve(ni: string, name: string): string | undefined {
    const cur = this.served.get(ni);
    if (cur?.pid === undefined) return undefined;
    const bare = name.endsWith(`.${ni}`) ? name.slice(0, -(ni.length + 1)) : name;
    const hit = [...cur.spec.reservations, ...cur.spec.staticHosts].find((h) => h.name === bare || h.name === name);
    return hit?.ip;
  }

  /** Simulates a client's DHCP: the reserved address for its MAC, recorded as a lease. */
  lease(ni: string, mac: string, expires = 0): DhcpLease | undefined {
    const cur = this.served.get(ni);
    const m = mac.toLowerCase();
    const r = cur?.spec.reservations.find((x) => x.mac.toLowerCase() === m);
    if (!cur || cur.pid === undefined || !r) return undefined;
    const lease: DhcpLease = { mac: m, ip: r.ip, hostname: r.name, expires };
    cur.leases = [...cur.leases.filter((l) => l.mac !== m), lease];
    return lease;
  }

  private startPid(): number {
    this.writes.inc('dnsmasqStart');
    return this.nextPid++;
  }

  private maybeFail(op: FailableOp): void {
    const err = this.failures.get(op)?.shift();
    if (err) throw err;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('fake dhcpdns driver is closed');
  }
}

function sameConfig(a: DnsmasqFiles, b: DnsmasqFiles): boolean {
  return a.conf === b.conf && a.args.length === b.args.length && a.args.every((x, i) => x === b.args[i]);
}

export function createFakeDhcpDns(opts?: FakeDhcpDnsOptions): FakeDhcpDns {
  return new FakeDhcpDns(opts);
}
