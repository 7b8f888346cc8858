// The port-address check of a push (a local NI's subnet must not overlap its ports' addresses; a route's gateway
// must be on a subnet): an apps-only push keeps the running config's check unless an address changed since, so it
// dumps no addresses; after an address event it checks again, and refuses what now overlaps.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createEdgenet } from '../../src/edgenet.ts';
import type { Edgenet } from '../../src/edgenet-types.ts';
import { createFakeDrivers, type FakeDrivers } from '../../src/testing.ts';

let dir: string;
let drivers: FakeDrivers;
let net: Edgenet;
let dumps = 0;

const config = (apps: string[]) => ({
  ports: [{ name: 'up0', ifname: 'eth1' }],
  networks: [{ name: 'lan', type: 'local', port: 'up0', subnet: '10.50.0.0/24' }],
  apps: apps.map((name) => ({ name, interfaces: [{ network: 'lan', netns: `/run/netns/${name}` }] })),
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgenet-portaddr-'));
  drivers = createFakeDrivers();
  drivers.links.addExternal('eth1');
  await drivers.links.ensureAddress('eth1', '192.168.7.2', 24);
  for (const n of ['a', 'b', 'c', 'd']) drivers.links.addNetns(`/run/netns/${n}`);
  const list = drivers.links.listAddresses.bind(drivers.links);
  dumps = 0;
  drivers.links.listAddresses = (ifname?: string) => {
    if (ifname === undefined) dumps++;
    return list(ifname);
  };
  net = createEdgenet({ stateDir: dir, drivers, auditIntervalMs: 0 });
});
afterEach(async () => {
  await net.stop();
  await rm(dir, { recursive: true, force: true });
});

it('an apps-only push dumps no addresses while none changed; after a change it checks and refuses an overlap', async () => {
  await net.apply(config(['a']));
  // the NI's gateway address (an address event) came after that check: the next push checks once more
  await net.apply(config(['a', 'b']));
  const before = dumps;
  await net.apply(config(['a', 'b', 'c']));
  await net.apply(config(['a', 'b', 'c']));
  expect(dumps).toBe(before);
  // the port gets an address overlapping the NI's subnet: an apps-only push is checked again, and refused
  await drivers.links.ensureAddress('eth1', '10.50.3.7', 16);
  await expect(net.apply(config(['a', 'b', 'c', 'd']))).rejects.toMatchObject({
    kind: 'ConfigError',
    issues: [expect.objectContaining({ path: 'networks[0].subnet', message: expect.stringContaining('overlaps address 10.50.3.7/16') as string })],
  });
  expect(dumps).toBe(before + 1);
  expect(net.status().endpoints.map((e) => e.app).sort()).toEqual(['a', 'b', 'c']);
});
