// The whole library on fake drivers: real machines, wiring and routing; kernel work in memory.
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { createFakeDhcpDns, type FakeDhcpDns } from '../../src/drivers/dhcpdns-fake.ts';
import { createFakeFirewall, type FakeFirewall } from '../../src/drivers/firewall-fake.ts';
import { createFakeLinkDriver, type FakeLinkDriver } from '../../src/drivers/links-fake.ts';
import { createFakeRouteDriver, type FakeRouteDriver } from '../../src/drivers/routes-fake.ts';
import { createEdgenet } from '../../src/edgenet.ts';
import type { Edgenet } from '../../src/edgenet-types.ts';

export interface FakeSystem {
  net: Edgenet;
  links: FakeLinkDriver;
  firewall: FakeFirewall;
  dhcpdns: FakeDhcpDns;
  routes: FakeRouteDriver;
  stateDir: string;
  /** events received per actor id (e.g. `ni:lan#1`), from the inspection stream */
  received: Map<string, string[]>;
  inspected: InspectionEvent[];
}

/** state dirs of fakeEdgenet(), removed when the test file ends (forked workers get no 'exit' event) */
const stateDirs: string[] = [];
afterAll(() => {
  for (const d of stateDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

export async function fakeEdgenet(): Promise<FakeSystem> {
  const stateDir = await mkdtemp(join(tmpdir(), 'edgenet-unit-'));
  stateDirs.push(stateDir);
  const links = createFakeLinkDriver();
  const firewall = createFakeFirewall();
  const dhcpdns = createFakeDhcpDns();
  const routes = createFakeRouteDriver();
  const received = new Map<string, string[]>();
  const inspected: InspectionEvent[] = [];
  const net = createEdgenet({
    stateDir,
    drivers: { links, firewall, dhcpdns, routes },
    auditIntervalMs: 50,
    linkThrottleMs: 0,
    inspect: (ev) => {
      inspected.push(ev);
      if (ev.type !== '@xstate.event') return;
      const id = (ev.actorRef as { id?: string }).id ?? '?';
      received.set(id, [...(received.get(id) ?? []), ev.event.type]);
    },
  });
  return { net, links, firewall, dhcpdns, routes, stateDir, received, inspected };
}
