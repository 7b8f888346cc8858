// `node bin/run-ts.js bench/in-process-main.ts`: only the in-process part of the bench (no kernel, no root), for
// quick before/after comparisons of edgenet's own JavaScript cost. BENCH_SIZES=1000,2000 (default 1000): one run
// per size, each on 50 NIs (10 local, 40 switch).
import { runInProcess } from './in-process.ts';
import { planTopology } from './topology.ts';

const sizes = (process.env.BENCH_SIZES ?? process.env.BENCH_TAPS ?? '1000').split(',').map(Number);
for (const taps of sizes) {
  const t = planTopology({ localNis: 10, switchNis: 40, taps, extraTaps: 10 });
  console.log(JSON.stringify(await runInProcess(t)));
}
