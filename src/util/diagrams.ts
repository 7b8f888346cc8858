// Mermaid state diagrams generated from the machine definitions themselves (`npm run diagrams`), so the pictures in
// the docs cannot drift from the statecharts: a unit test compares the committed files with what this generates.
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { deviceMachine } from '../../machines/device.machine.ts';
import { endpointMachine } from '../../machines/endpoint.machine.ts';
import { networkInstanceMachine } from '../../machines/network-instance.machine.ts';
import { systemMachine } from '../../machines/system.machine.ts';

interface Edge {
  source: AnyStateNode;
  target: AnyStateNode;
  label: string;
}

interface Guardish {
  type?: unknown;
  name?: unknown;
  guards?: unknown;
}

/** `hasProblems`, `not(failed)`, `and(a, b)`; inline guards by function name. */
function guardText(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  if (guard && (typeof guard === 'object' || typeof guard === 'function')) {
    const g = guard as Guardish;
    if (typeof g.type === 'string') return g.type;
    const name = typeof g.name === 'string' && g.name !== '' ? g.name : 'guard';
    return Array.isArray(g.guards) ? `${name}(${g.guards.map(guardText).join(', ')})` : name;
  }
  return 'guard';
}

function delayText(delay: unknown): string {
  return typeof delay === 'number' ? `${delay}ms` : String(delay);
}

function invokeName(node: AnyStateNode, invokeId: string): string {
  const inv = node.invoke.find((i) => i.id === invokeId);
  if (!inv) return invokeId;
  return typeof inv.src === 'string' ? inv.src : invokeId;
}

/** What triggers a transition, in the words of the machine's source: event, `always`, `after d`, `done x`, `error x`. */
function triggerText(node: AnyStateNode, eventType: string): string {
  const done = /^xstate\.done\.actor\.(.+)$/.exec(eventType);
  if (done?.[1] !== undefined) return `done ${invokeName(node, done[1])}`;
  const error = /^xstate\.error\.actor\.(.+)$/.exec(eventType);
  if (error?.[1] !== undefined) return `error ${invokeName(node, error[1])}`;
  if (eventType.startsWith('xstate.after.')) {
    const after = node.after.find((t) => t.eventType === eventType) as { delay?: unknown } | undefined;
    return `after ${delayText(after?.delay ?? eventType.slice('xstate.after.'.length))}`;
  }
  if (eventType.startsWith('xstate.done.state.')) return 'done';
  return eventType;
}

/** Every state node under `node`, in document order (node first). */
function walk(node: AnyStateNode): AnyStateNode[] {
  return [node, ...Object.values(node.states).flatMap((child) => walk(child))];
}

function isAncestor(a: AnyStateNode, b: AnyStateNode): boolean {
  for (let n: AnyStateNode | undefined = b.parent; n; n = n.parent) if (n === a) return true;
  return false;
}

/** Does `node` or a state inside it handle `eventType` itself (so a handler further out never sees it there)? */
function handles(node: AnyStateNode, eventType: string): boolean {
  return walk(node).some((n) => n.transitions.has(eventType));
}

/**
 * A transition of an atomic state back to itself without `reenter`: it does not leave the state (no exit, no entry,
 * its actors keep running), so it is listed with the events the state stays on rather than drawn as a loop. With
 * `reenter: true` it restarts the state (and what it invokes): an arrow.
 */
function isSelfLoop(node: AnyStateNode, target: AnyStateNode, transition: { reenter?: boolean }): boolean {
  return target === node && transition.reenter !== true && Object.keys(node.states).length === 0 && node.parent !== undefined;
}

/** Events the state handles without leaving it (actions only, or back to itself), by their trigger text and guard. */
function staysOn(node: AnyStateNode): string[] {
  const out = new Set<string>();
  const add = (trigger: string, guard: unknown): void => void out.add(guard === undefined ? trigger : `${trigger} [${guardText(guard)}]`);
  for (const [eventType, transitions] of node.transitions) {
    for (const t of transitions) {
      if (t.target === undefined || t.target.every((x) => isSelfLoop(node, x, t))) add(triggerText(node, eventType), t.guard);
    }
  }
  for (const t of node.always ?? []) if (t.target !== undefined && t.target.every((x) => isSelfLoop(node, x, t))) add('always', t.guard);
  return [...out].sort();
}

/** Words joined by `, ` into lines of at most `width` characters, for a state's label. */
function wrap(prefix: string, words: readonly string[], width = 44): string[] {
  const lines: string[] = [];
  let line = prefix;
  for (const [i, w] of words.entries()) {
    const piece = `${w}${i < words.length - 1 ? ',' : ''}`;
    if (line !== prefix && line.length + 1 + piece.length > width) {
      lines.push(line);
      line = piece;
    } else line = line === prefix ? `${prefix} ${piece}` : `${line} ${piece}`;
  }
  lines.push(line);
  return lines;
}

function edgesOf(node: AnyStateNode): Edge[] {
  const edges: Edge[] = [];
  const add = (eventType: string, label: string, transition: { target?: readonly AnyStateNode[] | undefined; guard?: unknown; reenter?: boolean }): void => {
    const text = transition.guard === undefined ? label : `${label} [${guardText(transition.guard)}]`;
    // targetless transitions only run actions, and an atomic state's transitions back to itself do not leave it:
    // neither is an arrow (both are listed in the state's label)
    for (const target of transition.target ?? []) {
      if (isSelfLoop(node, target, transition)) continue;
      // Mermaid cannot draw an arrow from the whole machine, nor from a composite state into itself: a handler there
      // applies in each child state that does not handle the event itself, so it is drawn from those
      if ((node.parent === undefined || isAncestor(node, target)) && node.type !== 'parallel') {
        for (const child of Object.values(node.states)) {
          if (child.type === 'final' || handles(child, eventType) || child === target || isAncestor(child, target)) continue;
          edges.push({ source: child, target, label: text });
        }
      } else edges.push({ source: node, target, label: text });
    }
  };
  for (const [eventType, transitions] of node.transitions) {
    for (const t of transitions) add(eventType, triggerText(node, eventType), t);
  }
  for (const t of node.always ?? []) add('', 'always', t);
  return edges;
}

function lowestCommonAncestor(a: AnyStateNode, b: AnyStateNode): AnyStateNode | undefined {
  const above = (n: AnyStateNode): AnyStateNode[] => {
    const out: AnyStateNode[] = [];
    for (let p: AnyStateNode | undefined = n.parent; p; p = p.parent) out.push(p);
    return out;
  };
  const bAbove = new Set(above(b));
  return above(a).find((p) => bAbove.has(p));
}

/**
 * One Mermaid `stateDiagram-v2` for a machine: states nested as in the machine (parallel regions split by `--`),
 * initial and final markers, one arrow per transition with a target, labelled with its event (`always`,
 * `after <delay>`, `done <actor>`, `error <actor>` for eventless, delayed and invoke transitions) and its guard in
 * brackets. Each state lists the actors it invokes and the events it handles without leaving (`stays on`); those
 * the machine handles everywhere go in a note. States keep their definition order; arrows and lists are sorted.
 */
export function machineToMermaid(machine: AnyStateMachine, opts: MermaidOptions = {}): string {
  const root = machine.root;
  const overview = opts.overview === true;
  /** the top-level state a node is in (itself at the top) */
  const topOf = (n: AnyStateNode): AnyStateNode => {
    let t = n;
    while (t.parent && t.parent !== root) t = t.parent;
    return t;
  };
  const nodes = walk(root).slice(1);
  const order = new Map(nodes.map((n, i) => [n, i]));

  // Mermaid ids are global: a state's own name when it is unique in the machine, else its path
  const keyCount = new Map<string, number>();
  for (const n of nodes) keyCount.set(n.key, (keyCount.get(n.key) ?? 0) + 1);
  const idOf = (n: AnyStateNode): string => ((keyCount.get(n.key) ?? 0) > 1 ? n.path.join('_') : n.key).replace(/[^A-Za-z0-9_]/g, '_');

  // each arrow goes in the block of the innermost state that holds both ends
  const edgesIn = new Map<AnyStateNode, Edge[]>();
  for (const node of walk(root)) {
    for (const found of edgesOf(node)) {
      // the overview folds nested states into their top-level state: arrows inside one of them go
      let edge = found;
      if (overview) {
        edge = { ...found, source: topOf(found.source), target: topOf(found.target) };
        if (edge.source === edge.target && found.source !== found.target) continue;
      }
      const holder =
        edge.source === edge.target || isAncestor(edge.source, edge.target)
          ? (edge.source.parent ?? root)
          : (lowestCommonAncestor(edge.source, edge.target) ?? root);
      edgesIn.set(holder, [...(edgesIn.get(holder) ?? []), edge]);
    }
  }
  const edgeKey = (e: Edge): [number, string, number] => [order.get(e.source) ?? -1, e.label, order.get(e.target) ?? -1];
  const byKey = (a: Edge, b: Edge): number => {
    const [as, al, at] = edgeKey(a);
    const [bs, bl, bt] = edgeKey(b);
    return as - bs || (al < bl ? -1 : al > bl ? 1 : 0) || at - bt;
  };
  /** One arrow per source and target, its triggers one per line (in the order arrows are sorted). */
  const merged = (edges: readonly Edge[]): Edge[] => {
    const out: Edge[] = [];
    for (const e of [...edges].sort(byKey)) {
      const same = out.find((o) => o.source === e.source && o.target === e.target);
      if (same) same.label = `${same.label}<br/>${e.label}`;
      else out.push({ ...e });
    }
    return out.sort((a, b) => (order.get(a.source) ?? -1) - (order.get(b.source) ?? -1) || (order.get(a.target) ?? -1) - (order.get(b.target) ?? -1));
  };

  const lines: string[] = [];
  const block = (parent: AnyStateNode, indent: string): void => {
    const children = Object.values(parent.states);
    const regions = parent.type === 'parallel';
    children.forEach((child, i) => {
      if (regions && i > 0) lines.push(`${indent}--`);
      const id = idOf(child);
      const invoked = [...new Set(child.invoke.map((inv) => invokeName(child, inv.id)))].sort();
      const stays = overview ? [] : staysOn(child);
      const about = [...(invoked.length > 0 ? wrap('invokes', invoked) : []), ...(stays.length > 0 ? wrap('stays on', stays) : [])];
      const composite = !overview && Object.keys(child.states).length > 0;
      // the state's name always comes first in its box: Mermaid draws a lone description instead of the name
      if (!composite && about.length > 0) lines.push(`${indent}state "${[child.key, ...about].join('<br/>')}" as ${id}`);
      else if (id !== child.key) lines.push(`${indent}state "${child.key}" as ${id}`);
      if (composite) {
        lines.push(`${indent}state ${id} {`);
        block(child, `${indent}  `);
        lines.push(`${indent}}`);
        // a composite state's box holds its children: what it invokes and stays on goes in a note
        if (about.length > 0) lines.push(`${indent}note right of ${id} : ${about.join('<br/>')}`);
      }
    });
    const initial = parent.type === 'compound' ? parent.initial.target : [];
    for (const t of initial) lines.push(`${indent}[*] --> ${idOf(t)}`);
    const anywhere = parent === root && !overview ? staysOn(root) : [];
    const first = initial[0] ?? children[0];
    if (anywhere.length > 0 && first) lines.push(`${indent}note left of ${idOf(first)} : ${wrap('in every state, stays on', anywhere).join('<br/>')}`);
    for (const edge of merged(edgesIn.get(parent) ?? [])) {
      lines.push(`${indent}${idOf(edge.source)} --> ${idOf(edge.target)} : ${edge.label}`);
    }
    for (const child of children) if (child.type === 'final') lines.push(`${indent}${idOf(child)} --> [*]`);
  };

  lines.push('stateDiagram-v2');
  lines.push(`  %% machine "${machine.id}"${overview ? ' (overview: top-level states, nested ones folded in, no events that stay)' : ''}, generated by \`npm run diagrams\` from its definition: do not edit`);
  block(root, '  ');
  return `${lines.join('\n')}\n`;
}

export interface MermaidOptions {
  /**
   * Only the top-level states, each with what it invokes: nested states are folded into theirs (arrows between them
   * are left out, arrows from them start at their top-level state) and events a state stays on are not listed.
   */
  overview?: boolean;
}

export interface DiagramSource {
  /** file name without extension: `diagrams/<name>.mmd` */
  name: string;
  /** one line for the index */
  title: string;
  /** where the machine is defined, relative to the repository */
  source: string;
  machine: AnyStateMachine;
  /** draw the overview (see MermaidOptions), for a machine whose full diagram does not read at a glance */
  overview?: boolean;
}

/** The files `npm run diagrams` writes: one `.mmd` per machine and a README.md that embeds them all. */
export function diagramFiles(sources: readonly DiagramSource[]): Map<string, string> {
  const files = new Map<string, string>();
  const readme: string[] = [
    '# State diagrams',
    '',
    '<!-- generated by `npm run diagrams` from the machine definitions: do not edit -->',
    '',
    'Generated from the machines themselves: arrows are labelled with the event (`always`: eventless,',
    '`after <delay>`: timer, `done <actor>` / `error <actor>`: an invoked actor finished or failed) and the guard in',
    'brackets. A unit test fails when these files differ from what the machines generate: run `npm run diagrams`,',
    'then `npm run diagrams:svg` (Mermaid in headless Chromium) for the SVGs.',
    '',
  ];
  for (const s of sources) {
    const mermaid = machineToMermaid(s.machine, { overview: s.overview === true });
    files.set(`${s.name}.mmd`, mermaid);
    readme.push(`## ${s.title}`, '', `[\`${s.name}.mmd\`](${s.name}.mmd) ([SVG](${s.name}.svg)), from [\`${s.source}\`](../${s.source}).`, '', '```mermaid', mermaid.trimEnd(), '```', '');
  }
  files.set('README.md', `${readme.join('\n').trimEnd()}\n`);
  return files;
}

/** edgenet's machines, in the order the README presents them. */
export const EDGENET_DIAGRAMS: readonly DiagramSource[] = [
  { name: 'system', title: 'System actor (root: spawns and orders NIs and members)', source: 'machines/system.machine.ts', machine: systemMachine },
  { name: 'network-instance', title: 'Network instance', source: 'machines/network-instance.machine.ts', machine: networkInstanceMachine },
  { name: 'endpoint-overview', title: 'Endpoint (veth, tap) and port, at a glance: its top-level states', source: 'machines/endpoint.machine.ts', machine: endpointMachine, overview: true },
  { name: 'endpoint', title: 'Endpoint (veth, tap) and port, in full', source: 'machines/endpoint.machine.ts', machine: endpointMachine },
  { name: 'device', title: 'Device (the table base and ip_forward, which no single NI owns)', source: 'machines/device.machine.ts', machine: deviceMachine },
];
