// Where each NI, endpoint, port and the device actor is in its machine (the full state value, not just the top-level
// state), read off the actor system's inspection stream; changes are coalesced per actor and handed out in batches.
import type { InspectionEvent } from 'xstate';
import { identify, isDeviceContext, type ChildContext } from '../runtime/transitions.ts';

export interface ActorPlace {
  /** `network:lan`, `endpoint:web/lan`, `port:uplink`, `device:device` */
  key: string;
  /** the machine that draws it: networkInstance, endpoint or device */
  machine: string;
  /** the deepest active state as a dotted path (`ready.steady`); absent once the actor is gone */
  state?: string;
}

/** `{ ready: 'steady' }` → `ready.steady`; parallel states: the first region. */
export function statePath(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (!value || typeof value !== 'object') return undefined;
  const [key, inner] = Object.entries(value as Record<string, unknown>)[0] ?? [];
  if (key === undefined) return undefined;
  const rest = statePath(inner);
  return rest === undefined || rest === '' ? key : `${key}.${rest}`;
}

interface SnapshotLike {
  value?: unknown;
  status?: string;
  context?: unknown;
}

export class ActorPlaces {
  private readonly places = new Map<string, ActorPlace>();
  /** key → the session of the actor that holds it now */
  private readonly sessions = new Map<string, string>();
  private pending = new Map<string, ActorPlace>();
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(batch: ActorPlace[]) => void>();

  /** `flushMs`: how long changes are gathered before a batch goes out */
  constructor(private readonly flushMs = 50) {}

  observe(event: InspectionEvent): void {
    if (event.type !== '@xstate.snapshot') return;
    const snapshot = event.snapshot as SnapshotLike;
    const c = snapshot.context;
    const sessionId = event.actorRef.sessionId;
    if (!c || typeof c !== 'object' || !('spec' in c)) return;
    const tracked = c as Parameters<typeof isDeviceContext>[0];
    const device = isDeviceContext(tracked);
    const who = device ? undefined : identify(tracked as ChildContext);
    const key = who ? `${who.kind}:${who.name}` : 'device:device';
    const machine = !who ? 'device' : who.kind === 'network' ? 'networkInstance' : 'endpoint';
    const state = statePath(snapshot.value);
    const gone = snapshot.status === 'stopped' || snapshot.status === 'done' || state === 'deleted';
    if (gone) {
      // a replaced actor (same key, a new session) is not removed by the old one's last snapshot
      if (this.sessions.get(key) !== sessionId) return;
      this.sessions.delete(key);
      if (this.places.delete(key)) this.queue({ key, machine });
      return;
    }
    this.sessions.set(key, sessionId);
    const prev = this.places.get(key);
    if (prev?.state === state) return;
    const place: ActorPlace = { key, machine, ...(state !== undefined && { state }) };
    this.places.set(key, place);
    this.queue(place);
  }

  private queue(place: ActorPlace): void {
    this.pending.set(place.key, place);
    if (this.timer || this.listeners.size === 0) {
      if (this.listeners.size === 0) this.pending.clear();
      return;
    }
    this.timer = setTimeout(() => this.flush(), this.flushMs);
    this.timer.unref();
  }

  private flush(): void {
    this.timer = undefined;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    if (batch.length === 0) return;
    for (const l of this.listeners) l(batch);
  }

  /** every live actor's place now */
  all(): ActorPlace[] {
    return [...this.places.values()];
  }

  /** batches of changes (a removed actor comes without `state`); returns the unsubscribe */
  subscribe(listener: (batch: ActorPlace[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }
}
