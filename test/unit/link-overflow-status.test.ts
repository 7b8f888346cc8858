// Lost link events are counted where an operator looks: status (`linkEvents.overflows`) and /metrics.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createMetrics } from '../../src/daemon/metrics.ts';
import { createEdgenet } from '../../src/edgenet.ts';
import type { Edgenet } from '../../src/edgenet-types.ts';
import { createFakeDrivers } from '../../src/testing.ts';

let dir: string | undefined;
let net: Edgenet | undefined;
afterEach(async () => {
  await net?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('counts event-socket overflows in status and in edgenet_link_event_overflows_total', async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgenet-overflow-'));
  const drivers = createFakeDrivers();
  net = createEdgenet({ stateDir: dir, drivers, auditIntervalMs: 0 });
  const metrics = createMetrics(net);
  await net.apply({ networks: [{ name: 'sw', type: 'switch' }] });
  // a driver that never overflowed (the fake until told) reports nothing
  expect(net.status().linkEvents).toBeUndefined();
  expect(await metrics.metrics()).toContain('edgenet_link_event_overflows_total 0');
  drivers.links.overflow();
  drivers.links.overflow();
  expect(net.status().linkEvents).toEqual({ overflows: 2 });
  expect(await metrics.metrics()).toContain('edgenet_link_event_overflows_total 2');
  metrics.close();
});
