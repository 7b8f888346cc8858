import { backoffMs, topState } from '../../machines/specs.ts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { waitFor } from 'xstate';
import { endpointMachine, type EndpointInput } from '../../machines/endpoint.machine.ts';
import type { BridgeHandle, PortSpec } from '../../machines/specs.ts';
import { vmTap, webVeth } from '../fixtures/member-specs.ts';
import { FakeKernel, endpointFakes, errnoError, underParent } from '../helpers/machine-fakes.ts';

const veth = webVeth;
const tap = vmTap;
/** a local NI's NAT uplink: never enslaved */
const uplink: PortSpec = { key: 'port:uplink', kind: 'port', name: 'uplink', ifname: 'eth1', network: 'lan', attach: false };
/** a switch NI's port: enslaved to its bridge */
const fieldbus: PortSpec = { key: 'port:fieldbus', kind: 'port', name: 'fieldbus', ifname: 'eth2', network: 'plant', attach: true };

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
  vi.useRealTimers();
});

/** A fake kernel with the NI's bridge already there. */
function kernelWithBridge(): { kernel: FakeKernel; bridge: BridgeHandle } {
  const kernel = new FakeKernel();
  const bridge = { name: 'enlan', ifindex: kernel.ifindex() };
  kernel.bridges.set(bridge.name, bridge);
  return { kernel, bridge };
}

function start(kernel: FakeKernel, input: EndpointInput, prepare?: (fakes: ReturnType<typeof endpointFakes>) => void) {
  const fakes = endpointFakes(kernel);
  prepare?.(fakes);
  const run = underParent(endpointMachine.provide({ actors: fakes.actors }), input, `ep:${input.spec.key}#1`);
  stops.push(run.stop);
  return { fakes, ...run };
}

const tick = (ms = 10) => new Promise((r) => setTimeout(r, ms));

describe('endpoint machine: veth', () => {
  it('waits in pending until its NI is up, then attaches into the bridge', async () => {
    const { kernel, bridge } = kernelWithBridge();
    kernel.netns.add('/run/netns/web');
    const { fakes, actor } = start(kernel, { spec: veth });

    await tick();
    expect(topState(actor.getSnapshot().value)).toBe('pending');
    expect(actor.getSnapshot().context.reason).toBe('waiting for network lan');
    expect(fakes.attach.calls).toHaveLength(0);

    fakes.attach.hold();
    actor.send({ type: 'NI_UP', bridge });
    expect(topState(actor.getSnapshot().value)).toBe('creating');
    expect(fakes.attach.inputs).toEqual([{ spec: veth, bridge }]);
    fakes.attach.open[0]?.resolve();
    await waitFor(actor, (s) => s.matches('ready'));
    expect(kernel.masterOf('enweb0')).toBe('enlan');
    expect(actor.getSnapshot().context.ifindex).toBe(kernel.links.get('enweb0')?.ifindex);
  });

  it("waits for the app's netns, then attaches when it appears", async () => {
    const { kernel, bridge } = kernelWithBridge();
    const { fakes, actor } = start(kernel, { spec: veth, bridge });
    await waitFor(actor, (s) => s.context.present === false);
    expect(topState(actor.getSnapshot().value)).toBe('pending');
    expect(actor.getSnapshot().context.reason).toBe('waiting for netns /run/netns/web');

    kernel.netns.add('/run/netns/web');
    actor.send({ type: 'NETNS_ADDED' });
    await waitFor(actor, (s) => s.matches('ready'));
    expect(fakes.attach.calls).toHaveLength(1);

    // the app stops: its namespace goes, the endpoint waits again
    kernel.netns.delete('/run/netns/web');
    actor.send({ type: 'NETNS_REMOVED' });
    expect(topState(actor.getSnapshot().value)).toBe('pending');
  });

  it('a netns announced before it is usable (attach says missing) is probed again after the backoff, not waited on forever', async () => {
    vi.useFakeTimers();
    const { kernel, bridge } = kernelWithBridge();
    kernel.netns.add('/run/netns/web');
    const { fakes, actor } = start(kernel, { spec: veth, bridge }, (f) => f.attach.failOnce(errnoError('ENOENT', 'open /run/netns/web: not a network namespace yet')));
    await waitFor(actor, (s) => s.matches('pending') && fakes.attach.calls.length === 1);
    expect(actor.getSnapshot().context.reason).toBe('waiting for netns /run/netns/web');
    // no event comes (the file was already there); the recheck waits its backoff, then finds the netns usable
    await vi.advanceTimersByTimeAsync(99);
    expect(fakes.attach.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await waitFor(actor, (s) => s.matches('ready'));
    expect(fakes.attach.calls).toHaveLength(2);
    vi.useRealTimers();
  });
});

describe('endpoint machine: tap', () => {
  it('an absent tap waits in pending, then LINK_NEW takes it through creating to ready', async () => {
    const { kernel, bridge } = kernelWithBridge();
    const { fakes, actor } = start(kernel, { spec: tap, bridge });
    await waitFor(actor, (s) => s.context.present === false);
    expect(topState(actor.getSnapshot().value)).toBe('pending');
    expect(actor.getSnapshot().context.reason).toBe('waiting for tap vif7 to appear');
    expect(fakes.attach.calls).toHaveLength(0);

    fakes.attach.hold();
    actor.send({ type: 'LINK_NEW', link: kernel.addLink('vif7') });
    expect(topState(actor.getSnapshot().value)).toBe('creating');
    fakes.attach.open[0]?.resolve();
    await waitFor(actor, (s) => s.matches('ready'));
    expect(kernel.masterOf('vif7')).toBe('enlan');
  });

  it('LINK_DEL (VM stopped) goes pending with the reason; the new tap is re-attached', async () => {
    const { kernel, bridge } = kernelWithBridge();
    kernel.addLink('vif7');
    const { fakes, actor } = start(kernel, { spec: tap, bridge });
    await waitFor(actor, (s) => s.matches('ready'));

    fakes.probe.hold();
    actor.send({ type: 'LINK_DEL', link: kernel.removeLink('vif7') });
    expect(topState(actor.getSnapshot().value)).toBe('pending');
    expect(actor.getSnapshot().context.reason).toBe('tap vif7 gone');
    // the probe confirming the absence keeps the reason: it says why the member is pending
    fakes.probe.open[0]?.resolve();
    await tick();
    expect(topState(actor.getSnapshot().value)).toBe('pending');
    expect(actor.getSnapshot().context.reason).toBe('tap vif7 gone');
    expect(fakes.attach.calls).toHaveLength(1);

    // the VM restarts: a new tap with the same name, another ifindex
    actor.send({ type: 'LINK_NEW', link: kernel.addLink('vif7') });
    await waitFor(actor, (s) => s.matches('ready'));
    expect(fakes.attach.calls).toHaveLength(2);
    expect(kernel.masterOf('vif7')).toBe('enlan');
    expect(actor.getSnapshot().context.ifindex).toBe(kernel.links.get('vif7')?.ifindex);
  });

  it('attach failing with ENOENT goes back to pending and does not loop', async () => {
    const { kernel, bridge } = kernelWithBridge();
    kernel.addLink('vif7');
    // the probe sees the tap, but it vanishes before the attach (a VM restarting)
    const { fakes, actor } = start(kernel, { spec: tap, bridge }, (f) => f.attach.failOnce(errnoError('ENOENT', 'vif7: no such device')));
    await waitFor(actor, (s) => s.matches('pending') && fakes.attach.calls.length === 1);
    await tick(300);
    expect(topState(actor.getSnapshot().value)).toBe('pending');
    expect(actor.getSnapshot().context.reason).toBe('waiting for tap vif7 to appear');
    expect(fakes.attach.calls).toHaveLength(1);

    actor.send({ type: 'LINK_NEW', link: kernel.seen('vif7') });
    await waitFor(actor, (s) => s.matches('ready'));
    expect(fakes.attach.calls).toHaveLength(2);
  });

  it('any other attach failure degrades and is retried with backoff', async () => {
    vi.useFakeTimers();
    const { kernel, bridge } = kernelWithBridge();
    kernel.addLink('vif7');
    const { fakes, actor } = start(kernel, { spec: tap, bridge }, (f) => f.attach.failOnce(errnoError('EBUSY', 'enslave vif7 failed: EBUSY')));
    await waitFor(actor, (s) => s.matches('degraded'));
    expect(actor.getSnapshot().context.reason).toBe('attach failed: enslave vif7 failed: EBUSY');
    await vi.advanceTimersByTimeAsync(99);
    expect(fakes.attach.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await waitFor(actor, (s) => s.matches('ready'));
    expect(fakes.attach.calls).toHaveLength(2);
    expect(actor.getSnapshot().context.problem).toBeUndefined();
    expect(actor.getSnapshot().context.retries).toBe(0);
  });

  it('a veth whose create keeps failing (the undo deletes the half-built pair: LINK_DEL) waits its backoff every time', async () => {
    vi.useFakeTimers();
    const { kernel, bridge } = kernelWithBridge();
    kernel.netns.add('/run/netns/web');
    const eexist = errnoError('EEXIST', 'ensureVeth enweb0 failed: EEXIST (eth0 already exists in /run/netns/web)');
    const { fakes, actor } = start(kernel, { spec: veth, bridge }, (f) => {
      f.attach.hold();
    });
    // every attempt: the pair appears, the move fails, the undo deletes it; its LINK_DEL may come before or after
    // the attach settles
    const failAttempt = async (delBefore: boolean): Promise<void> => {
      await vi.waitFor(() => expect(fakes.attach.open).toHaveLength(1));
      const link = kernel.addLink('enweb0');
      kernel.links.delete('enweb0');
      if (delBefore) actor.send({ type: 'LINK_DEL', link });
      fakes.attach.open[0]?.reject(eexist);
      await vi.advanceTimersByTimeAsync(0);
      if (!delBefore) actor.send({ type: 'LINK_DEL', link });
    };
    await failAttempt(true);
    expect(topState(actor.getSnapshot().value)).toBe('degraded');
    expect(actor.getSnapshot().context.reason).toBe('attach failed: ensureVeth enweb0 failed: EEXIST (eth0 already exists in /run/netns/web)');
    for (let attempt = 2; attempt <= 6; attempt++) {
      // the next attempt only once its backoff has passed, however the LINK_DEL came
      await vi.advanceTimersByTimeAsync(backoffMs(attempt - 1) - 1);
      expect(fakes.attach.calls).toHaveLength(attempt - 1);
      expect(topState(actor.getSnapshot().value)).toBe('degraded');
      await vi.advanceTimersByTimeAsync(1);
      expect(fakes.attach.calls).toHaveLength(attempt);
      await failAttempt(attempt % 2 === 0);
    }
    expect(actor.getSnapshot().context.retries).toBe(6);
  });

  it('a LINK_NEW showing another master degrades ("detached") and re-attaches', async () => {
    const { kernel, bridge } = kernelWithBridge();
    kernel.addLink('vif7');
    const { fakes, actor } = start(kernel, { spec: tap, bridge });
    await waitFor(actor, (s) => s.matches('ready'));

    // a LINK_NEW that still shows our bridge changes nothing
    actor.send({ type: 'LINK_NEW', link: kernel.seen('vif7') });
    expect(topState(actor.getSnapshot().value)).toBe('ready');

    fakes.attach.hold();
    actor.send({ type: 'LINK_NEW', link: kernel.releaseBehindOurBack('vif7') });
    // the event is checked against the kernel before anything is repaired
    await waitFor(actor, (s) => s.matches('degraded'));
    expect(actor.getSnapshot().context.reason).toContain('detached');
    await waitFor(actor, (s) => s.matches('creating'));
    fakes.attach.open[0]?.resolve();
    await waitFor(actor, (s) => s.matches('ready'));
    expect(fakes.attach.calls).toHaveLength(2);
    expect(kernel.masterOf('vif7')).toBe('enlan');
  });

  it('a stale LINK_NEW (sent before our own enslave) is checked against the kernel and changes nothing', async () => {
    const { kernel, bridge } = kernelWithBridge();
    kernel.addLink('vif7');
    const { fakes, actor } = start(kernel, { spec: tap, bridge });
    await waitFor(actor, (s) => s.matches('ready'));
    const stale = { ...kernel.seen('vif7'), master: undefined };
    actor.send({ type: 'LINK_NEW', link: stale });
    await waitFor(actor, (s) => s.matches({ ready: 'idle' }));
    expect(fakes.attach.calls).toHaveLength(1);
    expect(actor.getSnapshot().context.problem).toBeUndefined();
  });

  it('NI_DOWN sends it back to pending; NI_UP with the rebuilt bridge attaches it there', async () => {
    const { kernel, bridge } = kernelWithBridge();
    kernel.addLink('vif7');
    const { actor } = start(kernel, { spec: tap, bridge });
    await waitFor(actor, (s) => s.matches('ready'));
    actor.send({ type: 'NI_DOWN' });
    expect(topState(actor.getSnapshot().value)).toBe('pending');
    expect(actor.getSnapshot().context.reason).toBe('network down');

    kernel.bridges.delete('enlan');
    const rebuilt = { name: 'enlan', ifindex: kernel.ifindex() };
    kernel.bridges.set('enlan', rebuilt);
    actor.send({ type: 'NI_UP', bridge: rebuilt });
    await waitFor(actor, (s) => s.matches('ready'));
    expect(kernel.links.get('vif7')?.master).toBe(rebuilt.ifindex);
  });

  it('DELETE detaches (the tap stays: it is the hypervisor’s) and ends deleted', async () => {
    const { kernel, bridge } = kernelWithBridge();
    kernel.addLink('vif7');
    const { fakes, actor, sentOf } = start(kernel, { spec: tap, bridge });
    await waitFor(actor, (s) => s.matches('ready'));
    fakes.detach.hold();
    actor.send({ type: 'DELETE' });
    expect(topState(actor.getSnapshot().value)).toBe('deleting');
    actor.send({ type: 'DELETE' });
    expect(fakes.detach.calls).toHaveLength(1);
    fakes.detach.open[0]?.resolve();
    await waitFor(actor, (s) => s.status === 'done');
    expect(topState(actor.getSnapshot().value)).toBe('deleted');
    expect(kernel.links.has('vif7')).toBe(true);
    expect(kernel.masterOf('vif7')).toBeUndefined();
    expect(sentOf('CHILD_DELETED')).toEqual([{ type: 'CHILD_DELETED', id: 'ep:vm/lan#1' }]);
  });

  it('DELETE while creating aborts the attach and detaches', async () => {
    const { kernel, bridge } = kernelWithBridge();
    kernel.addLink('vif7');
    const { fakes, actor } = start(kernel, { spec: tap, bridge }, (f) => f.attach.hold());
    await waitFor(actor, (s) => s.matches('creating'));
    const attach = fakes.attach.open[0];
    actor.send({ type: 'DELETE' });
    expect(attach?.signal.aborted).toBe(true);
    await waitFor(actor, (s) => s.status === 'done');
    expect(kernel.log).toEqual(['probe vm/lan', 'attach vm/lan', 'detach vm/lan']);
  });
});

describe('endpoint machine: port', () => {
  it('an uplink port needs no bridge: ready with carrier, and its state goes to the parent', async () => {
    const kernel = new FakeKernel();
    kernel.addLink('eth1');
    const { fakes, actor, sentOf } = start(kernel, { spec: uplink });
    await waitFor(actor, (s) => s.matches('ready'));
    expect(fakes.attach.inputs).toEqual([{ spec: uplink, bridge: undefined }]);
    expect(kernel.links.get('eth1')?.master).toBeUndefined();
    expect(sentOf('PORT_STATE').at(-1)).toEqual({ type: 'PORT_STATE', port: 'uplink', present: true, carrier: true });
  });

  it('carrier lost → degraded with PORT_STATE to the parent; carrier back → ready; no re-attach', async () => {
    const kernel = new FakeKernel();
    kernel.addLink('eth1');
    const { fakes, actor, sentOf } = start(kernel, { spec: uplink });
    await waitFor(actor, (s) => s.matches('ready'));
    const before = sentOf('PORT_STATE').length;

    actor.send({ type: 'LINK_NEW', link: kernel.setCarrier('eth1', false) });
    expect(topState(actor.getSnapshot().value)).toBe('degraded');
    expect(actor.getSnapshot().context.reason).toBe('port uplink (eth1) lost carrier');
    await tick();
    expect(sentOf('PORT_STATE').slice(before)).toEqual([{ type: 'PORT_STATE', port: 'uplink', present: true, carrier: false }]);

    actor.send({ type: 'LINK_NEW', link: kernel.setCarrier('eth1', true) });
    expect(topState(actor.getSnapshot().value)).toBe('ready');
    expect(actor.getSnapshot().context.reason).toBe('port uplink (eth1) has carrier');
    await tick(150);
    expect(sentOf('PORT_STATE').slice(before).map((e) => e.carrier)).toEqual([false, true]);
    expect(fakes.attach.calls).toHaveLength(1);
    expect(topState(actor.getSnapshot().value)).toBe('ready');
  });

  it('a port attached with no carrier is degraded until carrier comes', async () => {
    const kernel = new FakeKernel();
    kernel.addLink('eth1', false);
    const { actor, sentOf } = start(kernel, { spec: uplink });
    await waitFor(actor, (s) => s.matches('degraded'));
    expect(actor.getSnapshot().context.reason).toBe('port uplink (eth1) has no carrier');
    expect(sentOf('PORT_STATE').at(-1)?.carrier).toBe(false);
    actor.send({ type: 'LINK_NEW', link: kernel.setCarrier('eth1', true) });
    expect(topState(actor.getSnapshot().value)).toBe('ready');
  });

  it('an absent port waits in pending and says so to its parent', async () => {
    const kernel = new FakeKernel();
    const { actor, sentOf } = start(kernel, { spec: uplink });
    await waitFor(actor, (s) => s.context.present === false);
    expect(topState(actor.getSnapshot().value)).toBe('pending');
    expect(actor.getSnapshot().context.reason).toBe('waiting for port eth1 to appear');
    expect(sentOf('PORT_STATE')).toEqual([{ type: 'PORT_STATE', port: 'uplink', present: false, carrier: false }]);
    actor.send({ type: 'LINK_NEW', link: kernel.addLink('eth1') });
    await waitFor(actor, (s) => s.matches('ready'));
    expect(sentOf('PORT_STATE').at(-1)).toEqual({ type: 'PORT_STATE', port: 'uplink', present: true, carrier: true });

    actor.send({ type: 'LINK_DEL', link: kernel.removeLink('eth1') });
    expect(topState(actor.getSnapshot().value)).toBe('pending');
    await tick();
    expect(sentOf('PORT_STATE').at(-1)).toEqual({ type: 'PORT_STATE', port: 'uplink', present: false, carrier: false });
  });

  it("a switch NI's port waits for the bridge and is enslaved to it", async () => {
    const kernel = new FakeKernel();
    kernel.addLink('eth2');
    const bridge = { name: 'enplant', ifindex: kernel.ifindex() };
    kernel.bridges.set('enplant', bridge);
    const { actor } = start(kernel, { spec: fieldbus });
    await tick();
    expect(topState(actor.getSnapshot().value)).toBe('pending');
    expect(actor.getSnapshot().context.reason).toBe('waiting for network plant');
    actor.send({ type: 'NI_UP', bridge });
    await waitFor(actor, (s) => s.matches('ready'));
    expect(kernel.masterOf('eth2')).toBe('enplant');

    // carrier loss on an enslaved port: still enslaved, so not "detached"
    actor.send({ type: 'LINK_NEW', link: kernel.setCarrier('eth2', false) });
    expect(topState(actor.getSnapshot().value)).toBe('degraded');
    expect(actor.getSnapshot().context.problem).toBeUndefined();
    actor.send({ type: 'LINK_NEW', link: kernel.setCarrier('eth2', true) });
    expect(topState(actor.getSnapshot().value)).toBe('ready');
  });
});
