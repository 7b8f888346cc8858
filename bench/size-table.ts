// Markdown tables per size, printed ready to paste into README "Performance".
import type { InProcessResult } from './in-process.ts';

const ms = (v: number): string => (Number.isFinite(v) ? `${v} ms` : 'n/a');

/** One row per size: the library alone on in-memory drivers. */
export function libraryTable(results: readonly InProcessResult[]): string {
  const rows = [...results].sort((a, b) => a.endpoints - b.endpoints);
  return [
    '| endpoints | cold apply | event-loop delay p99 / max | +1 app | -1 app | no-op | remove all | stop() | heap |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.endpoints} | ${ms(r.coldApplyMs)} | ${ms(r.coldLoopLagP99Ms)} / ${ms(r.coldLoopLagMaxMs)} | ${ms(r.addAppApplyMs)} | ${ms(r.removeAppApplyMs)} | ${ms(r.noopApplyMs)} | ${ms(r.removeAllMs)} | ${ms(r.stopMs)} | ${r.heapUsedMiB} MiB |`),
  ].join('\n');
}

/** The daemon's headline figures, one row per size (from each run's results.json). */
export interface DaemonSizeRow {
  endpoints: number;
  coldMs: number;
  baselineMs: number;
  lagP99Ms: number;
  addAppMs: number;
  removeAppMs: number;
  noopMs: number;
  removeAllMs: number;
  rssMB: number;
}

export function daemonTable(rows: readonly DaemonSizeRow[]): string {
  return [
    '| endpoints | cold converge (baseline, ratio) | event-loop delay p99 | +1 app | -1 app | no-op | remove all | RSS |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.endpoints} | ${ms(r.coldMs)} (${ms(r.baselineMs)}, ${Math.round((r.coldMs / r.baselineMs) * 10) / 10}×) | ${ms(r.lagP99Ms)} | ${ms(r.addAppMs)} | ${ms(r.removeAppMs)} | ${ms(r.noopMs)} | ${ms(r.removeAllMs)} | ${r.rssMB} MB |`,
    ),
  ].join('\n');
}
