// The move of a switch NI's port's own addresses and routes onto its bridge (src/services/l3-moves.ts), on the fake
// routes driver: recorded before it is made, idempotent (a restart writes nothing), restored on request or at start
// when no switch NI bridges the port any more.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFakeRouteDriver, type FakeRouteDriver } from '../../src/drivers/routes-fake.ts';
import { L3Moves } from '../../src/services/l3-moves.ts';

describe('L3Moves', () => {
  let dir: string;
  let routes: FakeRouteDriver;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-unit-'));
    routes = createFakeRouteDriver();
    routes.setAddresses('eth1', [{ address: '192.168.77.1', prefixlen: 24 }]);
    routes.setMainRoute({ to: 'default', via: '192.168.77.2', dev: 'eth1', protocol: 'dhcp', metric: 100 });
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  const where = () => ({ port: routes.addressesOf('eth1'), bridge: routes.addressesOf('enbr-sw'), route: routes.listRoutes('main') });

  it('records, then moves addresses and routes onto the bridge; again: 0 writes; restore: back and forgotten', async () => {
    const moves = new L3Moves(dir, routes);
    await moves.moveToBridge('up0', 'eth1', 'enbr-sw');
    expect(existsSync(join(dir, 'l3-moves', 'eth1.json'))).toBe(true);
    const w = await where();
    expect(w.port).toEqual([]);
    expect(w.bridge).toEqual([{ address: '192.168.77.1', prefixlen: 24 }]);
    expect(await w.route).toEqual([expect.objectContaining({ to: 'default', via: '192.168.77.2', dev: 'enbr-sw', metric: 100, protocol: 'dhcp' })]);
    expect(await moves.record('eth1')).toMatchObject({ port: 'up0', bridge: 'enbr-sw', l3: { addresses: [{ address: '192.168.77.1', prefixlen: 24 }] } });

    // a restart after a crash: a new instance reads the record, the move is done already
    const writes = routes.writes.total();
    await new L3Moves(dir, routes).moveToBridge('up0', 'eth1', 'enbr-sw');
    expect(routes.writes.total()).toBe(writes);

    await moves.restore('eth1');
    const back = await where();
    expect(back.port).toEqual([{ address: '192.168.77.1', prefixlen: 24 }]);
    expect(back.bridge).toEqual([]);
    expect(await back.route).toEqual([expect.objectContaining({ to: 'default', dev: 'eth1', protocol: 'dhcp' })]);
    expect(existsSync(join(dir, 'l3-moves', 'eth1.json'))).toBe(false);
    // nothing recorded: nothing to do
    await moves.restore('eth1');
    expect(routes.addressesOf('eth1')).toHaveLength(1);
  });

  it('a port without addresses or routes of its own moves nothing and records nothing', async () => {
    const moves = new L3Moves(dir, routes);
    await moves.moveToBridge('up1', 'eth2', 'enbr-sw');
    expect(await moves.records()).toEqual([]);
  });

  it('at start, puts back what a crash left on a bridge that no switch NI holds any more; keeps what one still does', async () => {
    routes.setAddresses('eth2', [{ address: '10.0.0.5', prefixlen: 24 }]);
    const moves = new L3Moves(dir, routes);
    await moves.moveToBridge('up0', 'eth1', 'enbr-sw');
    await moves.moveToBridge('up1', 'eth2', 'enbr-other');
    const back = await new L3Moves(dir, routes).restoreUnless((ifname, bridge) => ifname === 'eth2' && bridge === 'enbr-other');
    expect(back).toEqual(['eth1']);
    expect(routes.addressesOf('eth1')).toEqual([{ address: '192.168.77.1', prefixlen: 24 }]);
    expect(routes.addressesOf('enbr-other')).toEqual([{ address: '10.0.0.5', prefixlen: 24 }]);
    expect((await moves.records()).map((r) => r.ifname)).toEqual(['eth2']);
  });
});
