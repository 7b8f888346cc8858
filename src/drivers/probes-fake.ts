// Probes answered from a table the test sets: by interface, every target (absent: ok).
import type { ProbeDriver, ProbeOutcome } from './probes.ts';

export class FakeProbeDriver implements ProbeDriver {
  /** ifname → reachable? (absent: reachable) */
  readonly reachable = new Map<string, boolean>();
  /** every probe made, in order: `ping eth1 192.168.1.1`, `tcp eth1 10.0.0.1:443` */
  readonly calls: string[] = [];

  setReachable(ifname: string, ok: boolean): void {
    this.reachable.set(ifname, ok);
  }

  ping(ifname: string, target: string): Promise<ProbeOutcome> {
    this.calls.push(`ping ${ifname} ${target}`);
    return Promise.resolve(this.answer(ifname, `ping ${target} via ${ifname}`));
  }

  tcp(ifname: string, host: string, port: number): Promise<ProbeOutcome> {
    this.calls.push(`tcp ${ifname} ${host}:${port}`);
    return Promise.resolve(this.answer(ifname, `tcp ${host}:${port} via ${ifname}`));
  }

  private answer(ifname: string, what: string): ProbeOutcome {
    const ok = this.reachable.get(ifname) ?? true;
    return { ok, detail: ok ? `${what} answered` : `${what}: no answer (fake)` };
  }
}

export function createFakeProbeDriver(): FakeProbeDriver {
  return new FakeProbeDriver();
}
