import { enqueueActions, setup, type AnyActorRef } from 'xstate';
import { endpointMachine, type EndpointEvent, type EndpointInput } from './endpoint.machine.ts';
import { networkInstanceMachine, type NiEvent, type NiInput } from './network-instance.machine.ts';
import { memberBridgeNetwork, niPorts, type BridgeHandle, type MemberSpec, type NiSpec } from './specs.ts';
import type { PortSeen } from './network-instance.machine.ts';

// The root actor: spawns one child per NI and per member (endpoint or port), forwards the few events that cross
// between them (NI up/down → its members, port carrier → its NI), and orders deletions (members before their NI,
// a replaced object's new actor only after the old one is gone).

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

export interface SystemContext {
  gen: number;
  networks: Record<string, NiEntry>;
  members: Record<string, MemberEntry>;
  /** creations waiting for the old actor of the same name/key to finish deleting */
  queuedNetworks: Record<string, NiSpec>;
  queuedMembers: Record<string, MemberSpec>;
  portStates: Record<string, PortSeen>;
}

/** What src/ reads of the system actor's snapshot: its bookkeeping and its children. */
export interface SystemSnapshotLike {
  context: SystemContext;
  children: Record<string, AnyActorRef | undefined>;
}

export type SystemEvent =
  | { type: 'APPLY'; plan: Plan }
  | { type: 'NI_UP'; id: string; name: string; bridge: BridgeHandle }
  | { type: 'NI_DOWN'; id: string; name: string }
  | { type: 'PORT_STATE'; port: string; present: boolean; carrier: boolean; guard?: string }
  | { type: 'PORT_PROBE'; port: string; ok: boolean; detail: string }
  | { type: 'CHILD_DELETED'; id: string };

/**
 * Copies of the bookkeeping maps a handler edits before assigning them back. Entries are replaced, never mutated,
 * so a shallow copy of each map is enough (no deep copy of 1000 entries per event).
 */
function draftOf(context: SystemContext): Pick<SystemContext, 'networks' | 'members' | 'queuedNetworks' | 'queuedMembers'> {
  return {
    networks: { ...context.networks },
    members: { ...context.members },
    queuedNetworks: { ...context.queuedNetworks },
    queuedMembers: { ...context.queuedMembers },
  };
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

/**
 * App members (veth, tap) of an NI still being deleted: the NI is deleted only when none is left. Ports outlive NIs.
 * Members not being deleted do not hold it: they are the replacements of a rebuilt NI, and wait for the new one.
 */
function appMembersOf(members: Record<string, MemberEntry>, ni: string): MemberEntry[] {
  return Object.values(members).filter((m) => m.kind !== 'port' && m.network === ni && m.deleting);
}

export const systemMachine = setup({
  types: {} as { context: SystemContext; events: SystemEvent },
  actors: {
    networkInstance: networkInstanceMachine,
    endpoint: endpointMachine,
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
            const { networks, members, queuedNetworks, queuedMembers } = draftOf(context);
            let gen = context.gen;
            const { plan } = event;

            // children are spawned together in the final assign: one copy of the children map per APPLY, not per child
            const newNis: { id: string; input: NiInput }[] = [];
            const newMembers: { id: string; input: EndpointInput }[] = [];
            const spawnNi = (spec: NiSpec): void => {
              const id = niChildId(spec.name, ++gen);
              newNis.push({ id, input: niInput(spec, context.portStates) });
              networks[spec.name] = niEntry(id, spec);
            };
            const spawnMember = (spec: MemberSpec): void => {
              const id = memberChildId(spec, ++gen);
              const ni = memberBridgeNetwork(spec);
              const owner = ni ? networks[ni] : undefined;
              const bridge = owner && !owner.deleteRequested ? owner.bridge : undefined;
              newMembers.push({ id, input: { spec, bridge } });
              members[spec.key] = memberEntry(id, spec);
            };

            // 1. members that go: their DELETE first, so an NI that goes with them can follow
            for (const key of plan.members.delete) {
              const m = members[key];
              // a re-creation still waiting for the old actor is cancelled too
              delete queuedMembers[key];
              if (!m || m.deleting) continue;
              members[key] = { ...m, deleting: true };
              enqueue.sendTo(m.id, { type: 'DELETE' } satisfies EndpointEvent);
            }
            // 2. NIs that go: now, or when their last app member is gone
            for (const name of plan.networks.delete) {
              const ni = networks[name];
              delete queuedNetworks[name];
              if (!ni || ni.deleteRequested) continue;
              const going = appMembersOf(members, name).length === 0;
              networks[name] = { ...ni, deleteRequested: true, deleting: going };
              if (going) enqueue.sendTo(ni.id, { type: 'DELETE' } satisfies NiEvent);
            }
            // 3. NIs that change in place
            for (const { spec, fields } of plan.networks.update) {
              const ni = networks[spec.name];
              // a re-creation still waiting for the old actor takes the update into its spec
              if (queuedNetworks[spec.name]) queuedNetworks[spec.name] = spec;
              if (!ni || ni.deleteRequested) continue;
              const { port: _old, ports: _olds, ...rest } = ni;
              networks[spec.name] = { ...rest, port: spec.port, ...(spec.ports && { ports: spec.ports }) };
              enqueue.sendTo(ni.id, { type: 'UPDATE', spec, fields } satisfies NiEvent);
              for (const port of niPorts(spec)) {
                const portState = context.portStates[port];
                if (portState) enqueue.sendTo(ni.id, { type: 'PORT_STATE', port, ...portState } satisfies NiEvent);
              }
            }
            // 4. new NIs (after the old actor of the same name is gone)
            for (const spec of plan.networks.create) {
              if (networks[spec.name]) queuedNetworks[spec.name] = spec;
              else spawnNi(spec);
            }
            // 5. members that change in place
            for (const { spec, fields } of plan.members.update) {
              const m = members[spec.key];
              if (queuedMembers[spec.key]) queuedMembers[spec.key] = spec;
              if (!m || m.deleting) continue;
              const next = memberEntry(m.id, spec);
              members[spec.key] = next;
              enqueue.sendTo(m.id, { type: 'UPDATE', spec, fields } satisfies EndpointEvent);
              const owner = next.network ? networks[next.network] : undefined;
              if (owner?.bridge && !owner.deleteRequested) enqueue.sendTo(m.id, { type: 'NI_UP', bridge: owner.bridge } satisfies EndpointEvent);
              else if (next.network !== m.network) enqueue.sendTo(m.id, { type: 'NI_DOWN' } satisfies EndpointEvent);
            }
            // 6. new members (after the old actor of the same key is gone)
            for (const spec of plan.members.create) {
              if (members[spec.key]) queuedMembers[spec.key] = spec;
              else spawnMember(spec);
            }
            enqueue.assign(({ spawn }) => {
              for (const { id, input } of newNis) spawn('networkInstance', { id, input });
              for (const { id, input } of newMembers) spawn('endpoint', { id, input });
              return { gen, networks, members, queuedNetworks, queuedMembers };
            });
          }),
        },
        NI_UP: {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const ni = context.networks[event.name];
            // an NI on its way out must not hand its bridge to members (the replacements of a rebuilt NI)
            if (!ni || ni.id !== event.id || ni.deleteRequested) return;
            enqueue.assign({ networks: { ...context.networks, [event.name]: { ...ni, bridge: event.bridge } } });
            for (const m of Object.values(context.members)) {
              if (m.network === event.name && !m.deleting) enqueue.sendTo(m.id, { type: 'NI_UP', bridge: event.bridge } satisfies EndpointEvent);
            }
          }),
        },
        NI_DOWN: {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const ni = context.networks[event.name];
            if (!ni || ni.id !== event.id) return;
            enqueue.assign({ networks: { ...context.networks, [event.name]: { ...ni, bridge: undefined } } });
            for (const m of Object.values(context.members)) {
              if (m.network === event.name && !m.deleting) enqueue.sendTo(m.id, { type: 'NI_DOWN' } satisfies EndpointEvent);
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
            const { networks, members, queuedNetworks, queuedMembers } = draftOf(context);
            let gen = context.gen;
            enqueue.stopChild(event.id);

            const memberKey = Object.keys(members).find((k) => members[k]?.id === event.id);
            const niName = Object.keys(networks).find((k) => networks[k]?.id === event.id);
            if (memberKey) {
              const gone = members[memberKey] as MemberEntry;
              delete members[memberKey];
              // an NI waiting for its last member can go now
              const ni = gone.network ? networks[gone.network] : undefined;
              if (gone.network && ni?.deleteRequested && !ni.deleting && appMembersOf(members, gone.network).length === 0) {
                networks[gone.network] = { ...ni, deleting: true };
                enqueue.sendTo(ni.id, { type: 'DELETE' } satisfies NiEvent);
              }
              const next = queuedMembers[memberKey];
              if (next) {
                delete queuedMembers[memberKey];
                const id = memberChildId(next, ++gen);
                const bridgeNi = memberBridgeNetwork(next);
                const owner = bridgeNi ? networks[bridgeNi] : undefined;
                enqueue.spawnChild('endpoint', { id, input: { spec: next, bridge: owner && !owner.deleteRequested ? owner.bridge : undefined } });
                members[next.key] = memberEntry(id, next);
              }
            }
            if (niName) {
              delete networks[niName];
              const next = queuedNetworks[niName];
              if (next) {
                delete queuedNetworks[niName];
                const id = niChildId(next.name, ++gen);
                enqueue.spawnChild('networkInstance', { id, input: niInput(next, context.portStates) });
                networks[next.name] = niEntry(id, next);
              }
            }
            enqueue.assign({ gen, networks, members, queuedNetworks, queuedMembers });
          }),
        },
      },
    },
  },
});
