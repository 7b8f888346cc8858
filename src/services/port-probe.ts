// The probe runner: each port with `probe` (ports[].probe) that a local NI NATs out of is probed every
// `intervalMs` (a ping of its gateway, or a TCP connect), bound to the interface that carries its addresses. A
// change of verdict is reported (PORT_PROBE to the system actor, which forwards it to the NIs on that port; only
// local NIs with several ports act on it: machines/uplink-selection.ts). A port is demoted after
// PROBE_FAILURES_TO_DEMOTE failures in a row (one lost echo is no reason to move an NI's traffic) and promoted
// by one success (the NI's hold-down then keeps it from being taken back at once).
import type { Config, PortProbe } from '../config/config-schema.ts';
import { l3Ifname } from '../config/config-resolve.ts';
import { niPortNames } from '../config/config-switch.ts';
import type { ProbeDriver, ProbeOutcome } from '../drivers/probes.ts';
import type { RouteDriver } from '../drivers/routes.ts';
import type { EdgenetLogger as Logger } from '../util/logger.ts';

export const DEFAULT_PROBE_INTERVAL_MS = 2000;
export const DEFAULT_PROBE_TIMEOUT_MS = 1000;
/** failures in a row before a port's path counts as dead */
export const PROBE_FAILURES_TO_DEMOTE = 2;

/** What one port's probe needs. */
export interface ProbeTarget {
  port: string;
  /** the interface that carries the port's addresses: the port, or the bridge of a switch NI sharing it */
  ifname: string;
  /** the port's own interface (where its addresses and default route are before a move) */
  portIfname: string;
  /** ports[].gateway; absent: the main table's default route through the port */
  gateway?: string;
  probe: PortProbe;
}

/** The probes a config asks for: ports with `probe` that some local NI uses. */
export function probeTargets(config: Pick<Config, 'ports' | 'networks'>): ProbeTarget[] {
  const used = new Set(config.networks.flatMap((n) => (n.type === 'local' ? niPortNames(n) : [])));
  return config.ports.flatMap((p): ProbeTarget[] =>
    p.probe && used.has(p.name)
      ? [{ port: p.name, ifname: l3Ifname(p, config.networks), portIfname: p.ifname, ...(p.gateway !== undefined && { gateway: p.gateway }), probe: p.probe }]
      : [],
  );
}

export interface PortProberDeps {
  probes: ProbeDriver;
  routes: Pick<RouteDriver, 'defaultGateway'>;
  /** a port's verdict changed (and, on resend(), the current verdicts again) */
  report(port: string, ok: boolean, detail: string): void;
  logger?: Logger;
}

interface Loop {
  key: string;
  target: ProbeTarget;
  abort: AbortController;
  timer?: NodeJS.Timeout;
  failures: number;
  /** the verdict reported last (undefined: none yet) */
  verdict?: ProbeOutcome;
}

export class PortProber {
  private readonly loops = new Map<string, Loop>();
  private closed = false;

  constructor(private readonly deps: PortProberDeps) {}

  /** Probes exactly these targets: new ones start at once, changed ones start over, dropped ones stop. */
  update(targets: readonly ProbeTarget[]): void {
    if (this.closed) return;
    const wanted = new Map(targets.map((t) => [t.port, t]));
    for (const [port, loop] of this.loops) {
      const t = wanted.get(port);
      if (!t || JSON.stringify(t) !== loop.key) this.stop(port);
    }
    for (const t of targets) if (!this.loops.has(t.port)) this.start(t);
  }

  /** The current verdicts, reported again (NI actors made by the last push learn what the old ones knew). */
  resend(): void {
    for (const [port, loop] of this.loops) if (loop.verdict) this.deps.report(port, loop.verdict.ok, loop.verdict.detail);
  }

  /** Last verdict per port (for status and tests). */
  verdicts(): Record<string, ProbeOutcome> {
    const out: Record<string, ProbeOutcome> = {};
    for (const [port, loop] of this.loops) if (loop.verdict) out[port] = loop.verdict;
    return out;
  }

  close(): void {
    this.closed = true;
    for (const port of [...this.loops.keys()]) this.stop(port);
  }

  private start(target: ProbeTarget): void {
    const loop: Loop = { key: JSON.stringify(target), target, abort: new AbortController(), failures: 0 };
    this.loops.set(target.port, loop);
    void this.tick(loop);
  }

  private stop(port: string): void {
    const loop = this.loops.get(port);
    if (!loop) return;
    clearTimeout(loop.timer);
    loop.abort.abort();
    this.loops.delete(port);
  }

  private async tick(loop: Loop): Promise<void> {
    const { target } = loop;
    const interval = target.probe.intervalMs ?? DEFAULT_PROBE_INTERVAL_MS;
    let outcome: ProbeOutcome;
    try {
      outcome = await this.once(target, loop.abort.signal);
    } catch (err) {
      outcome = { ok: false, detail: `probe of port ${target.port} failed: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (loop.abort.signal.aborted || this.loops.get(target.port) !== loop) return;
    this.judge(loop, outcome);
    loop.timer = setTimeout(() => void this.tick(loop), interval);
    loop.timer.unref();
  }

  private judge(loop: Loop, outcome: ProbeOutcome): void {
    loop.failures = outcome.ok ? 0 : loop.failures + 1;
    const was = loop.verdict?.ok;
    if (outcome.ok && was !== true) return this.decide(loop, outcome);
    if (!outcome.ok && was !== false && loop.failures >= PROBE_FAILURES_TO_DEMOTE) {
      return this.decide(loop, { ok: false, detail: `${outcome.detail} (${loop.failures} in a row)` });
    }
  }

  private decide(loop: Loop, verdict: ProbeOutcome): void {
    loop.verdict = verdict;
    this.deps.logger?.info({ port: loop.target.port, ok: verdict.ok, detail: verdict.detail }, `port ${loop.target.port} probe: ${verdict.ok ? 'ok' : 'failing'} (${verdict.detail})`);
    this.deps.report(loop.target.port, verdict.ok, verdict.detail);
  }

  private async once(t: ProbeTarget, signal: AbortSignal): Promise<ProbeOutcome> {
    const timeout = t.probe.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    if (t.probe.kind === 'tcp') return this.deps.probes.tcp(t.ifname, t.probe.host, t.probe.port, timeout, signal);
    const gateway = t.gateway ?? (await this.deps.routes.defaultGateway(t.ifname)) ?? (t.portIfname !== t.ifname ? await this.deps.routes.defaultGateway(t.portIfname) : undefined);
    if (gateway === undefined) return { ok: false, detail: `port ${t.port} has no known gateway to ping (ports[].gateway, or a default route through ${t.ifname})` };
    return this.deps.probes.ping(t.ifname, gateway, timeout, signal);
  }
}
