import { createActor, type AnyActorRef, type AnyStateMachine, type Actor } from 'xstate';
import type { ChildLookup, SystemEmitted, systemMachine } from './system.machine.ts';

// The member actors of a system actor, outside its xstate children (see system.machine.ts: a children map is
// copied on every spawn and stop). Each member runs in the system actor's actor system with the system actor as its
// parent: its sendParent reaches the system actor, inspection sees it like a child. Spawn, send and stop are O(1).

export class MemberRegistry {
  private readonly refs = new Map<string, AnyActorRef>();
  private readonly offs: (() => void)[] = [];

  constructor(
    private readonly root: Actor<typeof systemMachine>,
    private readonly endpoint: AnyStateMachine,
  ) {
    const on = <T extends SystemEmitted['type']>(type: T, fn: (ev: Extract<SystemEmitted, { type: T }>) => void): void => {
      const sub = root.on(type, fn as never);
      this.offs.push(() => sub.unsubscribe());
    };
    on('member.spawn', ({ id, input }) => {
      const ref = createActor(this.endpoint, { id, systemId: id, parent: this.root, input });
      this.refs.set(id, ref);
      ref.start();
    });
    on('member.send', ({ id, event }) => this.refs.get(id)?.send(event));
    on('member.stop', ({ id }) => {
      const ref = this.refs.get(id);
      this.refs.delete(id);
      if (ref) stopMember(ref);
    });
  }

  get(id: string): AnyActorRef | undefined {
    return this.refs.get(id);
  }

  get size(): number {
    return this.refs.size;
  }

  ids(): IterableIterator<string> {
    return this.refs.keys();
  }

  values(): IterableIterator<AnyActorRef> {
    return this.refs.values();
  }

  /** Stops every member (each in O(1)): before the system actor stops, which does not know them as children. */
  stopAll(): void {
    for (const off of this.offs.splice(0)) off();
    for (const ref of this.refs.values()) stopMember(ref);
    this.refs.clear();
  }
}

/**
 * Stops a member as its parent would (xstate refuses `stop()` on an actor with a parent): the stop event stops
 * its invoked actors and timers. A member in its final state has stopped already.
 */
function stopMember(ref: AnyActorRef): void {
  if ((ref.getSnapshot() as { status?: string }).status === 'active') ref.send({ type: 'xstate.stop' });
}

/** The system's actors by child id: its xstate children (the NIs) and the registry's members. */
export function childLookup(children: Record<string, AnyActorRef | undefined>, members: MemberRegistry): ChildLookup {
  return {
    get: (id) => children[id] ?? members.get(id),
    *values() {
      for (const ref of Object.values(children)) if (ref) yield ref;
      yield* members.values();
    },
  };
}
