// VLANs on a switch NI, on the fake drivers: what each member's bridge VLAN entries become, the bridge's filtering,
// one app's move costing only its own link, and the whole config refused on a kernel without 802.1Q.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEdgenet } from '../../src/edgenet.ts';
import type { Edgenet } from '../../src/edgenet-types.ts';
import { ConfigError } from '../../src/errors.ts';
import { vethHostName } from '../../src/util/names.ts';
import { createFakeDrivers, type FakeDrivers } from '../../src/testing.ts';

const app = (name: string, vlan?: number) => ({ name, interfaces: [{ network: 'plant', netns: `/run/netns/${name}`, ...(vlan !== undefined && { accessVlanId: vlan }) }] });
const config = (apps = [app('a10', 10), app('b10', 10), app('c20', 20), app('all')], vlanPorts?: unknown) => ({
  ports: [
    { name: 'trunk', ifname: 'eth1' },
    { name: 'panel', ifname: 'eth2' },
  ],
  networks: [{ name: 'plant', type: 'switch', ports: ['trunk', 'panel'], stp: true, ...(vlanPorts !== undefined && { vlanPorts }) }],
  apps,
});

describe('VLANs on a switch NI (fake drivers)', () => {
  let stateDir: string;
  let drivers: FakeDrivers;
  let net: Edgenet;

  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'edgenet-vlan-'));
    drivers = createFakeDrivers();
    drivers.links.addExternal('eth1');
    drivers.links.addExternal('eth2');
    for (const n of ['a10', 'b10', 'c20', 'all']) drivers.links.addNetns(`/run/netns/${n}`);
    net = createEdgenet({ stateDir, drivers, auditIntervalMs: 0 });
  });

  afterEach(async () => {
    await net.stop();
    await rm(stateDir, { recursive: true, force: true });
  });

  const entries = (ifname: string) => drivers.bridgePorts.vlanEntries(ifname);

  it('access apps untagged on their VLAN, trunk apps and ports tagged on every used VLAN, an access port on its own', async () => {
    await net.apply(config(undefined, [{ port: 'panel', access: 20 }]));
    expect(drivers.bridgePorts.bridgeOptions('enbr-plant')).toMatchObject({ stp: true, vlanFiltering: true });
    expect(await entries(vethHostName('a10', 'plant'))).toEqual([{ vid: 10, pvid: true, untagged: true }]);
    expect(await entries(vethHostName('c20', 'plant'))).toEqual([{ vid: 20, pvid: true, untagged: true }]);
    expect(await entries(vethHostName('all', 'plant'))).toEqual([
      { vid: 1, pvid: true, untagged: true },
      { vid: 10, pvid: false, untagged: false },
      { vid: 20, pvid: false, untagged: false },
    ]);
    expect(await entries('eth1')).toEqual([
      { vid: 1, pvid: true, untagged: true },
      { vid: 10, pvid: false, untagged: false },
      { vid: 20, pvid: false, untagged: false },
    ]);
    expect(await entries('eth2')).toEqual([{ vid: 20, pvid: true, untagged: true }]);
  });

  it('a trunk port with its own list carries only those VLANs', async () => {
    await net.apply(config([app('a10', 10)], [{ port: 'trunk', trunk: [10, 30] }]));
    expect(await entries('eth1')).toEqual([
      { vid: 1, pvid: true, untagged: true },
      { vid: 10, pvid: false, untagged: false },
      { vid: 30, pvid: false, untagged: false },
    ]);
  });

  it('moving one app to a VLAN already used costs two writes on its own link (add the new PVID, remove the old)', async () => {
    await net.apply(config());
    const before = net.status().writes.link;
    const r = await net.apply(config([app('a10', 10), app('b10', 20), app('c20', 20), app('all')]));
    expect(r.updated).toEqual(['endpoint b10/plant']);
    expect(net.status().writes.link - before).toBe(2);
    expect(await entries(vethHostName('b10', 'plant'))).toEqual([{ vid: 20, pvid: true, untagged: true }]);
  });

  it('without VLANs in use the bridge does not filter, and no VLAN entry is written', async () => {
    await net.apply(config([app('all')]));
    expect(drivers.bridgePorts.bridgeOptions('enbr-plant')?.vlanFiltering).toBe(false);
    expect(await entries('eth1')).toEqual([{ vid: 1, pvid: true, untagged: true }]);
  });

  it('a kernel without 802.1Q refuses the whole config, naming each VLAN path; nothing is built', async () => {
    drivers.bridgePorts.features = { vlanFiltering: false, vlan8021q: false, bonding: false };
    const refused = net.apply(config([app('a10', 10)], [{ port: 'panel', access: 20 }]));
    await expect(refused).rejects.toBeInstanceOf(ConfigError);
    await expect(refused).rejects.toMatchObject({
      issues: [
        { path: 'networks[0].vlanPorts[0]', message: expect.stringContaining('this kernel has no 802.1Q support') },
        { path: 'apps[0].interfaces[0].accessVlanId', message: expect.stringContaining('this kernel has no 802.1Q support') },
      ],
    });
    expect(net.status().networks).toEqual([]);
    expect(await drivers.links.get('enbr-plant')).toBeUndefined();
  });
});
