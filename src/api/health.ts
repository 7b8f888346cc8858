// What GET /healthz, GET /readyz and GET /v1/version answer, and what `edgenet status --check` decides: computed
// from the status here so the daemon, the CLI and the tests agree.
import type { ActorState, Status } from '../edgenet-types.ts';

export interface Unsettled {
  kind: 'network' | 'endpoint' | 'port';
  name: string;
  state: ActorState;
  reason?: string;
}

/** Objects that are not `ready` (pending, creating, degraded, deleting), in status order. */
export function notReady(status: Status): Unsettled[] {
  const out: Unsettled[] = [];
  const add = (kind: Unsettled['kind'], name: string, state: ActorState, reason: string | undefined): void => {
    if (state !== 'ready' && state !== 'deleted') out.push({ kind, name, state, ...(reason ? { reason } : {}) });
  };
  for (const n of status.networks) add('network', n.name, n.state, n.reason);
  for (const e of status.endpoints) add('endpoint', `${e.app}/${e.network}`, e.state, e.reason);
  for (const p of status.ports) add('port', p.name, p.state, p.reason);
  return out;
}

/** Objects still being worked on (pending, creating, deleting): what keeps /readyz at 503. Degraded is settled. */
export function unsettled(status: Status): Unsettled[] {
  return notReady(status).filter((o) => o.state !== 'degraded');
}

export interface HealthAnswer {
  code: 200 | 503;
  body: Record<string, unknown>;
}

/** /healthz: the process is alive and its actors run (503 once it is stopping). */
export function healthOf(alive: boolean): HealthAnswer {
  return alive ? { code: 200, body: { alive: true, actors: 'running' } } : { code: 503, body: { alive: true, actors: 'stopping' } };
}

/**
 * /readyz: the last apply has settled — `settled` as the actors see it (an endpoint waiting for its VM's tap is
 * settled: it waits for the outside); when unknown, nothing pending, creating or deleting. Otherwise 503 with the
 * objects still being worked on.
 */
export function readinessOf(status: Status, settled?: boolean): HealthAnswer {
  const open = unsettled(status);
  if (settled ?? open.length === 0) return { code: 200, body: { ready: true } };
  return { code: 503, body: { ready: false, unsettled: open } };
}

/** `edgenet status --check`: 0 everything ready, 4 something degraded or pending (2, no daemon, is the CLI's). */
export const CHECK_NOT_READY = 4;
