// `node --cpu-prof --cpu-prof-dir=DIR bin/run-ts.js bench/in-process-profile.ts DIR`: the library on the in-memory
// drivers (as bench/in-process.ts), its pushes in phases — no-op, +1 app, -1 app (each 20 times), remove all, stop()
// — with each phase's window written to DIR/windows.json; `node bin/run-ts.js bench/profile-report.ts DIR [PHASE]`
// then says where the CPU of each phase went. BENCH_TAPS (default 1000) taps on 50 NIs.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEdgenet } from '../src/edgenet.ts';
import { createFakeDrivers } from '../src/testing.ts';
import { monoUs, type PhaseWindow } from './profile.ts';
import { configOf, planTopology } from './topology.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: in-process-profile.ts DIR');
const taps = Number(process.env.BENCH_TAPS ?? 1000);
const runs = Number(process.env.BENCH_RUNS ?? 20);
const t = planTopology({ localNis: 10, switchNis: 40, taps, extraTaps: runs });
const stateDir = await mkdtemp(join(tmpdir(), 'edgenet-prof-lib-'));
const drivers = createFakeDrivers();
for (const tp of [...t.taps, ...t.extra]) drivers.links.addExternal(tp.tap);
drivers.links.addExternal(t.port.ifname, { carrier: true });
const net = createEdgenet({ stateDir, drivers, auditIntervalMs: 0, limits: { endpoints: t.taps.length + t.extra.length } });
const windows: PhaseWindow[] = [];
const phase = async (name: string, fn: () => Promise<unknown>): Promise<number> => {
  const fromUs = monoUs();
  await fn();
  const toUs = monoUs();
  windows.push({ phase: name, fromUs, toUs });
  return (toUs - fromUs) / 1000;
};
const full = configOf(t);
await phase('cold', () => net.apply(full));
const ms: Record<string, number[]> = { noop: [], add: [], remove: [] };
for (let k = 0; k < runs; k++) {
  const extra = t.extra[k]!;
  const withApp = configOf(t);
  withApp.apps = [...(withApp.apps ?? []), { name: extra.app, interfaces: [{ network: extra.ni, tap: extra.tap }] }];
  ms['noop']!.push(await phase('noop', () => net.apply(full)));
  ms['add']!.push(await phase('add', () => net.apply(withApp)));
  ms['remove']!.push(await phase('remove', () => net.apply(full)));
}
const removeAll = await phase('remove-all', () => net.apply({ ...full, apps: [] }));
await net.apply(full);
const stop = await phase('stop', () => net.stop());
await writeFile(join(dir, 'windows.json'), JSON.stringify(windows));
const med = (xs: number[]): string => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(2);
console.log(`${taps} taps: no-op ${med(ms['noop']!)} ms, +1 ${med(ms['add']!)} ms, -1 ${med(ms['remove']!)} ms, remove all ${removeAll.toFixed(0)} ms, stop ${stop.toFixed(0)} ms`);
await rm(stateDir, { recursive: true, force: true });
