// `node bin/run-ts.js bench/push-fakes.ts`: the daemon in this process on the in-memory drivers (no kernel, no root),
// pushes over its API socket — the same body again (no-op), +1 app, -1 app — timed over the API (wall) and inside
// the daemon (edgenet_apply_duration_seconds_sum before/after): what a push costs the daemon in JavaScript alone.
// BENCH_SIZES=1000,5000 (default 1000) taps on 50 NIs, as the bench's topology; BENCH_PUSHES rounds (default 7).
// BENCH_PUSH_WINDOWS=FILE: each push's window (phase noop/add/remove) as JSON, for a CPU profile of this run
// (`node --cpu-prof --cpu-prof-dir=DIR …` with FILE = DIR/windows.json, then `bench/profile-report.ts DIR add`).
// BENCH_PUSH_ALLOCATIONS=FILE: every allocation of the pushes sampled (V8's sampling heap profiler, collected objects
// included) into FILE (a .heapprofile: `node bin/run-ts.js bench/heap-summary.ts FILE`; with BENCH_PUSH_INSIDE=0, no
// scrapes among them). This process is the API's client too: bench/topology.ts, client.ts and the request's
// writes are the client's.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { request } from 'node:http';
import { runDaemon } from '../src/daemon/daemon.ts';
import { createApiClient } from '../src/api/client.ts';
import { loadConfigFile } from '../src/config/config-load.ts';
import { createEdgenet } from '../src/edgenet.ts';
import { createFakeDrivers } from '../src/testing.ts';
import { monoUs, type PhaseWindow } from './profile.ts';
import { configOf, planTopology } from './topology.ts';

const sizes = (process.env.BENCH_SIZES ?? '1000').split(',').map(Number);
for (const taps of sizes) {
  const t = planTopology({ localNis: 10, switchNis: 40, taps, extraTaps: 10 });
  const dir = await mkdtemp(join(tmpdir(), 'edgenet-dpush-'));
  const drivers = createFakeDrivers();
  for (const tp of [...t.taps, ...t.extra]) drivers.links.addExternal(tp.tap);
  drivers.links.addExternal(t.port.ifname, { carrier: true });
  const stop = new AbortController();
  let ready = false;
  const socketPath = join(dir, 'api.sock');
  const configPath = join(dir, 'empty.json');
  await writeFile(configPath, '{}');
  const daemon = runDaemon(
    { configPath, allowApiPush: true, watch: false, stateDir: join(dir, 'state'), socketPath, logger: pino({ level: 'silent' }), signal: stop.signal, onReady: () => (ready = true), limits: { endpoints: taps + 20 } },
    { createEdgenet: (o) => createEdgenet({ ...o, drivers, auditIntervalMs: 0 }), loadConfigFile },
  );
  while (!ready) await new Promise((r) => setTimeout(r, 20));
  const api = createApiClient(socketPath);
  const full = JSON.stringify(configOf(t));
  await api.putConfig(full, 'application/json');
  const applySum = async (): Promise<number> => {
    const text = await new Promise<string>((resolve, reject) => {
      const req = request({ socketPath, path: '/metrics?name=edgenet_apply_duration_seconds', headers: { host: 'x' } }, (res) => {
        let b = '';
        res.on('data', (c: Buffer) => (b += c.toString()));
        res.on('end', () => resolve(b));
      });
      req.on('error', reject);
      req.end();
    });
    const m = /^edgenet_apply_duration_seconds_sum\S* (\S+)$/m.exec(text);
    return Number(m?.[1] ?? Number.NaN) * 1000;
  };
  const windows: PhaseWindow[] = [];
  const inside: Record<string, number[]> = { noop: [], add: [], remove: [] };
  let kind = 'noop';
  // BENCH_PUSH_INSIDE=0: no /metrics scrape around each push (for a profile of the pushes alone)
  const scrape = process.env.BENCH_PUSH_INSIDE !== '0';
  const time = async (body: string): Promise<number> => {
    const before = scrape ? await applySum() : 0;
    const t0 = performance.now();
    const fromUs = monoUs();
    await api.putConfig(body, 'application/json');
    const wall = performance.now() - t0;
    windows.push({ phase: kind, fromUs, toUs: monoUs() });
    inside[kind]!.push(scrape ? (await applySum()) - before : Number.NaN);
    return wall;
  };
  const noop: number[] = [];
  const add: number[] = [];
  const remove: number[] = [];
  const rounds = Number(process.env.BENCH_PUSHES ?? 7);
  const allocations = process.env.BENCH_PUSH_ALLOCATIONS;
  const session = allocations ? new (await import('node:inspector/promises')).Session() : undefined;
  if (session) {
    session.connect();
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  }
  for (let k = 0; k < rounds; k++) {
    kind = 'noop';
    noop.push(await time(full));
    const withApp = configOf(t);
    const extra = t.extra[k % t.extra.length]!;
    withApp.apps = [...(withApp.apps ?? []), { name: extra.app, interfaces: [{ network: extra.ni, tap: extra.tap }] }];
    kind = 'add';
    add.push(await time(JSON.stringify(withApp)));
    kind = 'remove';
    remove.push(await time(full));
  }
  if (session && allocations) {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    await writeFile(allocations, JSON.stringify(profile));
    session.disconnect();
  }
  const windowsFile = process.env.BENCH_PUSH_WINDOWS;
  if (windowsFile) await writeFile(windowsFile, JSON.stringify(windows));
  const med = (xs: number[]): string => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(2);
  console.log(`${taps} endpoints, daemon on fakes over the API (wall, median of ${rounds}): no-op ${med(noop)} ms, +1 app ${med(add)} ms, -1 app ${med(remove)} ms; apply() in the daemon: ${med(inside['noop']!)} / ${med(inside['add']!)} / ${med(inside['remove']!)} ms`);
  stop.abort();
  await daemon;
  await rm(dir, { recursive: true, force: true });
}
