import { backoffMs, topState } from '../../machines/specs.ts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { waitFor } from 'xstate';
import { networkInstanceMachine, type NiInput } from '../../machines/network-instance.machine.ts';
import type { NiSpec } from '../../machines/specs.ts';
import { FakeKernel, errnoError, niFakes, underParent } from '../helpers/machine-fakes.ts';

const lan: NiSpec = { name: 'lan', type: 'local', bridge: 'enlan', subnet: '10.50.0.0/24', gateway: '10.50.0.1', prefixlen: 24 };
const plant: NiSpec = { name: 'plant', type: 'switch', bridge: 'enplant', port: 'fieldbus', portIfname: 'eth2' };

function start(input: NiInput) {
  const kernel = new FakeKernel();
  const fakes = niFakes(kernel);
  const run = underParent(networkInstanceMachine.provide({ actors: fakes.actors }), input, 'ni:test#1');
  stops.push(run.stop);
  return { kernel, fakes, ...run };
}

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
  vi.useRealTimers();
});

describe('network instance machine', () => {
  it('goes pending → creating → ready and tells its parent the bridge', async () => {
    const kernel = new FakeKernel();
    const fakes = niFakes(kernel);
    fakes.createNi.hold();
    const seen: string[] = [];
    const run = underParent(networkInstanceMachine.provide({ actors: fakes.actors }), { spec: lan }, 'ni:lan#1');
    stops.push(run.stop);
    const { actor } = run;
    actor.subscribe((s) => seen.push(String(topState(s.value))));

    // pending is transient: by the time start() returns the create is under way
    expect(topState(actor.getSnapshot().value)).toBe('creating');
    expect(fakes.createNi.inputs).toEqual([lan]);
    expect(run.sentOf('NI_UP')).toEqual([]);

    // the bridge is there: the members may attach (NI_UP) while the services (table, dnsmasq) are made
    fakes.createServices.hold();
    fakes.createNi.open[0]?.resolve();
    await waitFor(actor, () => fakes.createServices.open.length === 1);
    const bridge = kernel.bridges.get('enlan');
    expect(bridge).toBeDefined();
    expect(actor.getSnapshot().context.bridge).toEqual(bridge);
    expect(run.sentOf('NI_UP')).toEqual([{ type: 'NI_UP', id: 'ni:lan#1', name: 'lan', bridge }]);
    // the NI itself says it is still being made until its services are there
    expect(topState(actor.getSnapshot().value)).toBe('creating');
    expect(fakes.createServices.inputs).toEqual([lan]);

    fakes.createServices.open[0]?.resolve();
    await waitFor(actor, (s) => s.matches('ready'));
    expect(run.sentOf('NI_UP')).toHaveLength(1);
    expect(seen.filter((v, i) => v !== seen[i - 1])).toEqual(['creating', 'ready']);
  });

  it('a failed services step degrades the NI with the reason (its members stay up) and is retried', async () => {
    const { fakes, actor, sentOf } = start({ spec: lan });
    fakes.createServices.failOnce(errnoError('EADDRNOTAVAIL', 'start dnsmasq lan: exited at start'));
    await waitFor(actor, (s) => s.matches('degraded'));
    expect(actor.getSnapshot().context.reason).toMatch(/create failed: .*start dnsmasq lan/);
    expect(sentOf('NI_UP')).toHaveLength(1);
    expect(sentOf('NI_DOWN')).toEqual([]);
    await waitFor(actor, (s) => s.matches('ready'), { timeout: 2000 });
    expect(fakes.createServices.calls).toHaveLength(2);
  });

  it('a failed create degrades with the reason, is retried after 100 ms then 200 ms, and ends ready', async () => {
    vi.useFakeTimers();
    const kernel = new FakeKernel();
    const fakes = niFakes(kernel);
    fakes.createNi.failOnce(errnoError('EBUSY', 'ensure bridge enlan failed: EBUSY')).failOnce(errnoError('EBUSY', 'still busy'));
    const run = underParent(networkInstanceMachine.provide({ actors: fakes.actors }), { spec: lan });
    stops.push(run.stop);
    const { actor } = run;

    await waitFor(actor, (s) => s.matches('degraded'));
    expect(actor.getSnapshot().context.reason).toBe('create failed: ensure bridge enlan failed: EBUSY');
    expect(actor.getSnapshot().context.retries).toBe(1);
    expect(fakes.createNi.calls).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(99);
    expect(fakes.createNi.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fakes.createNi.calls).toHaveLength(2);
    await waitFor(actor, (s) => s.matches('degraded'));
    expect(actor.getSnapshot().context.reason).toBe('create failed: still busy');

    // second failure: the backoff doubles
    await vi.advanceTimersByTimeAsync(199);
    expect(fakes.createNi.calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    await waitFor(actor, (s) => s.matches('ready'));
    expect(fakes.createNi.calls).toHaveLength(3);
    const { context } = actor.getSnapshot();
    expect(context.problems.error).toBeUndefined();
    expect(context.retries).toBe(0);
    expect(kernel.bridges.has('enlan')).toBe(true);
    expect(run.sentOf('NI_UP')).toHaveLength(1);

    // no timer left behind once ready
    await vi.advanceTimersByTimeAsync(10_000);
    expect(fakes.createNi.calls).toHaveLength(3);
  });

  it('a port without carrier degrades the NI (reason names the port) and its return readies it, with no re-create', async () => {
    const { fakes, actor, sentOf } = start({ spec: plant, port: { present: true, carrier: true } });
    await waitFor(actor, (s) => s.matches('ready'));

    actor.send({ type: 'PORT_STATE', port: 'fieldbus', present: true, carrier: false });
    await waitFor(actor, (s) => s.matches('degraded'));
    expect(actor.getSnapshot().context.reason).toContain('fieldbus');
    expect(actor.getSnapshot().context.reason).toContain('no carrier');

    actor.send({ type: 'PORT_STATE', port: 'fieldbus', present: true, carrier: true });
    await waitFor(actor, (s) => s.matches('ready'));
    expect(actor.getSnapshot().context.problems.port).toBeUndefined();

    // a flap is not a kernel change: no create, and members are not told the NI went down
    await new Promise((r) => setTimeout(r, 150));
    expect(fakes.createNi.calls).toHaveLength(1);
    expect(sentOf('NI_DOWN')).toEqual([]);
    expect(topState(actor.getSnapshot().value)).toBe('ready');
  });

  it('an NI whose port has not been seen yet is degraded until the port reports carrier', async () => {
    const { actor, fakes } = start({ spec: plant });
    await waitFor(actor, (s) => s.matches('degraded'));
    expect(actor.getSnapshot().context.problems.port).toBe('port fieldbus (eth2) not seen yet');
    actor.send({ type: 'PORT_STATE', port: 'fieldbus', present: false, carrier: false });
    expect(actor.getSnapshot().context.reason).toBe('port fieldbus (eth2) not present');
    actor.send({ type: 'PORT_STATE', port: 'fieldbus', present: true, carrier: true });
    await waitFor(actor, (s) => s.matches('ready'));
    expect(fakes.createNi.calls).toHaveLength(1);
  });

  it('UPDATE re-converges through creating and ends ready with the new spec', async () => {
    const { fakes, actor } = start({ spec: lan });
    await waitFor(actor, (s) => s.matches('ready'));
    fakes.createNi.hold();

    const next = { ...lan, mtu: 9000 };
    actor.send({ type: 'UPDATE', spec: next, fields: ['mtu'] });
    expect(topState(actor.getSnapshot().value)).toBe('creating');
    expect(actor.getSnapshot().context.reason).toBe('update: mtu');
    // the second create knows the bridge the first one made (a bridge renamed behind our back is found by it)
    expect(fakes.createNi.inputs).toEqual([lan, { ...next, ifindex: actor.getSnapshot().context.bridge?.ifindex }]);

    fakes.createNi.open[0]?.resolve();
    await waitFor(actor, (s) => s.matches('ready'));
    expect(actor.getSnapshot().context.spec).toEqual(next);
  });

  it('UPDATE while creating aborts the running create and starts one with the new spec', async () => {
    const { fakes, actor } = start({ spec: lan });
    await waitFor(actor, (s) => s.matches('ready'));
    fakes.createNi.hold();
    actor.send({ type: 'UPDATE', spec: { ...lan, mtu: 1400 }, fields: ['mtu'] });
    const first = fakes.createNi.open[0];
    actor.send({ type: 'UPDATE', spec: { ...lan, mtu: 9000 }, fields: ['mtu'] });
    expect(first?.signal.aborted).toBe(true);
    const [, second] = fakes.createNi.open;
    expect(second?.input.mtu).toBe(9000);
    // the aborted create finishing first must not count as the new one
    first?.resolve();
    await new Promise((r) => setTimeout(r, 10));
    expect(topState(actor.getSnapshot().value)).toBe('creating');
    second?.resolve();
    await waitFor(actor, (s) => s.matches('ready'));
    expect(actor.getSnapshot().context.spec.mtu).toBe(9000);
  });

  it('BRIDGE_GONE degrades, tells the members, and repairs by re-creating', async () => {
    const { fakes, actor, kernel, sentOf } = start({ spec: lan });
    await waitFor(actor, (s) => s.matches('ready'));
    kernel.bridges.delete('enlan');
    fakes.createNi.hold();

    actor.send({ type: 'BRIDGE_GONE' });
    expect(topState(actor.getSnapshot().value)).toBe('degraded');
    expect(actor.getSnapshot().context.reason).toBe("bridge enlan deleted behind edgenet's back");
    expect(sentOf('NI_DOWN')).toHaveLength(1);

    await waitFor(actor, (s) => s.matches('creating'));
    expect(fakes.createNi.calls).toHaveLength(2);
    fakes.createNi.open[0]?.resolve();
    await waitFor(actor, (s) => s.matches('ready'));
    const bridge = kernel.bridges.get('enlan');
    expect(actor.getSnapshot().context.bridge).toEqual(bridge);
    expect(sentOf('NI_UP').map((e) => e.bridge)).toEqual([expect.anything(), bridge]);
  });

  it('a bridge deleted again and again while being made is re-made after a growing backoff, not at once', async () => {
    vi.useFakeTimers();
    const { fakes, actor } = start({ spec: lan });
    await vi.waitFor(() => expect(topState(actor.getSnapshot().value)).toBe('ready'));
    fakes.createNi.hold();
    actor.send({ type: 'UPDATE', spec: { ...lan, mtu: 1400 }, fields: ['mtu'] });
    for (let attempt = 1; attempt <= 5; attempt++) {
      expect(topState(actor.getSnapshot().value)).toBe('creating');
      actor.send({ type: 'BRIDGE_GONE' });
      expect(topState(actor.getSnapshot().value)).toBe('degraded');
      expect(actor.getSnapshot().context.reason).toBe("bridge enlan deleted behind edgenet's back");
      const calls = fakes.createNi.calls.length;
      await vi.advanceTimersByTimeAsync(backoffMs(attempt) - 1);
      expect(fakes.createNi.calls).toHaveLength(calls);
      await vi.advanceTimersByTimeAsync(1);
      expect(fakes.createNi.calls).toHaveLength(calls + 1);
    }
    fakes.createNi.release();
    fakes.createNi.open.at(-1)?.resolve();
    await vi.waitFor(() => expect(topState(actor.getSnapshot().value)).toBe('ready'));
  });

  it('DELETE goes deleting → deleted (final) with deleteNi called, and reports the deletion', async () => {
    const { fakes, actor, kernel, sentOf, sent } = start({ spec: lan });
    await waitFor(actor, (s) => s.matches('ready'));
    fakes.deleteNi.hold();

    actor.send({ type: 'DELETE' });
    expect(topState(actor.getSnapshot().value)).toBe('deleting');
    expect(fakes.deleteNi.inputs).toEqual([lan]);
    expect(sentOf('NI_DOWN')).toHaveLength(1);
    // a second DELETE (or an UPDATE) while deleting changes nothing
    actor.send({ type: 'DELETE' });
    actor.send({ type: 'UPDATE', spec: { ...lan, mtu: 1 }, fields: ['mtu'] });
    expect(topState(actor.getSnapshot().value)).toBe('deleting');
    expect(fakes.deleteNi.calls).toHaveLength(1);

    fakes.deleteNi.open[0]?.resolve();
    await waitFor(actor, (s) => s.status === 'done');
    expect(topState(actor.getSnapshot().value)).toBe('deleted');
    expect(kernel.bridges.has('enlan')).toBe(false);
    expect(sent.map((e) => e.type)).toEqual(['NI_UP', 'NI_DOWN', 'CHILD_DELETED']);
    expect(sentOf('CHILD_DELETED')).toEqual([{ type: 'CHILD_DELETED', id: 'ni:test#1' }]);
  });

  it('a failed delete is tried again with backoff, then the NI is deleted', async () => {
    const { fakes, actor, kernel } = start({ spec: lan });
    await waitFor(actor, (s) => s.matches('ready'));
    fakes.deleteNi.failOnce(new Error('EBUSY'));
    actor.send({ type: 'DELETE' });
    await waitFor(actor, (s) => s.status === 'done', { timeout: 2000 });
    expect(fakes.deleteNi.calls).toHaveLength(2);
    expect(kernel.bridges.has('enlan')).toBe(false);
  });

  it('a delete that keeps failing gives up after a few tries and reports why', async () => {
    const { fakes, actor } = start({ spec: lan });
    await waitFor(actor, (s) => s.matches('ready'));
    for (let i = 0; i < 5; i++) fakes.deleteNi.failOnce(new Error('EPERM'));
    actor.send({ type: 'DELETE' });
    await waitFor(actor, (s) => s.status === 'done', { timeout: 3000 });
    expect(fakes.deleteNi.calls).toHaveLength(3);
    expect(actor.getSnapshot().context.reason).toContain('delete failed: EPERM');
  });

  it('DELETE while creating aborts the create, deletes, and never reports the NI up', async () => {
    const kernel = new FakeKernel();
    const fakes = niFakes(kernel);
    fakes.createNi.hold();
    const run = underParent(networkInstanceMachine.provide({ actors: fakes.actors }), { spec: lan });
    stops.push(run.stop);
    const { actor } = run;
    const create = fakes.createNi.open[0];

    actor.send({ type: 'DELETE' });
    expect(create?.signal.aborted).toBe(true);
    await waitFor(actor, (s) => s.status === 'done');
    // the aborted create settling late must not revive anything
    create?.resolve();
    await new Promise((r) => setTimeout(r, 10));
    expect(topState(actor.getSnapshot().value)).toBe('deleted');
    expect(kernel.log).toEqual(['createNi lan', 'deleteNi lan']);
    expect(run.sentOf('NI_UP')).toEqual([]);
    expect(run.sentOf('CHILD_DELETED')).toHaveLength(1);
  });

  it('DELETE while degraded cancels the pending retry', async () => {
    vi.useFakeTimers();
    const kernel = new FakeKernel();
    const fakes = niFakes(kernel);
    fakes.createNi.failOnce(new Error('boom'));
    const run = underParent(networkInstanceMachine.provide({ actors: fakes.actors }), { spec: lan });
    stops.push(run.stop);
    await waitFor(run.actor, (s) => s.matches('degraded'));
    run.actor.send({ type: 'DELETE' });
    await waitFor(run.actor, (s) => s.status === 'done');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fakes.createNi.calls).toHaveLength(1);
    expect(fakes.deleteNi.calls).toHaveLength(1);
  });

  it('a failed delete still ends deleted, with the failure as the reason', async () => {
    const { fakes, actor } = start({ spec: lan });
    await waitFor(actor, (s) => s.matches('ready'));
    fakes.deleteNi.failOnce(new Error('EBUSY'));
    actor.send({ type: 'DELETE' });
    await waitFor(actor, (s) => s.status === 'done');
    expect(actor.getSnapshot().context.reason).toBe('delete failed: EBUSY');
  });

  it('dnsmasq exiting degrades without re-creating; its restart readies the NI again', async () => {
    const { fakes, actor } = start({ spec: lan });
    await waitFor(actor, (s) => s.matches('ready'));
    actor.send({ type: 'DHCPDNS_EXITED', detail: 'dnsmasq exited with code 2' });
    expect(topState(actor.getSnapshot().value)).toBe('degraded');
    expect(actor.getSnapshot().context.reason).toBe('dnsmasq exited with code 2');
    actor.send({ type: 'DHCPDNS_STARTED', pid: 42 });
    expect(topState(actor.getSnapshot().value)).toBe('ready');
    await new Promise((r) => setTimeout(r, 150));
    expect(fakes.createNi.calls).toHaveLength(1);
  });
});
