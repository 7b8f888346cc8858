// The live view's statecharts, drawn as SVG from the machine definitions themselves (no Mermaid, no layout library
// in the page): each top-level state is a box in definition order (pending → creating → ready ⇄ degraded →
// deleting → deleted), its nested states listed inside it, and each move between top-level states one arrow —
// forward arrows above the boxes, backward ones below — titled with the events that take it. Every state is a
// `<g data-state="ready.steady">` the page highlights with the actors in it. The full diagrams (every nested
// transition with its guard) are the Mermaid files in diagrams/.
import type { AnyStateMachine, AnyStateNode } from 'xstate';

const BOX_W = 150;
const GAP = 46;
const HEAD_H = 30;
const ROW_H = 20;
const PAD = 8;
const ARC_STEP = 26;
const MARGIN = 10;

export interface ChartState {
  /** dotted path from the root: `ready`, `ready.steady`, `deleting.waiting` */
  path: string;
  /** the state's own key */
  key: string;
  depth: number;
}

export interface ChartEdge {
  from: string;
  to: string;
  /** the triggers (`DELETE`, `done createNi`, `always`, `after retryDelay`) */
  events: string[];
}

export interface ChartModel {
  machine: string;
  top: { key: string; states: ChartState[] }[];
  edges: ChartEdge[];
}

function walk(node: AnyStateNode): AnyStateNode[] {
  return [node, ...Object.values(node.states).flatMap((child) => walk(child))];
}

function trigger(node: AnyStateNode, eventType: string): string {
  const invoked = (id: string): string => {
    const inv = node.invoke.find((i) => i.id === id);
    return inv && typeof inv.src === 'string' ? inv.src : id;
  };
  if (eventType.startsWith('xstate.done.actor.')) return `done ${invoked(eventType.slice('xstate.done.actor.'.length))}`;
  if (eventType.startsWith('xstate.error.actor.')) return `error ${invoked(eventType.slice('xstate.error.actor.'.length))}`;
  if (eventType.startsWith('xstate.after.')) {
    const after = node.after.find((t) => t.eventType === eventType) as { delay?: unknown } | undefined;
    return `after ${String(after?.delay ?? eventType.slice('xstate.after.'.length))}`;
  }
  if (eventType.startsWith('xstate.done.state.')) return 'done';
  return eventType === '' ? 'always' : eventType;
}

/** The machine's top-level states, their nested states and the moves between top-level states. */
export function chartModel(machine: AnyStateMachine): ChartModel {
  const tops = Object.values(machine.root.states);
  const topOf = (n: AnyStateNode): string | undefined => n.path[0];
  const top = tops.map((t) => ({
    key: t.key,
    states: walk(t).map((n) => ({ path: n.path.join('.'), key: n.key, depth: n.path.length - 1 })),
  }));
  const edges = new Map<string, ChartEdge>();
  const add = (from: string | undefined, to: string | undefined, event: string): void => {
    if (from === undefined || to === undefined || from === to) return;
    const k = `${from}>${to}`;
    const e = edges.get(k) ?? { from, to, events: [] };
    if (!e.events.includes(event)) e.events.push(event);
    edges.set(k, e);
  };
  for (const node of walk(machine.root)) {
    const transitions: [string, { target?: readonly AnyStateNode[] | undefined }][] = [
      ...[...node.transitions].flatMap(([type, ts]) => ts.map((t): [string, typeof t] => [type, t])),
      ...(node.always ?? []).map((t): [string, typeof t] => ['', t]),
    ];
    for (const [type, t] of transitions) {
      for (const target of t.target ?? []) {
        // a handler on the root applies in every top-level state that does not handle the event itself
        const sources = node === machine.root ? tops.filter((s) => !walk(s).some((n) => n.transitions.has(type)) && s.type !== 'final') : [node];
        for (const s of sources) add(topOf(s), topOf(target), trigger(node, type));
      }
    }
  }
  return { machine: machine.id, top, edges: [...edges.values()] };
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The chart as an SVG element (no XML prolog: it is inlined in the page). */
export function chartSvg(model: ChartModel): string {
  const heights = model.top.map((t) => HEAD_H + Math.max(0, t.states.length - 1) * ROW_H + PAD);
  const boxH = Math.max(...heights, HEAD_H + PAD);
  const index = new Map(model.top.map((t, i) => [t.key, i]));
  const span = (e: ChartEdge): number => Math.abs((index.get(e.to) ?? 0) - (index.get(e.from) ?? 0));
  const forward = model.edges.filter((e) => (index.get(e.to) ?? 0) > (index.get(e.from) ?? 0));
  const backward = model.edges.filter((e) => (index.get(e.to) ?? 0) < (index.get(e.from) ?? 0));
  // arcs that overlap get different heights (shortest lowest); arcs side by side share one
  const level = (list: ChartEdge[]): Map<ChartEdge, number> => {
    const out = new Map<ChartEdge, number>();
    const taken: [number, number][][] = [];
    const sorted = [...list].sort((a, b) => span(a) - span(b) || (index.get(a.from) ?? 0) - (index.get(b.from) ?? 0));
    for (const e of sorted) {
      const a = Math.min(index.get(e.from) ?? 0, index.get(e.to) ?? 0);
      const b = Math.max(index.get(e.from) ?? 0, index.get(e.to) ?? 0);
      let l = 0;
      while ((taken[l] ?? []).some(([x, y]) => a < y && x < b)) l++;
      (taken[l] ??= []).push([a, b]);
      out.set(e, l + 1);
    }
    return out;
  };
  const up = level(forward);
  const down = level(backward);
  const levels = (m: Map<ChartEdge, number>): number => Math.max(0, ...m.values());
  const above = (levels(up) + 1) * ARC_STEP + MARGIN;
  const below = (levels(down) + 1) * ARC_STEP + MARGIN;
  const width = MARGIN * 2 + model.top.length * BOX_W + (model.top.length - 1) * GAP;
  const height = Math.ceil(above + boxH + below);
  const x0 = (i: number): number => MARGIN + i * (BOX_W + GAP);
  const cx = (i: number): number => x0(i) + BOX_W / 2;
  const id = `m-${model.machine}`;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-machine="${esc(model.machine)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="statechart of ${esc(model.machine)}">`,
  );
  parts.push(`<defs><marker id="${id}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>`);
  const arc = (e: ChartEdge, lvl: number, dir: 1 | -1): string => {
    const i = index.get(e.from) ?? 0;
    const j = index.get(e.to) ?? 0;
    // forward arrows leave from the right half of the top edge, backward ones from the left half of the bottom edge
    const off = dir === 1 ? 18 : -18;
    const x1 = cx(i) + off;
    const x2 = cx(j) - off;
    const y = dir === 1 ? above : above + boxH;
    const h = lvl * ARC_STEP * 1.2;
    const yc = dir === 1 ? y - h : y + h;
    return `<path class="edge" d="M${x1},${y} C${x1},${yc} ${x2},${yc} ${x2},${y}" marker-end="url(#${id}-arrow)" data-from="${esc(e.from)}" data-to="${esc(e.to)}"><title>${esc(`${e.from} → ${e.to}: ${e.events.sort().join(', ')}`)}</title></path>`;
  };
  for (const e of forward) parts.push(arc(e, up.get(e) ?? 1, 1));
  for (const e of backward) parts.push(arc(e, down.get(e) ?? 1, -1));
  model.top.forEach((t, i) => {
    const x = x0(i);
    const [head, ...nested] = t.states;
    if (!head) return;
    parts.push(`<g class="st top" data-state="${esc(head.path)}"><rect x="${x}" y="${above}" width="${BOX_W}" height="${boxH}" rx="10"/>`);
    parts.push(`<text x="${x + 10}" y="${above + 20}" class="name">${esc(head.key)}</text><text x="${x + BOX_W - 10}" y="${above + 20}" class="count" text-anchor="end"></text></g>`);
    nested.forEach((s, k) => {
      const y = above + HEAD_H + k * ROW_H - 4;
      const indent = (s.depth - 1) * 12;
      parts.push(
        `<g class="st sub" data-state="${esc(s.path)}"><rect x="${x + 6 + indent}" y="${y}" width="${BOX_W - 12 - indent}" height="${ROW_H - 3}" rx="5"/><text x="${x + 12 + indent}" y="${y + 13}" class="name">${esc(s.key)}</text><text x="${x + BOX_W - 12}" y="${y + 13}" class="count" text-anchor="end"></text></g>`,
      );
    });
  });
  parts.push('</svg>');
  return parts.join('');
}
