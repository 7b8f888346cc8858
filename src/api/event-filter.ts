// Filters of GET /v1/events (`kind`, `name`, `to`), applied on the daemon's side so a client watching one NI does not
// receive 1000 endpoints; shared by the server, the API client and the CLI (no rxjs here: the CLI starts fast).
import type { ActorState, Transition } from '../edgenet-types.ts';

export const TRANSITION_KINDS: readonly Transition['kind'][] = ['network', 'endpoint', 'port', 'device'];
export const TRANSITION_STATES: readonly ActorState[] = ['pending', 'creating', 'ready', 'degraded', 'deleting', 'deleted'];

/** Which transitions a stream carries: every list is "any of"; an absent field matches everything. */
export interface EventFilter {
  kinds?: Transition['kind'][];
  /** exact name, or a glob with `*` (`web/*`, `*\/lan`) */
  name?: string;
  to?: ActorState[];
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/** A predicate for `filter`; also used by the CLI for a daemon that does not filter. */
export function transitionMatcher(filter: EventFilter): (t: Transition) => boolean {
  const name = filter.name === undefined ? undefined : globToRegExp(filter.name);
  return (t) => (filter.kinds === undefined || filter.kinds.includes(t.kind)) && (name === undefined || name.test(t.name)) && (filter.to === undefined || filter.to.includes(t.to));
}

/** `kind=endpoint,port&name=web/*&to=degraded` → a filter; an unknown kind or state is an error naming it. */
export function parseEventFilter(query: URLSearchParams): EventFilter {
  const list = (key: string): string[] | undefined => {
    const values = query.getAll(key).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
    return values.length > 0 ? values : undefined;
  };
  const kinds = list('kind');
  const to = list('to');
  for (const k of kinds ?? []) if (!(TRANSITION_KINDS as readonly string[]).includes(k)) throw new Error(`kind: unknown kind "${k}" (one of ${TRANSITION_KINDS.join(', ')})`);
  for (const s of to ?? []) if (!(TRANSITION_STATES as readonly string[]).includes(s)) throw new Error(`to: unknown state "${s}" (one of ${TRANSITION_STATES.join(', ')})`);
  const name = query.get('name') ?? undefined;
  return {
    ...(kinds && { kinds: kinds as Transition['kind'][] }),
    ...(name !== undefined && name !== '' && { name }),
    ...(to && { to: to as ActorState[] }),
  };
}

/** The filter as query parameters (the client's side of parseEventFilter). */
export function eventFilterQuery(filter: EventFilter): URLSearchParams {
  const q = new URLSearchParams();
  if (filter.kinds?.length) q.set('kind', filter.kinds.join(','));
  if (filter.name !== undefined) q.set('name', filter.name);
  if (filter.to?.length) q.set('to', filter.to.join(','));
  return q;
}

