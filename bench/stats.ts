// Small numbers helpers and the printed table.

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // nearest rank
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export const round = (v: number, digits = 1): number => (Number.isFinite(v) ? Math.round(v * 10 ** digits) / 10 ** digits : v);

export interface Row {
  figure: string;
  target: string;
  value: string;
  baseline: string;
  ratio: string;
  verdict: 'pass' | 'MISS' | 'info';
}

export function formatTable(rows: readonly Row[]): string {
  const head: Row = { figure: 'figure', target: 'target', value: 'edgenet', baseline: 'baseline', ratio: 'ratio', verdict: 'info' };
  const cols: (keyof Row)[] = ['figure', 'target', 'value', 'baseline', 'ratio', 'verdict'];
  const width = (k: keyof Row): number => Math.max(...[head, ...rows].map((r) => (k === 'verdict' && r === head ? 'pass/miss' : r[k]).length));
  const cell = (r: Row, k: keyof Row): string => (k === 'verdict' && r === head ? 'pass/miss' : k === 'verdict' && r.verdict === 'info' ? '' : r[k]).padEnd(width(k));
  const line = (r: Row): string => cols.map((k) => cell(r, k)).join(' | ');
  return [line(head), cols.map((k) => '-'.repeat(width(k))).join('-|-'), ...rows.map(line)].join('\n');
}
