// `node bin/run-ts.js bench/in-process-main.ts`: only the in-process part of the bench (no kernel, no root), for
// quick before/after comparisons of edgenet's own JavaScript cost. BENCH_SIZES=1000,2000 (default 1000): one run
// per size, each on 50 NIs (10 local, 40 switch); a JSON line per size, then a table ready to paste.
import { runInProcess, type InProcessResult } from './in-process.ts';
import { libraryTable } from './size-table.ts';
import { planTopology } from './topology.ts';

const sizes = (process.env.BENCH_SIZES ?? process.env.BENCH_TAPS ?? '1000').split(',').map(Number);
const results: InProcessResult[] = [];
for (const taps of sizes) {
  const t = planTopology({ localNis: 10, switchNis: 40, taps, extraTaps: 10 });
  const r = await runInProcess(t);
  console.log(JSON.stringify(r));
  results.push(r);
}
console.log(`\n${libraryTable(results)}`);
