// BENCH_SIZES=1000,2000,5000,10000 npm run bench: the whole bench once per size (each run in a process of its own,
// on fresh namespaces), then one table of the daemon's headline figures per size, ready to paste into README
// "Performance". Every size keeps 50 NIs (10 local, 40 switch): 10 000 taps are 200 per bridge (a Linux bridge
// holds at most 1024 ports). Beyond the first size the flap and VM-restart phases are shortened (BENCH_FLAPS 200,
// BENCH_RESTARTS 50) unless set, and the library-alone sizes are not run again.
import { spawn } from 'node:child_process';
import { copyFile, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { daemonTable, type DaemonSizeRow } from './size-table.ts';

const REPO = resolve(import.meta.dirname, '..');

interface RunResults {
  coldConverge: { edgenetMs: number; baselineMs: number };
  loopLagP99DuringColdMs?: number;
  incrementalPush: { addApplyMsMedian: number; removeApplyMs: number[]; noopApplyMs: number[] };
  removeAll?: { wallMs: number };
  memory: { rss1000: number };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)] as number) : NaN;
};

function runOnce(size: number, first: boolean, args: string[]): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env, BENCH_TAPS: String(size) };
  delete env.BENCH_SIZES;
  if (!first) {
    env.BENCH_LIB_SIZES = String(size);
    env.BENCH_FLAPS ??= '200';
    env.BENCH_RESTARTS ??= '50';
  }
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [join(REPO, 'bin/run-ts.js'), join(REPO, 'bench/run.ts'), ...args], { env, stdio: 'inherit' });
    child.once('exit', (code) => (code === 0 ? ok() : fail(new Error(`bench at ${size} endpoints exited ${code}`))));
  });
}

export async function runSizes(sizes: number[], args: string[]): Promise<void> {
  const rows: DaemonSizeRow[] = [];
  for (const [i, size] of sizes.entries()) {
    await runOnce(size, i === 0, args);
    const file = join(REPO, 'bench', `results-${size}.json`);
    await copyFile(join(REPO, 'bench', 'results.json'), file);
    const r = JSON.parse(await readFile(file, 'utf8')) as RunResults;
    rows.push({
      endpoints: size,
      coldMs: r.coldConverge.edgenetMs,
      baselineMs: r.coldConverge.baselineMs,
      lagP99Ms: r.loopLagP99DuringColdMs ?? NaN,
      addAppMs: r.incrementalPush.addApplyMsMedian,
      removeAppMs: median(r.incrementalPush.removeApplyMs),
      noopMs: median(r.incrementalPush.noopApplyMs),
      removeAllMs: r.removeAll?.wallMs ?? NaN,
      rssMB: r.memory.rss1000,
    });
    console.log(`\nthe daemon per size so far (bench/results-<size>.json):\n\n${daemonTable(rows)}\n`);
  }
}
