import type { UplinkSpec } from './specs.ts';

// Which port a local NI NATs out of: pure, so the NI machine decides it from its context alone.
// Order: a port that carries (present, carrier, probe not failing), then the lowest cost, then config order.
// A recovered better port is taken back only after its hold-down; a dead selected port is left at once.

export interface UplinkState {
  present: boolean;
  carrier: boolean;
  /** last probe result (absent: no probe, or none finished yet — not held against the port) */
  probe?: { ok: boolean; detail: string };
  /** came back (carrier or probe) less than the hold-down ago */
  held?: boolean;
}

export interface UplinkSelection {
  /** undefined: the NI has no port */
  port?: string;
  reason: string;
}

export function usable(state: UplinkState | undefined): boolean {
  return state !== undefined && state.present && state.carrier && state.probe?.ok !== false;
}

/** Why a port does not carry the NI, in words (undefined: it does). */
export function uplinkTrouble(u: { port: string; portIfname?: string }, state: UplinkState | undefined): string | undefined {
  const name = `port ${u.port}${u.portIfname ? ` (${u.portIfname})` : ''}`;
  if (!state) return `${name} not seen yet`;
  if (!state.present) return `${name} not present`;
  if (!state.carrier) return `${name} has no carrier`;
  if (state.probe?.ok === false) return `${name} probe failed: ${state.probe.detail}`;
  return undefined;
}

export function selectUplink(uplinks: readonly UplinkSpec[], states: Readonly<Record<string, UplinkState>>, current: string | undefined): UplinkSelection {
  const first = uplinks[0];
  if (!first) return { reason: 'no port' };
  if (uplinks.length === 1) return { port: first.port, reason: 'its only port' };
  const ranked = uplinks
    .map((u, order) => ({ u, order }))
    .filter(({ u }) => usable(states[u.port]))
    .sort((a, b) => (a.u.cost ?? 0) - (b.u.cost ?? 0) || a.order - b.order);
  const best = ranked[0]?.u;
  const why = (u: UplinkSpec, extra = ''): string => {
    const others = uplinks.filter((o) => o.port !== u.port).map((o) => uplinkTrouble(o, states[o.port])).filter((t): t is string => t !== undefined);
    const base = ranked.length === 1 ? 'the only port that carries' : `lowest cost (${u.cost ?? 0}) of the ports that carry, then order`;
    return [base + extra, ...others].join('; ');
  };
  if (!best) {
    // nothing carries: keep what is in the kernel (no route churn while everything is down)
    const keep = current ?? first.port;
    return { port: keep, reason: `no port carries the network: ${uplinks.map((u) => uplinkTrouble(u, states[u.port])).join('; ')}` };
  }
  const cur = uplinks.find((u) => u.port === current);
  if (cur && usable(states[cur.port]) && best.port !== cur.port) {
    const better = ranked.filter(({ u }) => (u.cost ?? 0) < (cur.cost ?? 0) || ((u.cost ?? 0) === (cur.cost ?? 0) && uplinks.indexOf(u) < uplinks.indexOf(cur)));
    const ready = better.find(({ u }) => !states[u.port]?.held);
    if (!ready) return { port: cur.port, reason: `${why(cur)}; ${best.port} is better but in its hold-down` };
    return { port: ready.u.port, reason: why(ready.u) };
  }
  if (cur && usable(states[cur.port])) return { port: cur.port, reason: why(cur) };
  // the selected port does not carry (or none was selected yet): the best one that carries, at once
  return { port: best.port, reason: why(best) };
}
