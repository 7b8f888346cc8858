// `node bin/run-ts.js bench/memory.ts` (root): what the daemon's memory is made of, idle and at N endpoints. The
// real daemon (`edgenet run`, compiled) in namespaces of its own (`enbench-<pid>-m<run>*`, removed after each run), with
// bench/memory-probe.mjs preloaded (and --expose-gc, which only exposes gc()), per run:
//   idle      empty config: RSS 0.2 s / 2 s / 10 s after the API answers, then the heap before and after a forced GC
//   converge  the bench's config (10 local + 40 switch NIs, BENCH_TAPS taps) pushed over the API: its wall time, RSS
//             2 s (the bench's figure) / 10 s / 30 s after (does it come back by itself?), then heap before and after
//             a forced GC and the RSS after it
// Environment: BENCH_TAPS (1000), BENCH_MEMORY_RUNS (1: runs per variant), BENCH_MEMORY_VARIANTS (';'-separated
// Node flag sets for the daemon, '' = as shipped; a word NAME=value is an environment variable, e.g.
// ';EDGENET_DAEMON_V8_FLAGS= --max-semi-space-size=1' (the daemon's run-time V8 flags off, a start-up one on)), BENCH_MEMORY_SNAPSHOTS=DIR (heap
// snapshots idle-after-GC and converged-after-GC there, for DevTools' comparison view or bench/heap-summary.ts),
// BENCH_MEMORY_ALLOCATIONS=DIR (every allocation of the converge sampled, collected or not, into a .heapprofile there
// for bench/heap-summary.ts or DevTools; the profiler's own memory then distorts the RSS figures of that run),
// BENCH_MEMORY_SETTLE_MS (30000: the last wait before the forced GC), BENCH_MEMORY_STATUS (0: GET /v1/status that many
// times right after the converge, as the daemon bench's `edgenet status` timing does before its RSS figure; the RSS
// figures after the converge are then counted from the last answer). Prints one line per run and a summary per
// variant; writes bench/memory-results.json. Figures in MiB (the bench's table prints MB: ×1.048576).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BenchDaemon } from './daemon.ts';
import { Sandbox, sleep } from './sandbox.ts';
import { median, round } from './stats.ts';
import { buildSurroundings, configOf, planTopology } from './topology.ts';

const REPO = resolve(import.meta.dirname, '..');
const PROBE = join(REPO, 'bench/memory-probe.mjs');
const envInt = (name: string, dflt: number): number => (process.env[name] ? Number(process.env[name]) : dflt);
const TAPS = envInt('BENCH_TAPS', 1000);
const RUNS = envInt('BENCH_MEMORY_RUNS', 1);
const SETTLE_MS = envInt('BENCH_MEMORY_SETTLE_MS', 30_000);
const VARIANTS = (process.env.BENCH_MEMORY_VARIANTS ?? '').split(';').map((v) => v.trim());
const SNAPSHOTS = process.env.BENCH_MEMORY_SNAPSHOTS;
const ALLOCATIONS = process.env.BENCH_MEMORY_ALLOCATIONS;
const STATUS_CALLS = envInt('BENCH_MEMORY_STATUS', 0);

const MiB = 1048576;
const mib = (bytes: number): number => round(bytes / MiB);
const log = (msg: string): void => console.error(`[memory ${new Date().toISOString().slice(11, 19)}] ${msg}`);

/** A variant's words: `NAME=value` sets the daemon's environment (e.g. EDGENET_DAEMON_V8_FLAGS=), the rest are Node flags. */
function variantArgs(variant: string): { flags: string[]; env: Record<string, string> } {
  const flags: string[] = [];
  const env: Record<string, string> = {};
  for (const word of variant.split(/\s+/).filter(Boolean)) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(word);
    if (m) env[m[1]!] = m[2]!;
    else flags.push(word);
  }
  return { flags, env };
}

interface Sample {
  smaps: Record<string, number>;
  usage: NodeJS.MemoryUsage;
  heap: { total_heap_size: number; used_heap_size: number; total_physical_size: number; malloced_memory: number; external_memory: number };
  spaces: Record<string, { size: number; used: number; physical: number }>;
  /** GC pauses since the daemon started, by kind */
  gc: Record<string, { count: number; ms: number }>;
}
interface ProbeAnswer {
  before: Sample;
  afterGc?: Sample;
}

/** What the probe in the daemon answers (see memory-probe.mjs). */
async function probe(d: BenchDaemon, base: string, req: { gc?: boolean; snapshot?: string; allocations?: string }): Promise<ProbeAnswer> {
  await rm(`${base}.json`, { force: true });
  await writeFile(`${base}.req`, JSON.stringify(req));
  process.kill(d.pid, 'SIGUSR2');
  const deadline = Date.now() + 120_000;
  while (!existsSync(`${base}.json`)) {
    if (d.exited) throw new Error(`daemon exited:\n${await d.logTail()}`);
    if (Date.now() > deadline) throw new Error('no answer from the memory probe');
    await sleep(20);
  }
  return JSON.parse(await readFile(`${base}.json`, 'utf8')) as ProbeAnswer;
}

/** CPU time (user + system) of a process so far, ms (/proc/<pid>/stat; clock ticks of 10 ms). */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** GC pauses from sample a to sample b: minor (scavenges) and major (mark-compact) counts and ms. */
function gcBetween(a: Sample, b: Sample): { minor: number; minorMs: number; major: number; majorMs: number } {
  const d = (kind: string, f: 'count' | 'ms'): number => round((b.gc[kind]?.[f] ?? 0) - (a.gc[kind]?.[f] ?? 0));
  return { minor: d('minor', 'count'), minorMs: d('minor', 'ms'), major: d('major', 'count'), majorMs: d('major', 'ms') };
}

/** The figures of one sample, MiB. */
function brief(s: Sample) {
  const sp = (name: string): number => mib(s.spaces[name]?.physical ?? 0);
  return {
    rss: mib(s.smaps.Rss ?? s.usage.rss),
    anon: mib(s.smaps.Anonymous ?? NaN),
    file: mib((s.smaps.Rss ?? 0) - (s.smaps.Anonymous ?? 0)),
    heapUsed: mib(s.heap.used_heap_size),
    heapTotal: mib(s.heap.total_heap_size),
    heapPhysical: mib(s.heap.total_physical_size),
    newSpace: sp('new_space'),
    oldSpace: sp('old_space'),
    code: sp('code_space'),
    largeObjects: sp('large_object_space'),
    external: mib(s.usage.external),
    arrayBuffers: mib(s.usage.arrayBuffers),
    malloced: mib(s.heap.malloced_memory),
  };
}

type Brief = ReturnType<typeof brief>;

interface RunResult {
  variant: string;
  run: number;
  idleRss: { at200ms: number; at2s: number; at10s: number };
  idle: Brief;
  idleGc: Brief;
  convergeMs: number;
  /** the daemon's CPU time from the push to its answer */
  convergeCpuMs: number;
  /** GC pauses from the idle sample (after its forced GC) to the converged one (before its forced GC) */
  convergeGc: ReturnType<typeof gcBetween>;
  convergedRss: { at2s: number; at10s: number; atSettle: number };
  converged: Brief;
  convergedGc: Brief;
  rssAfterGcSettled: number;
}

async function oneRun(sandbox: Sandbox, dir: string, variant: string, run: number, tag: string): Promise<RunResult> {
  const t = planTopology({ localNis: 10, switchNis: 40, taps: TAPS, extraTaps: 0 });
  const ns = { dev: await sandbox.netns(`${tag}dev`), vm: await sandbox.netns(`${tag}vm`), outside: await sandbox.netns(`${tag}out`) };
  let d: BenchDaemon | undefined;
  try {
    await buildSurroundings(t, dir, ns);
    const emptyConfig = join(dir, `${tag}-empty.json`);
    await writeFile(emptyConfig, '{}\n');
    const base = join(dir, `${tag}-probe`);
    d = BenchDaemon.spawn(sandbox, {
      ns: ns.dev,
      configPath: emptyConfig,
      stateDir: join(dir, `${tag}-state`),
      logPath: join(dir, `${tag}-daemon.log`),
      nodeFlags: ['--expose-gc', '--import', PROBE, ...variantArgs(variant).flags],
      env: { BENCH_MEMORY_PROBE: base, ...variantArgs(variant).env },
    });
    const daemon = d;
    await daemon.waitApi();
    const spawned = performance.now();
    const at = async (ms: number): Promise<number> => {
      await sleep(Math.max(0, ms - (performance.now() - spawned)));
      return round(await daemon.rssMiB());
    };
    const idleRss = { at200ms: await at(200), at2s: await at(2000), at10s: await at(10_000) };
    const idle = await probe(daemon, base, { gc: true, ...(SNAPSHOTS && { snapshot: join(SNAPSHOTS, `${tag}-idle.heapsnapshot`) }) });
    // the snapshot's own garbage is collected before the converge starts
    if (SNAPSHOTS) await probe(daemon, base, { gc: true });

    if (ALLOCATIONS) await probe(daemon, base, { allocations: 'start' });
    const cpu0 = await cpuMs(daemon.pid);
    const t0 = performance.now();
    await daemon.api.putConfig(JSON.stringify(configOf(t)), 'application/json');
    const convergeMs = round(performance.now() - t0);
    const convergeCpuMs = (await cpuMs(daemon.pid)) - cpu0;
    if (ALLOCATIONS) await probe(daemon, base, { allocations: join(ALLOCATIONS, `${tag}-converge.heapprofile`) });
    for (let i = 0; i < STATUS_CALLS; i++) await daemon.status();
    const done = performance.now();
    const after = async (ms: number): Promise<number> => {
      await sleep(Math.max(0, ms - (performance.now() - done)));
      return round(await daemon.rssMiB());
    };
    const convergedRss = { at2s: await after(2000), at10s: await after(10_000), atSettle: await after(Math.max(10_000, SETTLE_MS)) };
    const conv = await probe(daemon, base, { gc: true, ...(SNAPSHOTS && { snapshot: join(SNAPSHOTS, `${tag}-converged.heapsnapshot`) }) });
    await sleep(1000);
    const rssAfterGcSettled = round(await daemon.rssMiB());
    return {
      variant,
      run,
      idleRss,
      idle: brief(idle.before),
      idleGc: brief(idle.afterGc ?? idle.before),
      convergeMs,
      convergeCpuMs,
      convergeGc: gcBetween(idle.afterGc ?? idle.before, conv.before),
      convergedRss,
      converged: brief(conv.before),
      convergedGc: brief(conv.afterGc ?? conv.before),
      rssAfterGcSettled,
    };
  } finally {
    await d?.stop('SIGTERM');
    for (const n of [ns.dev, ns.vm, ns.outside]) await sandbox.removeNetns(n);
  }
}

function line(r: RunResult): string {
  const g = r.convergedGc;
  return [
    `${r.variant || '(as shipped)'} #${r.run}:`,
    `idle RSS ${r.idleRss.at200ms}/${r.idleRss.at2s}/${r.idleRss.at10s} (0.2/2/10 s), heap used ${r.idle.heapUsed} → ${r.idleGc.heapUsed} after GC, RSS after GC ${r.idleGc.rss};`,
    `converge ${r.convergeMs} ms (CPU ${r.convergeCpuMs} ms, GC: ${r.convergeGc.minor} minor ${r.convergeGc.minorMs} ms, ${r.convergeGc.major} major ${r.convergeGc.majorMs} ms); RSS ${r.convergedRss.at2s}/${r.convergedRss.at10s}/${r.convergedRss.atSettle} (2/10/${SETTLE_MS / 1000} s),`,
    `heap used ${r.converged.heapUsed} (total ${r.converged.heapTotal}, new ${r.converged.newSpace}, old ${r.converged.oldSpace}) → ${g.heapUsed} after GC (total ${g.heapTotal}), RSS after GC ${g.rss} → ${r.rssAfterGcSettled} 1 s later`,
  ].join(' ');
}

async function main(): Promise<void> {
  // the daemon runs from dist/: compiled from the sources as they are (nothing to do when current)
  const build = spawnSync(process.execPath, [join(REPO, 'scripts/build.mjs'), '--if-stale'], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');
  const sandbox = new Sandbox();
  const results: RunResult[] = [];
  try {
    const dir = await sandbox.dir('memory');
    log(`${TAPS} taps over 50 NIs${STATUS_CALLS ? `, ${STATUS_CALLS} status calls after the converge` : ''}; variants: ${VARIANTS.map((v) => v || '(as shipped)').join(', ')}; ${RUNS} run(s) each; namespaces ${sandbox.prefix}-m*`);
    let k = 0;
    // variants interleaved run by run: the machine's load drifts
    for (let run = 1; run <= RUNS; run++) {
      for (const variant of VARIANTS) {
        const r = await oneRun(sandbox, dir, variant, run, `m${k++}`);
        log(line(r));
        results.push(r);
      }
    }
  } finally {
    await sandbox.cleanup();
  }
  console.log(`\ndaemon memory, ${TAPS} taps, MiB (medians of ${RUNS} run(s) per variant)\n`);
  console.log('| variant | idle RSS 2 s / 10 s | idle heap used after GC | converge: wall / CPU / GC ms | RSS 2 s / 10 s / settled | heap used / total | after GC: heap used / RSS |');
  console.log('|---|---|---|---|---|---|---|');
  for (const v of VARIANTS) {
    const rs = results.filter((r) => r.variant === v);
    const m = (f: (r: RunResult) => number): number => round(median(rs.map(f)));
    console.log(
      `| ${v || '(as shipped)'} | ${m((r) => r.idleRss.at2s)} / ${m((r) => r.idleRss.at10s)} | ${m((r) => r.idleGc.heapUsed)} | ${m((r) => r.convergeMs)} / ${m((r) => r.convergeCpuMs)} / ${m((r) => r.convergeGc.minorMs + r.convergeGc.majorMs)} | ${m((r) => r.convergedRss.at2s)} / ${m((r) => r.convergedRss.at10s)} / ${m((r) => r.convergedRss.atSettle)} | ${m((r) => r.converged.heapUsed)} / ${m((r) => r.converged.heapTotal)} | ${m((r) => r.convergedGc.heapUsed)} / ${m((r) => r.rssAfterGcSettled)} |`,
    );
  }
  await writeFile(join(REPO, 'bench/memory-results.json'), `${JSON.stringify({ date: new Date().toISOString(), taps: TAPS, settleMs: SETTLE_MS, results }, null, 2)}\n`);
}

await main();
