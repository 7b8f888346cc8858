// A switch NI with several ports on the fake drivers: STP on the bridge, BPDU guard on the named ports, a tripped
// guard degrades the port and the NI until the carrier cycles, a flap on one port moves only that port.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEdgenet } from '../../src/edgenet.ts';
import type { Edgenet } from '../../src/edgenet-types.ts';
import { createFakeDrivers, type FakeDrivers } from '../../src/testing.ts';
import { eventually } from '../helpers/netns.ts';

const config = (stp: unknown = { forwardDelay: 4, portsWithBpduGuard: ['sensors'] }) => ({
  ports: [
    { name: 'field-a', ifname: 'eth1' },
    { name: 'field-b', ifname: 'eth2' },
    { name: 'sensors', ifname: 'eth3' },
  ],
  networks: [{ name: 'plant', type: 'switch', ports: ['field-a', 'field-b', 'sensors'], stp }],
  apps: [{ name: 'hmi', interfaces: [{ network: 'plant', tap: 'vif1' }] }],
});

describe('switch NI with several ports (fake drivers)', () => {
  let stateDir: string;
  let drivers: FakeDrivers;
  let net: Edgenet;

  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'edgenet-stp-'));
    drivers = createFakeDrivers();
    for (const nic of ['eth1', 'eth2', 'eth3', 'vif1']) drivers.links.addExternal(nic);
    net = createEdgenet({ stateDir, drivers, auditIntervalMs: 0, linkThrottleMs: 0 });
  });

  afterEach(async () => {
    await net.stop();
    await rm(stateDir, { recursive: true, force: true });
  });

  const port = (name: string) => net.status().ports.find((p) => p.name === name);

  it('enslaves every port, runs STP with the forward delay and guards only the named ports (and apps with guardApps)', async () => {
    await net.apply(config());
    expect(net.status().networks).toMatchObject([{ name: 'plant', state: 'ready' }]);
    expect(drivers.bridgePorts.bridgeOptions('enbr-plant')).toEqual({ stp: true, forwardDelayS: 4, vlanFiltering: false });
    const bridge = await drivers.links.get('enbr-plant');
    for (const nic of ['eth1', 'eth2', 'eth3']) expect((await drivers.links.get(nic))?.master).toBe(bridge?.ifindex);
    expect(['eth1', 'eth2', 'eth3', 'vif1'].map((i) => drivers.bridgePorts.guardOf(i))).toEqual([false, false, true, false]);

    // guardApps: one write on the app's tap, nothing else moves
    const before = net.status().writes.link;
    await net.apply(config({ forwardDelay: 4, portsWithBpduGuard: ['sensors'], guardApps: true }));
    expect(drivers.bridgePorts.guardOf('vif1')).toBe(true);
    expect(net.status().writes.link - before).toBe(1);

    // stp off again (one port left): the bridge stops STP
    await net.apply({ ...config(false), networks: [{ name: 'plant', type: 'switch', ports: ['field-a'] }] });
    expect(drivers.bridgePorts.bridgeOptions('enbr-plant')?.stp).toBe(false);
    expect((await drivers.links.get('eth2'))?.master).toBeUndefined();
  });

  it('a BPDU on a guarded port degrades that port and the NI with the reason; a push does not clear it, a carrier cycle does', async () => {
    await net.apply(config());
    await drivers.bridgePorts.receiveBpdu('eth1'); // not guarded: nothing happens
    await drivers.bridgePorts.receiveBpdu('eth3');
    await eventually('sensors degraded', () => port('sensors')?.state === 'degraded');
    expect(port('sensors')?.reason).toMatch(/^port sensors \(eth3\) disabled by BPDU guard: a BPDU arrived on it; it forwards again after its carrier cycles/);
    expect(port('field-a')?.state).toBe('ready');
    const ni = net.status().networks[0];
    expect(ni?.state).toBe('degraded');
    expect(ni?.reason).toContain('port sensors (eth3) disabled by BPDU guard');

    await net.apply(config());
    expect(port('sensors')?.state).toBe('degraded');

    drivers.links.setCarrier('eth3', false);
    drivers.links.setCarrier('eth3', true);
    await drivers.bridgePorts.carrierCycled('eth3');
    await eventually('sensors and NI ready', () => port('sensors')?.state === 'ready' && net.status().networks[0]?.state === 'ready');
  });

  it('a guard found tripped when attaching (after a restart) is reported at once', async () => {
    await net.apply(config());
    await drivers.bridgePorts.receiveBpdu('eth3');
    await eventually('sensors degraded', () => port('sensors')?.state === 'degraded');
    await net.stop();
    net = createEdgenet({ stateDir, drivers, auditIntervalMs: 0, linkThrottleMs: 0 });
    await net.apply(config());
    expect(port('sensors')?.state).toBe('degraded');
    expect(net.status().networks[0]?.reason).toContain('disabled by BPDU guard');
  });

  it('a flap on one port moves only that port; the NI is degraded only when no port is up', async () => {
    await net.apply(config());
    const transitions: string[] = [];
    net.transitions$.subscribe((t) => transitions.push(`${t.kind} ${t.name} ${t.to}`));
    drivers.links.setCarrier('eth1', false);
    await eventually('field-a degraded', () => port('field-a')?.state === 'degraded');
    expect(net.status().networks[0]?.state).toBe('ready');
    expect(transitions).toEqual(['port field-a degraded']);

    drivers.links.setCarrier('eth2', false);
    drivers.links.setCarrier('eth3', false);
    await eventually('NI degraded', () => net.status().networks[0]?.state === 'degraded');
    expect(net.status().networks[0]?.reason).toBe(
      'no port up: port field-a has no carrier; port field-b has no carrier; port sensors has no carrier',
    );
    drivers.links.setCarrier('eth2', true);
    await eventually('NI ready with one port', () => net.status().networks[0]?.state === 'ready');
  });
});
