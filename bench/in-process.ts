// edgenet's own cost, without the kernel: the library in this process on the in-memory drivers, same topology.
// Shows what apply() costs in JavaScript alone (the floor under the daemon's figures) and which stage of a push
// grows with the config (validation, resolution, diff, reservations).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diffConfig } from '../src/config/config-diff.ts';
import { validateConfig } from '../src/config/config-load.ts';
import { endpointsOf, networksOf } from '../src/config/config-resolve.ts';
import { createEdgenet } from '../src/edgenet.ts';
import { createFakeDrivers } from '../src/testing.ts';
import { median, round } from './stats.ts';
import { configOf, type Topology } from './topology.ts';

export interface InProcessResult {
  coldApplyMs: number;
  addAppApplyMs: number;
  noopApplyMs: number;
  /** one call each, on the full config (median of 5) */
  stagesMs: { validateConfig: number; networksOf: number; endpointsOf: number; diffConfigNoop: number };
}

function timeIt(fn: () => unknown, runs = 5): number {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  return round(median(ms), 2);
}

export async function runInProcess(t: Topology): Promise<InProcessResult> {
  const stateDir = await mkdtemp(join(tmpdir(), 'edgenet-bench-lib-'));
  const drivers = createFakeDrivers();
  for (const tp of [...t.taps, ...t.extra]) drivers.links.addExternal(tp.tap);
  drivers.links.addExternal(t.port.ifname, { carrier: true });
  // no audit timer: nothing but the applies runs in this process
  const net = createEdgenet({ stateDir, drivers, auditIntervalMs: 0 });
  try {
    const full = configOf(t);
    const t0 = performance.now();
    await net.apply(full);
    const coldApplyMs = performance.now() - t0;
    const noop: number[] = [];
    const add: number[] = [];
    for (let k = 0; k < Math.min(5, t.extra.length); k++) {
      const s0 = performance.now();
      await net.apply(full);
      noop.push(performance.now() - s0);
      const extra = t.extra[k]!;
      const withApp = configOf(t);
      withApp.apps = [...(withApp.apps ?? []), { name: extra.app, interfaces: [{ network: extra.ni, tap: extra.tap }] }];
      const s1 = performance.now();
      await net.apply(withApp);
      add.push(performance.now() - s1);
      await net.apply(full);
    }
    const parsed = validateConfig(full);
    return {
      coldApplyMs: round(coldApplyMs),
      addAppApplyMs: round(median(add)),
      noopApplyMs: round(median(noop)),
      stagesMs: {
        validateConfig: timeIt(() => validateConfig(full)),
        networksOf: timeIt(() => networksOf(parsed)),
        endpointsOf: timeIt(() => endpointsOf(parsed)),
        diffConfigNoop: timeIt(() => diffConfig(parsed, parsed)),
      },
    };
  } finally {
    await net.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
}
