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
export function uplinkTrouble(u: { name: string; portIfname?: string }, state: UplinkState | undefined): string | undefined {
  const name = `port ${u.name}${u.portIfname ? ` (${u.portIfname})` : ''}`;
  if (!state) return `${name} not seen yet`;
  if (!state.present) return `${name} not present`;
  if (!state.carrier) return `${name} has no carrier`;
  if (state.probe?.ok === false) return `${name} probe failed: ${state.probe.detail}`;
  return undefined;
}

export function selectUplink(uplinks: readonly UplinkSpec[], states: Readonly<Record<string, UplinkState>>, current: string | undefined): UplinkSelection {
  const first = uplinks[0];
  if (!first) return { reason: 'no port' };
  if (uplinks.length === 1) return { port: first.name, reason: 'its only port' };
  const ranked = uplinks
    .map((u, order) => ({ u, order }))
    .filter(({ u }) => usable(states[u.name]))
    .sort((a, b) => a.u.cost - b.u.cost || a.order - b.order);
  const best = ranked[0]?.u;
  const why = (u: UplinkSpec, extra = ''): string => {
    const others = uplinks.filter((o) => o.name !== u.name).map((o) => uplinkTrouble(o, states[o.name])).filter((t): t is string => t !== undefined);
    const base = ranked.length === 1 ? 'the only port that carries' : `lowest cost (${u.cost}) of the ports that carry, then order`;
    return [base + extra, ...others].join('; ');
  };
  if (!best) {
    // nothing carries: keep what is in the kernel (no route churn while everything is down)
    const keep = current ?? first.name;
    return { port: keep, reason: `no port carries the network: ${uplinks.map((u) => uplinkTrouble(u, states[u.name])).join('; ')}` };
  }
  const cur = uplinks.find((u) => u.name === current);
  if (cur && usable(states[cur.name]) && best.name !== cur.name) {
    const better = ranked.filter(({ u }) => u.cost < cur.cost || (u.cost === cur.cost && uplinks.indexOf(u) < uplinks.indexOf(cur)));
    const ready = better.find(({ u }) => !states[u.name]?.held);
    if (!ready) return { port: cur.name, reason: `${why(cur)}; ${best.name} is better but in its hold-down` };
    return { port: ready.u.name, reason: why(ready.u) };
  }
  if (cur && usable(states[cur.name])) return { port: cur.name, reason: why(cur) };
  // the selected port does not carry (or none was selected yet): the best one that carries, at once
  return { port: best.name, reason: why(best) };
}
