// Preloaded into the daemon by bench/memory.ts only (`node --expose-gc --import ./bench/memory-probe.mjs
// bin/edgenet.js run ...`): on SIGUSR2 it reads the request in $BENCH_MEMORY_PROBE.req ({ gc, snapshot, allocations }) and writes
// what the process's memory is made of to $BENCH_MEMORY_PROBE.json: /proc smaps_rollup, process.memoryUsage(), the
// V8 heap and its spaces and the GC pauses so far, before and (with gc) after two full collections, optionally a
// heap snapshot, and starts or stops (writing a .heapprofile) the sampling heap profiler of every allocation. Plain JS
// (no tsx loader in the measured process); nothing of it runs unless the signal comes.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

const base = process.env.BENCH_MEMORY_PROBE;

function smaps() {
  const out = {};
  for (const line of readFileSync('/proc/self/smaps_rollup', 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+) kB$/.exec(line);
    if (m) out[m[1]] = Number(m[2]) * 1024;
  }
  return out;
}

/** GC pauses since start, by kind (minor: scavenge; major: mark-compact; incremental; weakcb), count and ms */
const gc = {};
const GC_KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** The sampling heap profiler over an in-process inspector session: every allocation sampled, collected or not. */
let session;
const post = (method, params) => new Promise((ok, fail) => session.post(method, params, (err, res) => (err ? fail(err) : ok(res))));
async function allocations(req) {
  if (req.allocations === 'start') {
    session ??= new Session();
    session.connect();
    await post('HeapProfiler.enable');
    await post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  } else if (req.allocations && session) {
    const { profile } = await post('HeapProfiler.stopSampling');
    writeFileSync(req.allocations, JSON.stringify(profile));
    session.disconnect();
  }
}

function sample() {
  const spaces = {};
  for (const s of v8.getHeapSpaceStatistics()) {
    spaces[s.space_name] = { size: s.space_size, used: s.space_used_size, physical: s.physical_space_size };
  }
  return { smaps: smaps(), usage: process.memoryUsage(), heap: v8.getHeapStatistics(), spaces, gc: structuredClone(gc) };
}

if (base) {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = GC_KINDS[e.detail?.kind] ?? String(e.detail?.kind);
      const g = (gc[kind] ??= { count: 0, ms: 0 });
      g.count++;
      g.ms += e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('SIGUSR2', async () => {
    let req = {};
    try {
      req = JSON.parse(readFileSync(`${base}.req`, 'utf8'));
    } catch {
      /* no request: a sample */
    }
    const result = { before: sample() };
    if (req.allocations) {
      await allocations(req);
      result.allocations = req.allocations;
    }
    if (req.gc && typeof globalThis.gc === 'function') {
      globalThis.gc();
      globalThis.gc();
      result.afterGc = sample();
    }
    if (req.snapshot) {
      v8.writeHeapSnapshot(req.snapshot);
      result.snapshot = req.snapshot;
    }
    writeFileSync(`${base}.tmp`, JSON.stringify(result));
    renameSync(`${base}.tmp`, `${base}.json`);
  });
}
