// The live view's one page: styles, statecharts (SVG drawn from the machines) and the script inline, under a
// nonce the Content-Security-Policy names — so the page loads nothing from anywhere, not even from this server.
import { CLIENT_SCRIPT } from './page-client.ts';

export interface PageChart {
  machine: string;
  title: string;
  svg: string;
}

export interface PageOptions {
  nonce: string;
  charts: PageChart[];
  version: string;
  /** the Stately inspector's page with its token, when --inspect runs too */
  inspectorUrl?: string;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const STYLE = `
:root { --bg: #f7f7f5; --fg: #1d2125; --muted: #6b7280; --line: #d7d9dc; --panel: #fff;
  --ready: #1f9d55; --degraded: #d97706; --pending: #6b7280; --creating: #2563eb; --deleting: #9333ea; --deleted: #9ca3af;
  --current: #e11d48; font: 13px/1.35 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
header { display: flex; gap: 16px; align-items: baseline; padding: 10px 16px; background: #1d2125; color: #f3f4f6; flex-wrap: wrap; }
header h1 { font-size: 16px; margin: 0; }
header .muted { color: #9ca3af; }
header a { color: #93c5fd; }
#conn { padding: 1px 8px; border-radius: 9px; background: #374151; }
#conn.live { background: var(--ready); }
#conn.lost { background: var(--current); }
main { padding: 12px 16px; display: grid; gap: 12px; grid-template-columns: minmax(0, 1fr); }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
section h2 { font-size: 14px; margin: 0 0 8px; display: flex; gap: 12px; align-items: baseline; flex-wrap: wrap; }
section h2 .muted, .muted { color: var(--muted); font-weight: normal; }
#summary { display: flex; gap: 18px; flex-wrap: wrap; }
#summary b { font-variant-numeric: tabular-nums; }
.charts { display: flex; gap: 12px; flex-wrap: wrap; }
.chartbox { overflow-x: auto; max-width: 100%; }
.chartbox h3 { font-size: 13px; margin: 4px 0; }
svg.chart { display: block; }
svg.chart .st rect { fill: #f3f4f6; stroke: #9ca3af; stroke-width: 1; }
svg.chart .st.sub rect { fill: #fff; }
svg.chart .st text { font-size: 12px; fill: var(--fg); }
svg.chart .st.top text.name { font-weight: 600; }
svg.chart .st text.count { fill: var(--muted); font-variant-numeric: tabular-nums; }
svg.chart .st.occupied rect { fill: #e0f2fe; stroke: #0284c7; }
svg.chart .st.current rect { stroke: var(--current); stroke-width: 3; }
svg.chart .st.current text.name { fill: var(--current); }
svg.chart .edge { fill: none; stroke: #9ca3af; stroke-width: 1.2; }
svg.chart .arrowhead { fill: #9ca3af; }
.controls { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
input[type=search], select { font: inherit; padding: 3px 6px; border: 1px solid var(--line); border-radius: 5px; background: #fff; }
.thead, .row { display: grid; grid-template-columns: minmax(160px, 1.4fr) 70px 86px minmax(160px, 2fr) minmax(180px, 2fr) minmax(120px, 1.2fr); gap: 8px; align-items: center; padding: 0 8px; }
.thead { font-weight: 600; color: var(--muted); border-bottom: 1px solid var(--line); height: 26px; }
#rows { position: relative; height: min(62vh, 640px); overflow-y: auto; contain: strict; }
#rows .spacer { width: 1px; }
.row { position: absolute; left: 0; right: 0; height: 26px; border-bottom: 1px solid #eef0f2; white-space: nowrap; cursor: pointer; }
.row > span { overflow: hidden; text-overflow: ellipsis; }
.row.ni, .row.group { background: #f3f4f6; font-weight: 600; }
.row.ep > span:first-child, .row.port > span:first-child { padding-left: 18px; }
.row.selected { outline: 2px solid var(--current); outline-offset: -2px; }
.state { display: inline-block; padding: 0 7px; border-radius: 9px; color: #fff; font-weight: 600; font-size: 12px; }
.state.ready { background: var(--ready); } .state.degraded { background: var(--degraded); } .state.pending { background: var(--pending); }
.state.creating { background: var(--creating); } .state.deleting { background: var(--deleting); } .state.deleted { background: var(--deleted); }
.reason { color: #92400e; }
.twisty { display: inline-block; width: 14px; color: var(--muted); }
#log { height: 220px; overflow-y: auto; font: 12px/1.5 ui-monospace, SFMono-Regular, Menlo, monospace; }
#log div { white-space: nowrap; }
#log .t { color: var(--muted); }
#why { background: #fff7ed; border-color: var(--degraded); }
`;

export function livePage(opts: PageOptions): string {
  const nonce = esc(opts.nonce);
  const charts = opts.charts
    .map((c) => `<div class="chartbox" data-machine="${esc(c.machine)}"><h3>${esc(c.title)} <span class="muted" data-role="selected-state"></span></h3>${c.svg}</div>`)
    .join('\n');
  const inspector = opts.inspectorUrl
    ? `<a href="${esc(opts.inspectorUrl)}" target="_blank" rel="noreferrer">Stately inspector</a>`
    : '<span class="muted">Stately inspector: off (<code>--inspect</code>)</span>';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>edgenet · live view</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header><h1>edgenet · live view</h1><span class="muted">${esc(opts.version)}</span><span id="conn">connecting…</span><span id="updated" class="muted"></span>${inspector}</header>
<main>
<section id="overview"><h2>Overview <span class="muted" id="writes"></span></h2><div id="summary"></div></section>
<section id="machines"><h2>State machines <span class="muted">each state shows how many actors are in it; the selected row's actor is outlined</span></h2><div class="charts">${charts}</div></section>
<section id="objects"><h2>Network instances, endpoints and ports
  <span class="controls"><input type="search" id="filter" placeholder="filter by name, state, address…" aria-label="filter the table"><span class="muted" id="rowcount"></span></span></h2>
  <div class="thead" role="row"><span>name</span><span>kind</span><span>state</span><span>reason</span><span>addresses</span><span>detail</span></div>
  <div id="rows" role="table" aria-label="network instances, endpoints and ports"><div class="spacer"></div></div>
</section>
<section id="transitions"><h2>Transitions
  <span class="controls"><select id="log-kind" aria-label="kind"><option value="">every kind</option><option>network</option><option>endpoint</option><option>port</option><option>device</option></select>
  <input type="search" id="log-name" placeholder="name contains…" aria-label="name filter"><span class="muted" id="logcount"></span></span></h2>
  <div id="log" aria-live="polite"></div>
</section>
</main>
<script nonce="${nonce}">${CLIENT_SCRIPT}</script>
</body>
</html>
`;
}
