import { enqueueActions, setup, type AnyActorRef } from 'xstate';
import type { EndpointEvent, EndpointInput } from './endpoint.machine.ts';
import { networkInstanceMachine, type NiEvent, type NiInput } from './network-instance.machine.ts';
import { memberBridgeNetwork, niPorts, type BridgeHandle, type MemberSpec, type NiSpec } from './specs.ts';
import type { PortSeen } from './network-instance.machine.ts';
import { bucketDelete, bucketGet, bucketSet, bucketValues, type Buckets } from './hash-buckets.ts';

// The root actor: spawns one child per NI and has one actor per member (endpoint or port) started, forwards the few
// events that cross between them (NI up/down → its members, port carrier → its NI), and orders deletions (members
// before their NI, a replaced object's new actor only after the old one is gone).
//
// Members are not xstate children of this actor: xstate copies an actor's whole children map for every child it
// spawns or stops, so removing N members one by one cost O(N²) (46 s for 10 000). The machine asks for them by
// emitting `member.spawn` / `member.send` / `member.stop`; a registry (machines/member-registry.ts) runs them, in
// this actor's system and with this actor as their parent (their sendParent reaches it as a child's would).
// Its bookkeeping of members is kept in groups (one per NI, one for the ports), each in hash buckets
// (machines/hash-buckets.ts), so an event copies one small bucket, not every member of the NI.

/** One config change, already diffed: only what changed is in it. */
export interface Plan {
  networks: {
    create: NiSpec[];
    update: { spec: NiSpec; fields: string[] }[];
    delete: string[];
  };
  members: {
    create: MemberSpec[];
    update: { spec: MemberSpec; fields: string[] }[];
    delete: string[];
  };
}

export interface NiEntry {
  /** child actor id (names can come back after a delete, so ids carry a generation) */
  id: string;
  port?: string;
  /** all its port names, when it has several */
  ports?: string[];
  bridge?: BridgeHandle;
  deleting: boolean;
  /** the NI was removed from the config; its DELETE waits for its members to be gone */
  deleteRequested: boolean;
}

export interface MemberEntry {
  id: string;
  kind: MemberSpec['kind'];
  /** the NI whose bridge the member joins (ports: only when enslaved) */
  network?: string;
  /** ports: the NI that uses the port (enslaved or as uplink) */
  uplinkOf?: string;
  /** ports: the port's name */
  port?: string;
  deleting: boolean;
}

/** One group's members by key, and how many of its app members are being deleted (their NI waits for them). */
export interface MemberGroup {
  readonly entries: Buckets<MemberEntry>;
  readonly leaving: number;
}

/** Members by group (`memberGroupOf(key)`: the NI of an app interface, or PORTS_GROUP). */
export type MemberGroups = Record<string, MemberGroup>;

/** The group of the ports (NI names are [a-z0-9-]: no NI is called this). */
export const PORTS_GROUP = ':ports';

/** An app interface's key is `<app>/<network>`; a port's `port:<name>`. */
export function memberGroupOf(key: string): string {
  return key.startsWith('port:') ? PORTS_GROUP : key.slice(key.lastIndexOf('/') + 1);
}

export function memberOf(ctx: Pick<SystemContext, 'members'>, key: string): MemberEntry | undefined {
  return bucketGet(groupOf(ctx.members, memberGroupOf(key))?.entries, key);
}

export function allMembers(ctx: Pick<SystemContext, 'members'>): MemberEntry[] {
  return Object.values(ctx.members).flatMap((g) => [...bucketValues(g.entries)]);
}

/** A group's members (none when it has none). */
export function groupMembers(members: MemberGroups, group: string): IterableIterator<MemberEntry> {
  return bucketValues(groupOf(members, group)?.entries);
}

function groupOf(members: MemberGroups, group: string): MemberGroup | undefined {
  return Object.hasOwn(members, group) ? members[group] : undefined;
}

/** An app member whose NI waits for it to be gone. */
function isLeaving(m: MemberEntry | undefined): boolean {
  return m !== undefined && m.kind !== 'port' && m.deleting;
}

export interface SystemContext {
  gen: number;
  networks: Record<string, NiEntry>;
  members: MemberGroups;
  /** creations waiting for the old actor of the same name/key to finish deleting */
  queuedNetworks: Record<string, NiSpec>;
  queuedMembers: Record<string, MemberSpec>;
  portStates: Record<string, PortSeen>;
}

/** What src/ reads of the system actor's snapshot: its bookkeeping and its children (NIs and members by id). */
export interface SystemSnapshotLike {
  context: SystemContext;
  children: ChildLookup;
}

/** The system's actors by child id: the NIs (xstate children) and the members (the registry). */
export interface ChildLookup {
  get(id: string): AnyActorRef | undefined;
  values(): Iterable<AnyActorRef>;
}

/** What the system actor asks of the member registry. */
export type SystemEmitted =
  | { type: 'member.spawn'; id: string; input: EndpointInput }
  | { type: 'member.send'; id: string; event: EndpointEvent }
  | { type: 'member.stop'; id: string };

export type SystemEvent =
  | { type: 'APPLY'; plan: Plan }
  | { type: 'NI_UP'; id: string; name: string; bridge: BridgeHandle }
  | { type: 'NI_DOWN'; id: string; name: string }
  | { type: 'PORT_STATE'; port: string; present: boolean; carrier: boolean; guard?: string }
  | { type: 'PORT_PROBE'; port: string; ok: boolean; detail: string }
  | { type: 'CHILD_DELETED'; id: string };

/**
 * A handler's view of the bookkeeping it edits before assigning it back. Entries are replaced, never mutated; the
 * NI map is copied the first time the handler writes to it, a member group is updated by copying one bucket, so an
 * event costs what it changes.
 */
class Draft {
  queuedNetworks: Record<string, NiSpec>;
  queuedMembers: Record<string, MemberSpec>;
  private nets: Record<string, NiEntry>;
  private members: MemberGroups;
  private copiedNets = false;
  private copiedOuter = false;
  private copiedQueues = false;

  constructor(context: SystemContext) {
    this.nets = context.networks;
    this.members = context.members;
    this.queuedNetworks = context.queuedNetworks;
    this.queuedMembers = context.queuedMembers;
  }

  ni(name: string): NiEntry | undefined {
    return Object.hasOwn(this.nets, name) ? this.nets[name] : undefined;
  }

  setNi(name: string, entry: NiEntry): void {
    this.writableNets()[name] = entry;
  }

  deleteNi(name: string): void {
    if (this.ni(name)) delete this.writableNets()[name];
  }

  private writableNets(): Record<string, NiEntry> {
    if (!this.copiedNets) {
      this.nets = { ...this.nets };
      this.copiedNets = true;
    }
    return this.nets;
  }

  member(key: string): MemberEntry | undefined {
    return bucketGet(groupOf(this.members, memberGroupOf(key))?.entries, key);
  }

  /** App members of the NI still being deleted: the NI is deleted only when none is left. */
  leaving(ni: string): boolean {
    return (groupOf(this.members, ni)?.leaving ?? 0) > 0;
  }

  private putGroup(g: string, group: MemberGroup | undefined): void {
    if (!this.copiedOuter) {
      this.members = { ...this.members };
      this.copiedOuter = true;
    }
    if (group) this.members[g] = group;
    else delete this.members[g];
  }

  setMember(key: string, entry: MemberEntry): void {
    const g = memberGroupOf(key);
    const group = groupOf(this.members, g);
    const old = bucketGet(group?.entries, key);
    const leaving = (group?.leaving ?? 0) + Number(isLeaving(entry)) - Number(isLeaving(old));
    this.putGroup(g, { entries: bucketSet(group?.entries, key, entry), leaving });
  }

  deleteMember(key: string): void {
    const g = memberGroupOf(key);
    const group = groupOf(this.members, g);
    const old = bucketGet(group?.entries, key);
    if (!group || !old) return;
    const entries = bucketDelete(group.entries, key);
    this.putGroup(g, entries && { entries, leaving: group.leaving - Number(isLeaving(old)) });
  }

  /** The queues, copied before the first write. */
  queues(): { queuedNetworks: Record<string, NiSpec>; queuedMembers: Record<string, MemberSpec> } {
    if (!this.copiedQueues) {
      this.queuedNetworks = { ...this.queuedNetworks };
      this.queuedMembers = { ...this.queuedMembers };
      this.copiedQueues = true;
    }
    return this;
  }

  result(gen: number): Pick<SystemContext, 'gen' | 'networks' | 'members' | 'queuedNetworks' | 'queuedMembers'> {
    return { gen, networks: this.nets, members: this.members, queuedNetworks: this.queuedNetworks, queuedMembers: this.queuedMembers };
  }
}

/** What a child id names: `ni:<name>#<gen>`, `ep:<key>#<gen>` or `port:<name>#<gen>`. */
function parseChildId(id: string): { network: string } | { member: string } | undefined {
  const hash = id.lastIndexOf('#');
  if (hash < 0) return undefined;
  const body = id.slice(0, hash);
  if (body.startsWith('ni:')) return { network: body.slice(3) };
  if (body.startsWith('ep:')) return { member: body.slice(3) };
  return { member: body };
}

function niEntry(id: string, spec: NiSpec): NiEntry {
  return { id, port: spec.port, ...(spec.ports && { ports: spec.ports }), deleting: false, deleteRequested: false };
}

function usesPort(ni: NiEntry, port: string): boolean {
  return ni.port === port || ni.ports?.includes(port) === true;
}

/** What the system actor knows of the NI's ports, for a new NI actor. */
function niInput(spec: NiSpec, portStates: Record<string, PortSeen>): NiInput {
  const known: Record<string, PortSeen> = {};
  for (const p of niPorts(spec)) if (portStates[p]) known[p] = portStates[p];
  return { spec, portStates: known };
}

function niChildId(name: string, gen: number): string {
  return `ni:${name}#${gen}`;
}

function memberChildId(spec: MemberSpec, gen: number): string {
  return `${spec.kind === 'port' ? '' : 'ep:'}${spec.key}#${gen}`;
}


function memberEntry(id: string, spec: MemberSpec): MemberEntry {
  return {
    id,
    kind: spec.kind,
    network: memberBridgeNetwork(spec),
    uplinkOf: spec.kind === 'port' ? spec.network : undefined,
    port: spec.kind === 'port' ? spec.name : undefined,
    deleting: false,
  };
}

/** The members whose bridge is this NI's: its group, and the ports enslaved to it. */
function membersOfNi(members: MemberGroups, ni: string): MemberEntry[] {
  return [...groupMembers(members, ni), ...[...groupMembers(members, PORTS_GROUP)].filter((m) => m.network === ni)];
}

export const systemMachine = setup({
  types: {} as { context: SystemContext; events: SystemEvent; emitted: SystemEmitted },
  actors: {
    networkInstance: networkInstanceMachine,
  },
}).createMachine({
  id: 'edgenet',
  context: { gen: 0, networks: {}, members: {}, queuedNetworks: {}, queuedMembers: {}, portStates: {} },
  initial: 'running',
  states: {
    running: {
      on: {
        APPLY: {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const d = new Draft(context);
            let gen = context.gen;
            const { plan } = event;
            const toMember = (id: string, ev: EndpointEvent): void => enqueue.emit({ type: 'member.send', id, event: ev });

            // NIs are spawned together in the final assign (one copy of the children map per APPLY); members after it
            const newNis: { id: string; input: NiInput }[] = [];
            const newMembers: { id: string; input: EndpointInput }[] = [];
            const spawnNi = (spec: NiSpec): void => {
              const id = niChildId(spec.name, ++gen);
              newNis.push({ id, input: niInput(spec, context.portStates) });
              d.setNi(spec.name, niEntry(id, spec));
            };
            const spawnMember = (spec: MemberSpec): void => {
              const id = memberChildId(spec, ++gen);
              const ni = memberBridgeNetwork(spec);
              const owner = ni ? d.ni(ni) : undefined;
              const bridge = owner && !owner.deleteRequested ? owner.bridge : undefined;
              newMembers.push({ id, input: { spec, bridge } });
              d.setMember(spec.key, memberEntry(id, spec));
            };

            // 1. members that go: their DELETE first, so an NI that goes with them can follow
            for (const key of plan.members.delete) {
              const m = d.member(key);
              // a re-creation still waiting for the old actor is cancelled too
              if (d.queuedMembers[key]) delete d.queues().queuedMembers[key];
              if (!m || m.deleting) continue;
              d.setMember(key, { ...m, deleting: true });
              toMember(m.id, { type: 'DELETE' });
            }
            // 2. NIs that go: now, or when their last app member is gone
            for (const name of plan.networks.delete) {
              const ni = d.ni(name);
              if (d.queuedNetworks[name]) delete d.queues().queuedNetworks[name];
              if (!ni || ni.deleteRequested) continue;
              // app members (veth, tap) still being deleted hold it (ports outlive NIs; members not being deleted are
              // the replacements of a rebuilt NI, and wait for the new one)
              const going = !d.leaving(name);
              d.setNi(name, { ...ni, deleteRequested: true, deleting: going });
              if (going) enqueue.sendTo(ni.id, { type: 'DELETE' } satisfies NiEvent);
            }
            // 3. NIs that change in place
            for (const { spec, fields } of plan.networks.update) {
              const ni = d.ni(spec.name);
              // a re-creation still waiting for the old actor takes the update into its spec
              if (d.queuedNetworks[spec.name]) d.queues().queuedNetworks[spec.name] = spec;
              if (!ni || ni.deleteRequested) continue;
              const { port: _old, ports: _olds, ...rest } = ni;
              d.setNi(spec.name, { ...rest, port: spec.port, ...(spec.ports && { ports: spec.ports }) });
              enqueue.sendTo(ni.id, { type: 'UPDATE', spec, fields } satisfies NiEvent);
              for (const port of niPorts(spec)) {
                const portState = context.portStates[port];
                if (portState) enqueue.sendTo(ni.id, { type: 'PORT_STATE', port, ...portState } satisfies NiEvent);
              }
            }
            // 4. new NIs (after the old actor of the same name is gone)
            for (const spec of plan.networks.create) {
              if (d.ni(spec.name)) d.queues().queuedNetworks[spec.name] = spec;
              else spawnNi(spec);
            }
            // 5. members that change in place
            for (const { spec, fields } of plan.members.update) {
              const m = d.member(spec.key);
              if (d.queuedMembers[spec.key]) d.queues().queuedMembers[spec.key] = spec;
              if (!m || m.deleting) continue;
              const next = memberEntry(m.id, spec);
              d.setMember(spec.key, next);
              toMember(m.id, { type: 'UPDATE', spec, fields });
              const owner = next.network ? d.ni(next.network) : undefined;
              if (owner?.bridge && !owner.deleteRequested) toMember(m.id, { type: 'NI_UP', bridge: owner.bridge });
              else if (next.network !== m.network) toMember(m.id, { type: 'NI_DOWN' });
            }
            // 6. new members (after the old actor of the same key is gone)
            for (const spec of plan.members.create) {
              if (d.member(spec.key)) d.queues().queuedMembers[spec.key] = spec;
              else spawnMember(spec);
            }
            enqueue.assign(({ spawn }) => {
              for (const { id, input } of newNis) spawn('networkInstance', { id, input });
              return d.result(gen);
            });
            for (const { id, input } of newMembers) enqueue.emit({ type: 'member.spawn', id, input });
          }),
        },
        NI_UP: {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const ni = context.networks[event.name];
            // an NI on its way out must not hand its bridge to members (the replacements of a rebuilt NI)
            if (!ni || ni.id !== event.id || ni.deleteRequested) return;
            enqueue.assign({ networks: { ...context.networks, [event.name]: { ...ni, bridge: event.bridge } } });
            for (const m of membersOfNi(context.members, event.name)) {
              if (!m.deleting) enqueue.emit({ type: 'member.send', id: m.id, event: { type: 'NI_UP', bridge: event.bridge } });
            }
          }),
        },
        NI_DOWN: {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const ni = context.networks[event.name];
            if (!ni || ni.id !== event.id) return;
            enqueue.assign({ networks: { ...context.networks, [event.name]: { ...ni, bridge: undefined } } });
            for (const m of membersOfNi(context.members, event.name)) {
              if (!m.deleting) enqueue.emit({ type: 'member.send', id: m.id, event: { type: 'NI_DOWN' } });
            }
          }),
        },
        PORT_STATE: {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const state: PortSeen = { present: event.present, carrier: event.carrier, ...(event.guard !== undefined && { guard: event.guard }) };
            enqueue.assign({ portStates: { ...context.portStates, [event.port]: state } });
            for (const ni of Object.values(context.networks)) {
              if (usesPort(ni, event.port) && !ni.deleting) enqueue.sendTo(ni.id, { type: 'PORT_STATE', port: event.port, ...state } satisfies NiEvent);
            }
          }),
        },
        // a port's probe result: to every NI that NATs out of the port (only multi-port local NIs act on it)
        PORT_PROBE: {
          actions: enqueueActions(({ context, event, enqueue }) => {
            for (const ni of Object.values(context.networks)) {
              if (usesPort(ni, event.port) && !ni.deleting) enqueue.sendTo(ni.id, { type: 'PORT_PROBE', port: event.port, ok: event.ok, detail: event.detail } satisfies NiEvent);
            }
          }),
        },
        CHILD_DELETED: {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const d = new Draft(context);
            let gen = context.gen;
            const what = parseChildId(event.id);
            const memberKey = what && 'member' in what && d.member(what.member)?.id === event.id ? what.member : undefined;
            const niName = what && 'network' in what && d.ni(what.network)?.id === event.id ? what.network : undefined;
            if (memberKey) enqueue.emit({ type: 'member.stop', id: event.id });
            else enqueue.stopChild(event.id);
            if (memberKey) {
              const gone = d.member(memberKey) as MemberEntry;
              d.deleteMember(memberKey);
              // an NI waiting for its last member can go now
              const ni = gone.network ? d.ni(gone.network) : undefined;
              if (gone.network && ni?.deleteRequested && !ni.deleting && !d.leaving(gone.network)) {
                d.setNi(gone.network, { ...ni, deleting: true });
                enqueue.sendTo(ni.id, { type: 'DELETE' } satisfies NiEvent);
              }
              const next = d.queuedMembers[memberKey];
              if (next) {
                delete d.queues().queuedMembers[memberKey];
                const id = memberChildId(next, ++gen);
                const bridgeNi = memberBridgeNetwork(next);
                const owner = bridgeNi ? d.ni(bridgeNi) : undefined;
                d.setMember(next.key, memberEntry(id, next));
                enqueue.emit({ type: 'member.spawn', id, input: { spec: next, bridge: owner && !owner.deleteRequested ? owner.bridge : undefined } });
              }
            }
            if (niName) {
              d.deleteNi(niName);
              const next = d.queuedNetworks[niName];
              if (next) {
                delete d.queues().queuedNetworks[niName];
                const id = niChildId(next.name, ++gen);
                enqueue.spawnChild('networkInstance', { id, input: niInput(next, context.portStates) });
                d.setNi(next.name, niEntry(id, next));
              }
            }
            enqueue.assign(d.result(gen));
          }),
        },
      },
    },
  },
});
