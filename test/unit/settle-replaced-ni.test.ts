// apply() resolves once what the push changed has settled — also what the push replaced: an NI with a new subnet
// (deleted, and a new actor of the same name made once the old one has let go of the bridge, its apps with it) or
// an app moved to another tap. The new actors did not exist yet when the push chose which actors to wait for:
// apply() resolved while they were still creating (or pending).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/config/config-schema.ts';
import { createEdgenet } from '../../src/edgenet.ts';
import type { Edgenet } from '../../src/edgenet-types.ts';
import { createFakeDrivers } from '../../src/testing.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function start(): Promise<Edgenet> {
  const stateDir = await mkdtemp(join(tmpdir(), 'edgenet-settle-'));
  const drivers = createFakeDrivers();
  drivers.links.addExternal('tap0');
  drivers.links.addExternal('tap1');
  // dnsmasq takes a while to start, as it does on a device: the new NI is still creating when the old one is gone
  const ensure = drivers.dhcpdns.ensure.bind(drivers.dhcpdns);
  drivers.dhcpdns.ensure = async (spec, signal) => {
    await new Promise((r) => setTimeout(r, 30));
    return ensure(spec, signal);
  };
  const net = createEdgenet({ stateDir, drivers, auditIntervalMs: 0, linkThrottleMs: 0 });
  cleanups.push(async () => {
    await net.stop();
    await rm(stateDir, { recursive: true, force: true });
  });
  return net;
}

const config = (subnet: string, tap = 'tap0'): ConfigInput => ({
  networks: [{ name: 'lan', type: 'local', subnet }],
  apps: [{ name: 'vm', interfaces: [{ network: 'lan', tap }] }],
});

describe('apply() waits for the actors the push made', () => {
  it('an NI replaced by a new subnet is ready when apply() resolves, and so is its app', async () => {
    const net = await start();
    await net.apply(config('10.1.0.0/24'));
    expect(net.status().networks.map((n) => [n.name, n.state])).toEqual([['lan', 'ready']]);
    await net.apply(config('10.2.0.0/24'));
    const st = net.status();
    expect(st.networks.map((n) => [n.name, n.state, n.subnet])).toEqual([['lan', 'ready', '10.2.0.0/24']]);
    expect(st.endpoints.map((e) => [e.app, e.state, e.ip?.startsWith('10.2.0.')])).toEqual([['vm', 'ready', true]]);
  });

  it('an app moved to another tap (a new actor, made once the old one has let go) is ready when apply() resolves', async () => {
    const net = await start();
    await net.apply(config('10.1.0.0/24'));
    await net.apply(config('10.1.0.0/24', 'tap1'));
    expect(net.status().endpoints.map((e) => [e.app, e.ifname, e.state])).toEqual([['vm', 'tap1', 'ready']]);
  });
});
