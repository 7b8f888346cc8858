// edgenet's own cost, without the kernel: the library in this process on the in-memory drivers, same topology.
// Shows what apply() costs in JavaScript alone (the floor under the daemon's figures) and which stage of a push
// grows with the config (validation, resolution, diff, reservations).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { diffConfig, resolveConfig } from '../src/config/config-diff.ts';
import { resolveLimits } from '../src/config/config-limits.ts';
import { copyInput, PushCache } from '../src/config/push-cache.ts';
import { lastGoodText } from '../src/daemon/state-dir.ts';
import { validateConfig } from '../src/config/config-load.ts';
import { endpointsOf, networksOf } from '../src/config/config-resolve.ts';
import { createEdgenet } from '../src/edgenet.ts';
import { createFakeDrivers } from '../src/testing.ts';
import { median, round } from './stats.ts';
import { configOf, type Topology } from './topology.ts';

export interface InProcessResult {
  endpoints: number;
  coldApplyMs: number;
  /** event-loop delay during the cold apply (perf_hooks histogram, 1 ms resolution) */
  coldLoopLagP99Ms: number;
  coldLoopLagMaxMs: number;
  addAppApplyMs: number;
  removeAppApplyMs: number;
  noopApplyMs: number;
  /** every app removed in one push (the NIs stay) */
  removeAllMs: number;
  /** stop() with every endpoint up */
  stopMs: number;
  heapUsedMiB: number;
  /**
   * one call each, on the full config (median of 5): the full path's stages, and a push of the same config (a copy,
   * compared app by app) through the O(change) path (push-cache.ts)
   */
  stagesMs: { validateConfig: number; networksOf: number; endpointsOf: number; diffConfigNoop: number; incrementalNoop: number };
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

/** The O(change) path's answer to a push of the same config, as a fresh copy (what a daemon parses from a body). */
function incrementalNoop(full: unknown, parsed: ReturnType<typeof validateConfig>, limits: { endpoints: number }): number {
  const cache = new PushCache();
  cache.rebuild(copyInput(full), parsed, resolveConfig(parsed), lastGoodText(parsed));
  const copies = Array.from({ length: 5 }, () => structuredClone(full));
  let k = 0;
  const resolved = resolveLimits(limits);
  return timeIt(() => cache.tryIncremental(copies[k++], resolved));
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export async function runInProcess(t: Topology): Promise<InProcessResult> {
  const stateDir = await mkdtemp(join(tmpdir(), 'edgenet-bench-lib-'));
  const drivers = createFakeDrivers();
  for (const tp of [...t.taps, ...t.extra]) drivers.links.addExternal(tp.tap);
  drivers.links.addExternal(t.port.ifname, { carrier: true });
  // no audit timer: nothing but the applies runs in this process
  // sizes beyond the default limit of 5000 app interfaces (BENCH_SIZES up to 10 000 and the added apps)
  const opts = { stateDir, drivers, auditIntervalMs: 0, limits: { endpoints: t.taps.length + t.extra.length } };
  const net = createEdgenet(opts);
  try {
    const full = configOf(t);
    const lag = monitorEventLoopDelay({ resolution: 1 });
    lag.enable();
    const coldApplyMs = await timed(() => net.apply(full));
    lag.disable();
    const noop: number[] = [];
    const add: number[] = [];
    const remove: number[] = [];
    for (let k = 0; k < Math.min(5, t.extra.length); k++) {
      noop.push(await timed(() => net.apply(full)));
      const extra = t.extra[k]!;
      const withApp = configOf(t);
      withApp.apps = [...(withApp.apps ?? []), { name: extra.app, interfaces: [{ network: extra.ni, tap: extra.tap }] }];
      add.push(await timed(() => net.apply(withApp)));
      remove.push(await timed(() => net.apply(full)));
    }
    const parsed = validateConfig(full, undefined, { limits: opts.limits });
    const stagesMs = {
      validateConfig: timeIt(() => validateConfig(full, undefined, { limits: opts.limits })),
      networksOf: timeIt(() => networksOf(parsed)),
      endpointsOf: timeIt(() => endpointsOf(parsed)),
      diffConfigNoop: timeIt(() => diffConfig(parsed, parsed)),
      incrementalNoop: incrementalNoop(full, parsed, opts.limits),
    };
    const heapUsedMiB = process.memoryUsage().heapUsed / 2 ** 20;
    const removeAllMs = await timed(() => net.apply({ ...full, apps: [] }));
    // stop() with everything up: a fresh instance converged on the full config
    await net.apply(full);
    const stopMs = await timed(() => net.stop());
    return {
      endpoints: t.taps.length,
      coldApplyMs: round(coldApplyMs),
      coldLoopLagP99Ms: round(lag.percentile(99) / 1e6),
      coldLoopLagMaxMs: round(lag.max / 1e6),
      addAppApplyMs: round(median(add), 2),
      removeAppApplyMs: round(median(remove), 2),
      noopApplyMs: round(median(noop), 2),
      removeAllMs: round(removeAllMs),
      stopMs: round(stopMs),
      heapUsedMiB: round(heapUsedMiB),
      stagesMs,
    };
  } finally {
    await net.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
}
