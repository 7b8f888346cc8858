// `node bin/run-ts.js bench/in-process-main.ts`: only the in-process part of the bench (no kernel, no root), for
// quick before/after comparisons of edgenet's own JavaScript cost.
import { runInProcess } from './in-process.ts';
import { planTopology } from './topology.ts';

const t = planTopology({ localNis: 10, switchNis: 40, taps: 1000, extraTaps: 10 });
console.log(JSON.stringify(await runInProcess(t), null, 1));
