// Reads the daemon's `node --cpu-prof` profile and tells where the CPU went in each phase of the bench. Sample
// times are V8 TimeTicks (CLOCK_MONOTONIC, µs) — the clock of process.hrtime in the bench — so a phase's window
// taken with hrtime in the bench selects the daemon's samples of that phase.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..');

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface PhaseWindow {
  phase: string;
  /** CLOCK_MONOTONIC µs */
  fromUs: number;
  toUs: number;
}

export interface Hot {
  name: string;
  ms: number;
  pct: number;
}

export interface PhaseProfile {
  phase: string;
  /** CPU time in the phase (samples that were not idle) */
  busyMs: number;
  wallMs: number;
  selfTop: Hot[];
  inclusiveTop: Hot[];
  /** inclusive time of edgenet's own functions (src/, machines/) */
  ownTop: Hot[];
  byArea: Hot[];
}

/** CLOCK_MONOTONIC in µs, the profile's clock. */
export function monoUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

function label(cf: CallFrame): string {
  const url = cf.url.startsWith('file://') ? relative(REPO, cf.url.slice(7)) : cf.url;
  const fn = cf.functionName || '(anonymous)';
  // tsx-compiled sources have no useful line numbers in the profile (no source maps applied): name only
  return url ? `${fn} ${url.replace(/^node_modules\//, 'nm/')}${cf.lineNumber > 0 ? `:${cf.lineNumber + 1}` : ''}` : fn;
}

function area(cf: CallFrame): string {
  const url = cf.url.startsWith('file://') ? relative(REPO, cf.url.slice(7)) : cf.url;
  if (!url) return cf.functionName.startsWith('(') ? cf.functionName : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return `nm:${nm[1]}`;
  if (url.startsWith('node:')) return 'node:internal';
  return url;
}

export async function readProfiles(dir: string): Promise<CpuProfile[]> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.cpuprofile')).sort();
  return Promise.all(files.map(async (f) => JSON.parse(await readFile(join(dir, f), 'utf8')) as CpuProfile));
}

/** Per phase: self time by function, inclusive time by function, self time by file/package. */
export function summarize(profiles: CpuProfile[], windows: PhaseWindow[], top = 12): PhaseProfile[] {
  const out: PhaseProfile[] = [];
  // windows with the same phase name make one phase (e.g. each push call of a series)
  const phases = new Map<string, PhaseWindow[]>();
  for (const w of windows) phases.set(w.phase, [...(phases.get(w.phase) ?? []), w]);
  for (const [phase, ws] of phases) {
    const inside = (t: number): boolean => ws.some((w) => t >= w.fromUs && t <= w.toUs);
    const w = { phase, fromUs: Math.min(...ws.map((x) => x.fromUs)), toUs: Math.max(...ws.map((x) => x.toUs)) };
    const self = new Map<string, number>();
    const incl = new Map<string, number>();
    const areas = new Map<string, number>();
    let busy = 0;
    let sampled = false;
    for (const p of profiles) {
      if (p.endTime < w.fromUs || p.startTime > w.toUs) continue;
      sampled = true;
      const byId = new Map(p.nodes.map((n) => [n.id, n]));
      const parent = new Map<number, number>();
      for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
      let t = p.startTime;
      for (let i = 0; i < p.samples.length; i++) {
        const dt = p.timeDeltas[i] ?? 0;
        t += dt;
        if (!inside(t)) continue;
        const node = byId.get(p.samples[i]!);
        if (!node || node.callFrame.functionName === '(idle)') continue;
        // a sample stands for the interval since the previous one
        const ms = Math.min(dt, 10_000) / 1000;
        busy += ms;
        const l = label(node.callFrame);
        self.set(l, (self.get(l) ?? 0) + ms);
        const a = area(node.callFrame);
        areas.set(a, (areas.get(a) ?? 0) + ms);
        const seen = new Set<string>();
        for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
          const n = byId.get(id);
          if (!n) break;
          const nl = label(n.callFrame);
          if (seen.has(nl) || nl === '(root)') continue;
          seen.add(nl);
          incl.set(nl, (incl.get(nl) ?? 0) + ms);
        }
      }
    }
    if (!sampled) continue;
    const rank = (m: Map<string, number>, n: number, skip: (k: string) => boolean = () => false): Hot[] =>
      [...m]
        .filter(([k]) => !skip(k))
        .sort((a, b) => b[1] - a[1])
        .slice(0, n)
        .map(([name, ms]) => ({ name, ms: Math.round(ms), pct: busy > 0 ? Math.round((1000 * ms) / busy) / 10 : 0 }));
    out.push({
      phase: w.phase,
      busyMs: Math.round(busy),
      wallMs: Math.round(ws.reduce((a, x) => a + x.toUs - x.fromUs, 0) / 1000),
      selfTop: rank(self, top),
      // inclusive: the interesting frames are ours (src/, machines/) and the libraries' entry points
      inclusiveTop: rank(incl, top, (k) => /^\(|processTicksAndRejections|listOnTimeout|runMicrotasks|emit |^(anonymous) node:/.test(k)),
      ownTop: rank(incl, top, (k) => !/ (dist\/)?(src|machines)\//.test(k)),
      byArea: rank(areas, top),
    });
  }
  return out;
}

export function formatProfile(p: PhaseProfile): string {
  const lines = [`-- ${p.phase}: ${p.busyMs} ms CPU in ${p.wallMs} ms wall (daemon)`];
  lines.push('   self time by file/package:');
  for (const h of p.byArea.slice(0, 8)) lines.push(`     ${String(h.ms).padStart(7)} ms ${String(h.pct).padStart(5)}%  ${h.name}`);
  lines.push('   self time by function:');
  for (const h of p.selfTop.slice(0, 10)) lines.push(`     ${String(h.ms).padStart(7)} ms ${String(h.pct).padStart(5)}%  ${h.name}`);
  lines.push('   inclusive time by function:');
  for (const h of p.inclusiveTop.slice(0, 8)) lines.push(`     ${String(h.ms).padStart(7)} ms ${String(h.pct).padStart(5)}%  ${h.name}`);
  lines.push("   inclusive time of edgenet's own functions:");
  for (const h of p.ownTop.slice(0, 12)) lines.push(`     ${String(h.ms).padStart(7)} ms ${String(h.pct).padStart(5)}%  ${h.name}`);
  return lines.join('\n');
}
