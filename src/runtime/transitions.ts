import type { InspectionEvent } from 'xstate';
import type { DeviceContext } from '../../machines/device.machine.ts';
import type { EndpointContext } from '../../machines/endpoint.machine.ts';
import { niProblemText, type NiContext } from '../../machines/network-instance.machine.ts';
import { topState } from '../../machines/specs.ts';
import type { ActorState, Transition } from '../edgenet-types.ts';

// Transitions are read off the actor system's inspection stream: one place sees every NI and endpoint actor.

export type ChildContext = NiContext | EndpointContext;
type TrackedContext = ChildContext | DeviceContext;

export function isNiContext(c: ChildContext): c is NiContext {
  return 'problems' in c;
}

export function isDeviceContext(c: TrackedContext): c is DeviceContext {
  return 'device' in c && c.device === true;
}

export { topState };

export function identify(context: ChildContext): Pick<Transition, 'kind' | 'name'> {
  if (isNiContext(context)) return { kind: 'network', name: context.spec.name };
  const { spec } = context;
  return spec.kind === 'port' ? { kind: 'port', name: spec.name } : { kind: 'endpoint', name: spec.key };
}

/** Why an actor is where it is, for status, events and logs. */
export function reasonOf(state: ActorState, context: ChildContext): string | undefined {
  if (isNiContext(context)) return state === 'degraded' ? (niProblemText(context.problems) ?? context.reason) : context.reason;
  if (state === 'degraded') return context.problem ?? context.reason;
  return context.reason;
}

interface SnapshotLike {
  value?: unknown;
  context?: unknown;
}

function childContext(snapshot: SnapshotLike): TrackedContext | undefined {
  const c = snapshot.context;
  return c && typeof c === 'object' && 'spec' in c ? (c as TrackedContext) : undefined;
}

/** The device actor's reason: its problem while degraded, else why it got where it is. */
export function deviceReason(state: ActorState, context: DeviceContext): string | undefined {
  return state === 'degraded' ? (context.problem ?? context.reason) : context.reason;
}

/** Turns inspection events into transitions of NI and endpoint actors (their top-level state changes). */
export class TransitionTracker {
  private readonly last = new Map<string, ActorState>();

  constructor(private readonly emit: (t: Transition) => void) {}

  observe(event: InspectionEvent): void {
    if (event.type !== '@xstate.snapshot') return;
    const snapshot = event.snapshot as SnapshotLike;
    const context = childContext(snapshot);
    const to = topState(snapshot.value);
    if (!context || !to) return;
    const id = event.actorRef.sessionId;
    const from = this.last.get(id) ?? null;
    if (from === to) return;
    if (to === 'deleted') this.last.delete(id);
    else this.last.set(id, to);
    const reason = isDeviceContext(context) ? deviceReason(to, context) : reasonOf(to, context);
    const who: Pick<Transition, 'kind' | 'name'> = isDeviceContext(context) ? { kind: 'device', name: 'device' } : identify(context);
    this.emit({ ...who, from, to, at: new Date().toISOString(), ...(reason !== undefined && { reason }) });
  }
}
