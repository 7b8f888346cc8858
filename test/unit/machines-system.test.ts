import { topState } from '../../machines/specs.ts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createActor, waitFor, type ActorRefFrom, type AnyActorRef, type EventObject, type InspectionEvent } from 'xstate';
import type { endpointMachine } from '../../machines/endpoint.machine.ts';
import type { networkInstanceMachine } from '../../machines/network-instance.machine.ts';
import type { EndpointSpec, NiSpec, PortSpec } from '../../machines/specs.ts';
import { allMembers, PORTS_GROUP, type Plan, type systemMachine } from '../../machines/system.machine.ts';
import { bucketKeys, slotOf } from '../../machines/hash-buckets.ts';
import { vmTap, webVeth } from '../fixtures/member-specs.ts';
import { systemWithFakes } from '../helpers/machine-fakes.ts';
import { childLookup, MemberRegistry } from '../../machines/member-registry.ts';

const lan: NiSpec = {
  name: 'lan',
  type: 'local',
  bridge: 'enlan',
  port: 'uplink',
  portIfname: 'eth1',
  subnet: '10.50.0.0/24',
  gateway: '10.50.0.1',
  prefixlen: 24,
};
const plant: NiSpec = { name: 'plant', type: 'switch', bridge: 'enplant', port: 'fieldbus', portIfname: 'eth2' };
const uplink: PortSpec = { key: 'port:uplink', kind: 'port', name: 'uplink', ifname: 'eth1', network: 'lan', attach: false };
const fieldbus: PortSpec = { key: 'port:fieldbus', kind: 'port', name: 'fieldbus', ifname: 'eth2', network: 'plant', attach: true };
const web = webVeth;
const vm = vmTap;
const plc: EndpointSpec = { key: 'plc/plant', app: 'plc', network: 'plant', kind: 'tap', hostIfname: 'vif9', mac: '02:00:00:00:00:03' };

type NiRef = ActorRefFrom<typeof networkInstanceMachine>;
type EpRef = ActorRefFrom<typeof endpointMachine>;
type SystemRef = ActorRefFrom<typeof systemMachine>;

interface PlanParts {
  networks?: Partial<Plan['networks']>;
  members?: Partial<Plan['members']>;
}

function plan(parts: PlanParts): Plan {
  return {
    networks: { create: [], update: [], delete: [], ...parts.networks },
    members: { create: [], update: [], delete: [], ...parts.members },
  };
}

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

/** The system actor on a fake kernel where the taps, ports and app namespaces of the fixtures exist. */
function start() {
  const fakes = systemWithFakes();
  const { kernel } = fakes;
  kernel.addLink('eth1');
  kernel.addLink('eth2');
  kernel.addLink('vif7');
  kernel.addLink('vif9');
  kernel.netns.add('/run/netns/web');
  /** events each child received, by child id */
  const received = new Map<string, EventObject[]>();
  const inspect = (ev: InspectionEvent): void => {
    if (ev.type !== '@xstate.event' || ev.event.type.startsWith('xstate.')) return;
    const id = (ev.actorRef as AnyActorRef).id;
    received.set(id, [...(received.get(id) ?? []), ev.event]);
  };
  const actor = createActor(fakes.machine, { inspect });
  registries.set(actor, new MemberRegistry(actor, fakes.endpoint));
  actor.start();
  stops.push(() => {
    registries.get(actor)?.stopAll();
    actor.stop();
  });
  return { ...fakes, actor, received };
}

/** the member registry of each system actor started here */
const registries = new WeakMap<SystemRef, MemberRegistry>();

/** NIs (xstate children) and members (the registry), by child id */
function children(actor: SystemRef): Record<string, AnyActorRef> {
  const out: Record<string, AnyActorRef> = {};
  for (const ref of childLookup(actor.getSnapshot().children, registries.get(actor) as MemberRegistry).values()) out[ref.id] = ref;
  return out;
}

function ids(actor: SystemRef): string[] {
  return Object.keys(children(actor)).sort();
}

function ni(actor: SystemRef, id: string): NiRef {
  const ref = children(actor)[id];
  if (!ref) throw new Error(`no child ${id}; children: ${ids(actor).join(', ')}`);
  return ref as NiRef;
}

function ep(actor: SystemRef, id: string): EpRef {
  const ref = children(actor)[id];
  if (!ref) throw new Error(`no child ${id}; children: ${ids(actor).join(', ')}`);
  return ref as EpRef;
}

function states(actor: SystemRef): Record<string, unknown> {
  return Object.fromEntries(Object.entries(children(actor)).map(([id, c]) => [id, topState((c?.getSnapshot() as { value?: unknown } | undefined)?.value)]));
}

/** every child (NI and member) settled in `ready`; the system's own snapshot does not change with its children's, so poll */
async function allReady(actor: SystemRef): Promise<void> {
  await vi.waitFor(() => {
    const notReady = Object.entries(states(actor)).filter(([, v]) => v !== 'ready');
    if (notReady.length) throw new Error(`not ready: ${JSON.stringify(Object.fromEntries(notReady))}`);
  }, { timeout: 2_000, interval: 5 });
}

const tick = (ms = 10) => new Promise((r) => setTimeout(r, ms));

function expectNoBookkeeping(actor: SystemRef): void {
  const { context } = actor.getSnapshot();
  expect(context.networks).toEqual({});
  expect(context.members).toEqual({});
  expect(context.queuedNetworks).toEqual({});
  expect(context.queuedMembers).toEqual({});
  expect(ids(actor)).toEqual([]);
}

const full = plan({ networks: { create: [lan, plant] }, members: { create: [uplink, fieldbus, web, vm, plc] } });

describe('system machine', () => {
  it('APPLY spawns one child per NI and per member, and everything becomes ready', async () => {
    const { actor, kernel } = start();
    actor.send({ type: 'APPLY', plan: full });
    expect(ids(actor)).toEqual(['ep:plc/plant#7', 'ep:vm/lan#6', 'ep:web/lan#5', 'ni:lan#1', 'ni:plant#2', 'port:fieldbus#4', 'port:uplink#3']);
    await allReady(actor);
    expect(kernel.masterOf('enweb0')).toBe('enlan');
    expect(kernel.masterOf('vif7')).toBe('enlan');
    expect(kernel.masterOf('vif9')).toBe('enplant');
    expect(kernel.masterOf('eth2')).toBe('enplant');
    // the local NI's port is its NAT uplink: never enslaved
    expect(kernel.masterOf('eth1')).toBeUndefined();
    const { context } = actor.getSnapshot();
    expect(context.networks.lan?.bridge).toEqual(kernel.bridges.get('enlan'));
    expect(context.portStates).toEqual({ uplink: { present: true, carrier: true }, fieldbus: { present: true, carrier: true } });
  });

  it('an endpoint waits in pending until its NI is ready, then attaches to its bridge', async () => {
    const { actor, ni: niOps, ep: epOps, kernel } = start();
    niOps.createNi.hold();
    actor.send({ type: 'APPLY', plan: plan({ networks: { create: [lan] }, members: { create: [uplink, vm] } }) });
    await tick();
    expect(topState(ni(actor, 'ni:lan#1').getSnapshot().value)).toBe('creating');
    expect(topState(ep(actor, 'ep:vm/lan#3').getSnapshot().value)).toBe('pending');
    expect(ep(actor, 'ep:vm/lan#3').getSnapshot().context.reason).toBe('waiting for network lan');
    expect(epOps.attach.inputs.map((i) => i.spec.key)).toEqual(['port:uplink']);

    niOps.createNi.open[0]?.resolve();
    await waitFor(ep(actor, 'ep:vm/lan#3'), (s) => s.matches('ready'));
    expect(topState(ni(actor, 'ni:lan#1').getSnapshot().value)).toBe('ready');
    expect(epOps.attach.calls.at(-1)?.input).toEqual({ spec: vm, bridge: kernel.bridges.get('enlan') });
  });

  it('a member created after its NI is up gets the bridge at once', async () => {
    const { actor, ep: epOps, kernel } = start();
    actor.send({ type: 'APPLY', plan: plan({ networks: { create: [lan] }, members: { create: [uplink] } }) });
    await allReady(actor);
    actor.send({ type: 'APPLY', plan: plan({ members: { create: [vm] } }) });
    expect(ep(actor, 'ep:vm/lan#3').getSnapshot().context.bridge).toEqual(kernel.bridges.get('enlan'));
    await allReady(actor);
    expect(epOps.attach.calls).toHaveLength(2);
  });

  it("deleting an NI deletes its endpoints first, then the NI", async () => {
    const { actor, ni: niOps, ep: epOps, kernel } = start();
    actor.send({ type: 'APPLY', plan: full });
    await allReady(actor);
    epOps.detach.hold();
    actor.send({ type: 'APPLY', plan: plan({ networks: { delete: ['lan'] }, members: { delete: ['web/lan', 'vm/lan', 'port:uplink'] } }) });
    await tick();
    expect(topState(ep(actor, 'ep:web/lan#5').getSnapshot().value)).toBe('deleting');
    expect(topState(ep(actor, 'ep:vm/lan#6').getSnapshot().value)).toBe('deleting');
    expect(topState(ni(actor, 'ni:lan#1').getSnapshot().value)).not.toBe('deleting');
    expect(niOps.deleteNi.calls).toHaveLength(0);

    epOps.detach.open.find((c) => c.input.key === 'web/lan')?.resolve();
    await tick();
    expect(niOps.deleteNi.calls).toHaveLength(0);
    epOps.detach.release();
    for (const call of epOps.detach.open) call.resolve();
    await waitFor(actor, (s) => s.context.networks.lan === undefined);

    const order = kernel.log.filter((l) => l.startsWith('detach') || l.startsWith('deleteNi'));
    expect(order.indexOf('deleteNi lan')).toBe(order.length - 1);
    expect(order.slice(0, -1).sort()).toEqual(['detach port:uplink', 'detach vm/lan', 'detach web/lan']);
    expect(kernel.bridges.has('enlan')).toBe(false);
    // the other NI and its members are untouched
    expect(ids(actor)).toEqual(['ep:plc/plant#7', 'ni:plant#2', 'port:fieldbus#4']);
    expect(topState(ni(actor, 'ni:plant#2').getSnapshot().value)).toBe('ready');
  });

  it("a port's carrier loss reaches only the NI that uses it", async () => {
    const { actor, ni: niOps, kernel, received } = start();
    actor.send({ type: 'APPLY', plan: full });
    await allReady(actor);
    received.clear();

    ep(actor, 'port:fieldbus#4').send({ type: 'LINK_NEW', link: kernel.setCarrier('eth2', false) });
    await waitFor(ni(actor, 'ni:plant#2'), (s) => s.matches('degraded'));
    expect(ni(actor, 'ni:plant#2').getSnapshot().context.reason).toBe('port fieldbus (eth2) has no carrier');
    expect(received.get('ni:plant#2')).toEqual([{ type: 'PORT_STATE', port: 'fieldbus', present: true, carrier: false }]);
    // the other NI, its members, and the plant NI's own app: nothing
    for (const id of ['ni:lan#1', 'port:uplink#3', 'ep:web/lan#5', 'ep:vm/lan#6', 'ep:plc/plant#7']) expect(received.get(id)).toBeUndefined();
    expect(topState(ni(actor, 'ni:lan#1').getSnapshot().value)).toBe('ready');
    expect(topState(ep(actor, 'ep:plc/plant#7').getSnapshot().value)).toBe('ready');

    ep(actor, 'port:fieldbus#4').send({ type: 'LINK_NEW', link: kernel.setCarrier('eth2', true) });
    await waitFor(ni(actor, 'ni:plant#2'), (s) => s.matches('ready'));
    expect(received.get('ni:lan#1')).toBeUndefined();
    expect(niOps.createNi.calls).toHaveLength(2);
    expect(actor.getSnapshot().context.portStates.fieldbus).toEqual({ present: true, carrier: true });
  });

  it('a bridge deleted behind our back is rebuilt and its members re-attached to the new one', async () => {
    const { actor, kernel } = start();
    actor.send({ type: 'APPLY', plan: full });
    await allReady(actor);
    const old = kernel.bridges.get('enlan');
    kernel.bridges.delete('enlan');
    for (const link of kernel.links.values()) if (link.master === old?.ifindex) delete link.master;

    ni(actor, 'ni:lan#1').send({ type: 'BRIDGE_GONE' });
    expect(topState(ep(actor, 'ep:vm/lan#6').getSnapshot().value)).toBe('pending');
    await allReady(actor);
    const rebuilt = kernel.bridges.get('enlan');
    expect(rebuilt?.ifindex).not.toBe(old?.ifindex);
    expect(kernel.masterOf('vif7')).toBe('enlan');
    expect(kernel.masterOf('enweb0')).toBe('enlan');
    expect(actor.getSnapshot().context.networks.lan?.bridge).toEqual(rebuilt);
  });

  it('an NI recreated in one plan gets its new actor only after the old one is deleted', async () => {
    const { actor, ni: niOps } = start();
    actor.send({ type: 'APPLY', plan: plan({ networks: { create: [lan] }, members: { create: [uplink] } }) });
    await allReady(actor);
    niOps.deleteNi.hold();

    const rebuilt = { ...lan, subnet: '10.60.0.0/24', gateway: '10.60.0.1' };
    actor.send({ type: 'APPLY', plan: plan({ networks: { delete: ['lan'], create: [rebuilt] } }) });
    await tick();
    expect(topState(ni(actor, 'ni:lan#1').getSnapshot().value)).toBe('deleting');
    expect(ids(actor)).toEqual(['ni:lan#1', 'port:uplink#2']);
    expect(niOps.createNi.calls).toHaveLength(1);

    niOps.deleteNi.open[0]?.resolve();
    await vi.waitFor(() => expect(ids(actor)).toContain('ni:lan#3'));
    expect(ids(actor)).toEqual(['ni:lan#3', 'port:uplink#2']);
    await waitFor(ni(actor, 'ni:lan#3'), (s) => s.matches('ready'));
    expect(niOps.createNi.inputs.at(-1)).toEqual(rebuilt);
    const { context } = actor.getSnapshot();
    expect(context.networks.lan?.id).toBe('ni:lan#3');
    expect(context.queuedNetworks).toEqual({});
  });

  it('an NI rebuilt with its endpoints (as the planner sends it) comes back with all of them attached', async () => {
    const { actor, kernel } = start();
    actor.send({ type: 'APPLY', plan: full });
    await allReady(actor);
    const rebuilt = { ...lan, subnet: '10.60.0.0/24', gateway: '10.60.0.1' };
    // src/runtime/plan.ts: a rebuilt NI's endpoints are deleted and created again with it
    actor.send({
      type: 'APPLY',
      plan: plan({ networks: { delete: ['lan'], create: [rebuilt] }, members: { delete: ['web/lan', 'vm/lan'], create: [web, vm] } }),
    });
    await waitFor(actor, (s) => s.context.networks.lan?.id !== 'ni:lan#1' && Object.keys(s.context.queuedMembers).length === 0, { timeout: 2_000 });
    await allReady(actor);
    const lanIds = ids(actor).filter((id) => /^ni:lan#|\/lan#/.test(id));
    expect(lanIds).toHaveLength(3);
    expect(lanIds).not.toContain('ni:lan#1');
    expect(kernel.masterOf('vif7')).toBe('enlan');
    expect(kernel.masterOf('enweb0')).toBe('enlan');
    const order = kernel.log.slice(kernel.log.indexOf('detach web/lan'));
    expect(order.indexOf('deleteNi lan')).toBeGreaterThan(order.indexOf('detach vm/lan'));
    expect(order.indexOf('createNi lan')).toBeGreaterThan(order.indexOf('deleteNi lan'));
    // the new endpoints attached to the new bridge only
    expect(order.filter((l) => l.startsWith('attach')).length).toBe(2);
    expect(order.indexOf('attach vm/lan')).toBeGreaterThan(order.indexOf('createNi lan'));
  });

  it('a member recreated in one plan gets its new actor only after the old one is gone', async () => {
    const { actor, ep: epOps, ni: niOps, kernel } = start();
    actor.send({ type: 'APPLY', plan: full });
    await allReady(actor);
    epOps.detach.hold();
    const renamed = { ...web, appIfname: 'net1' };
    actor.send({ type: 'APPLY', plan: plan({ members: { delete: ['web/lan'], create: [renamed] } }) });
    await tick();
    expect(topState(ep(actor, 'ep:web/lan#5').getSnapshot().value)).toBe('deleting');
    expect(ids(actor).filter((id) => id.startsWith('ep:web/'))).toEqual(['ep:web/lan#5']);
    expect(actor.getSnapshot().context.queuedMembers['web/lan']).toEqual(renamed);

    epOps.detach.open[0]?.resolve();
    await vi.waitFor(() => expect(ids(actor)).toContain('ep:web/lan#8'));
    await waitFor(ep(actor, 'ep:web/lan#8'), (s) => s.matches('ready'));
    expect(ids(actor).filter((id) => id.startsWith('ep:web/'))).toEqual(['ep:web/lan#8']);
    expect(epOps.attach.calls.at(-1)?.input.spec).toEqual(renamed);
    expect(kernel.masterOf('enweb0')).toBe('enlan');
    expect(niOps.createNi.calls).toHaveLength(2);
    expect(actor.getSnapshot().context.queuedMembers).toEqual({});
  });

  it('a recreate overtaken by a removal (before the old actor is gone) does not come back', async () => {
    const { actor, ep: epOps, ni: niOps } = start();
    actor.send({ type: 'APPLY', plan: full });
    await allReady(actor);
    epOps.detach.hold();
    niOps.deleteNi.hold();
    actor.send({
      type: 'APPLY',
      plan: plan({ networks: { delete: ['plant'], create: [{ ...plant, mtu: 9000 }] }, members: { delete: ['web/lan', 'plc/plant'], create: [{ ...web, appIfname: 'net1' }, plc] } }),
    });
    await tick();
    // the next config drops both the app and the NI
    actor.send({ type: 'APPLY', plan: plan({ networks: { delete: ['plant'] }, members: { delete: ['web/lan', 'plc/plant', 'port:fieldbus'] } }) });
    epOps.detach.release();
    niOps.deleteNi.release();
    for (const call of [...epOps.detach.open, ...niOps.deleteNi.open]) call.resolve();
    await waitFor(actor, (s) => s.context.networks.plant === undefined);
    await tick();
    expect(ids(actor)).toEqual(['ep:vm/lan#6', 'ni:lan#1', 'port:uplink#3']);
    const { context } = actor.getSnapshot();
    expect(context.queuedMembers).toEqual({});
    expect(context.queuedNetworks).toEqual({});
    expect(allMembers(context).map((m) => m.id).sort()).toEqual(['ep:vm/lan#6', 'port:uplink#3']);
  });

  it('an update to an NI or member whose re-creation is still queued reaches the new actor', async () => {
    const { actor, ni: niOps, ep: epOps } = start();
    actor.send({ type: 'APPLY', plan: full });
    await allReady(actor);
    niOps.deleteNi.hold();
    epOps.detach.hold();
    actor.send({
      type: 'APPLY',
      plan: plan({ networks: { delete: ['plant'], create: [{ ...plant, mtu: 1400 }] }, members: { delete: ['plc/plant'], create: [{ ...plc, mtu: 1400 }] } }),
    });
    await tick();
    // the next config changes them again before the old actors are gone
    actor.send({
      type: 'APPLY',
      plan: plan({ networks: { update: [{ spec: { ...plant, mtu: 9000 }, fields: ['mtu'] }] }, members: { update: [{ spec: { ...plc, mtu: 9000 }, fields: ['mtu'] }] } }),
    });
    niOps.deleteNi.release();
    epOps.detach.release();
    for (const call of [...epOps.detach.open, ...niOps.deleteNi.open]) call.resolve();
    await waitFor(actor, (s) => s.context.networks.plant?.id !== 'ni:plant#2' && Object.keys(s.context.queuedMembers).length === 0);
    await allReady(actor);
    expect(niOps.createNi.inputs.at(-1)).toEqual({ ...plant, mtu: 9000 });
    expect(epOps.attach.inputs.filter((i) => i.spec.key === 'plc/plant').at(-1)?.spec).toEqual({ ...plc, mtu: 9000 });
  });

  it('CHILD_DELETED bookkeeping leaves nothing behind once everything is removed', async () => {
    const { actor, kernel } = start();
    actor.send({ type: 'APPLY', plan: full });
    await allReady(actor);
    actor.send({
      type: 'APPLY',
      plan: plan({
        networks: { delete: ['lan', 'plant'] },
        members: { delete: ['web/lan', 'vm/lan', 'plc/plant', 'port:uplink', 'port:fieldbus'] },
      }),
    });
    await waitFor(actor, (s) => Object.keys(s.context.networks).length === 0 && Object.keys(s.context.members).length === 0);
    await tick();
    expectNoBookkeeping(actor);
    expect([...kernel.bridges.keys()]).toEqual([]);
    expect(kernel.links.has('enweb0')).toBe(false);
    expect(kernel.masterOf('vif7')).toBeUndefined();

    // names can come back: new generations, fresh actors
    actor.send({ type: 'APPLY', plan: full });
    await allReady(actor);
    expect(ids(actor)).toContain('ni:lan#8');
  });

  it('members run outside the xstate children, and an event copies only the bookkeeping group it changes', async () => {
    const { actor } = start();
    actor.send({ type: 'APPLY', plan: full });
    await allReady(actor);
    // xstate copies an actor's children map on every spawn and stop: only the NIs are children of the system actor
    expect(Object.keys(actor.getSnapshot().children).sort()).toEqual(['ni:lan#1', 'ni:plant#2']);
    expect(Object.keys(actor.getSnapshot().context.members).sort()).toEqual([PORTS_GROUP, 'lan', 'plant']);
    const before = actor.getSnapshot().context.members;
    actor.send({ type: 'APPLY', plan: plan({ members: { delete: ['vm/lan'] } }) });
    await vi.waitFor(() => expect(ids(actor)).not.toContain('ep:vm/lan#6'));
    const after = actor.getSnapshot().context.members;
    // the lan group changed (one member less) in the one bucket of vm/lan; the other groups are the very same objects
    expect(bucketKeys(after.lan?.entries)).toEqual(['web/lan']);
    const vmSlot = slotOf('vm/lan');
    after.lan?.entries.slots.forEach((slot, i) => {
      if (i !== vmSlot) expect(slot).toBe(before.lan?.entries.slots[i]);
    });
    expect(after.lan?.leaving).toBe(0);
    expect(after.plant).toBe(before.plant);
    expect(after[PORTS_GROUP]).toBe(before[PORTS_GROUP]);
  });
});
