// `node bin/run-ts.js bench/heap-summary.ts A.heapsnapshot [B.heapsnapshot]`: what a V8 heap snapshot holds, by
// node type and constructor/name (self sizes: what the objects themselves take), largest first; with two snapshots,
// what grew from A to B (e.g. bench/memory.ts's idle and converged snapshots: what an endpoint keeps). Scripts'
// source strings are summed per script (`(source) <url>`), so module code shows as the modules it comes from.
// `heap-summary.ts X.heapprofile` (bench/memory.ts's BENCH_MEMORY_ALLOCATIONS): the sampled allocations by the
// function that made them, and by the nearest frame of edgenet's own code (dist/src, dist/machines) on their stack.
// BENCH_HEAP_TOP (40): rows printed.
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: (string[] | string)[]; edge_fields: string[]; edge_types: (string[] | string)[] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

interface Group {
  count: number;
  size: number;
}

/** Self size per group, keyed `type: name` (names of strings, numbers and arrays left out: one group each). */
function summarize(path: string): Map<string, Group> {
  const snap = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const { node_fields: nf, node_types: nt, edge_fields: ef, edge_types: _et } = snap.snapshot.meta;
  const types = nt[0] as string[];
  const width = nf.length;
  const eWidth = ef.length;
  const iType = nf.indexOf('type');
  const iName = nf.indexOf('name');
  const iSize = nf.indexOf('self_size');
  const iEdges = nf.indexOf('edge_count');
  const eName = ef.indexOf('name_or_index');
  const eTo = ef.indexOf('to_node');
  const groups = new Map<string, Group>();
  const add = (key: string, size: number): void => {
    const g = groups.get(key) ?? { count: 0, size: 0 };
    g.count++;
    g.size += size;
    groups.set(key, g);
  };
  // script names: the Script node's `name` edge is its url; its node name is only "system / Script"
  const urlOf = new Map<number, string>();
  let edge = 0;
  for (let n = 0; n < snap.nodes.length; n += width) {
    const edges = snap.nodes[n + iEdges]!;
    const name = snap.strings[snap.nodes[n + iName]!]!;
    if (name.startsWith('system / Script')) {
      let url = '';
      let source = -1;
      for (let e = edge; e < edge + edges * eWidth; e += eWidth) {
        const en = snap.strings[snap.edges[e + eName]!];
        if (en === 'name') url = snap.strings[snap.nodes[snap.edges[e + eTo]! + iName]!] ?? '';
        if (en === 'source') source = snap.edges[e + eTo]!;
      }
      if (source >= 0) urlOf.set(source, url);
    }
    edge += edges * eWidth;
  }
  for (let n = 0; n < snap.nodes.length; n += width) {
    const type = types[snap.nodes[n + iType]!]!;
    const name = snap.strings[snap.nodes[n + iName]!]!;
    const size = snap.nodes[n + iSize]!;
    const url = urlOf.get(n);
    if (url !== undefined) {
      add(`(source) ${url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/')}`, size);
      continue;
    }
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' || type === 'heap number') add(`${type}`, size);
    else if (type === 'array') add(`array ${name}`, size);
    else add(`${type}: ${name.length > 80 ? `${name.slice(0, 77)}...` : name}`, size);
  }
  return groups;
}

const TOP = Number(process.env.BENCH_HEAP_TOP ?? 40);
const kib = (n: number): string => `${(n / 1024).toFixed(0)} KiB`.padStart(10);

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

function allocationReport(path: string, top: number): void {
  const { head } = JSON.parse(readFileSync(path, 'utf8')) as { head: ProfileNode };
  const bySelf = new Map<string, number>();
  const byOwn = new Map<string, number>();
  let total = 0;
  const short = (url: string): string => url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/');
  const frame = (n: ProfileNode): string => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const walk = (n: ProfileNode, own: string | undefined): void => {
    const mine = /\/dist\/(src|machines)\//.test(n.callFrame.url) ? frame(n) : own;
    if (n.selfSize > 0) {
      total += n.selfSize;
      bySelf.set(frame(n), (bySelf.get(frame(n)) ?? 0) + n.selfSize);
      const k = mine ?? '(no edgenet frame)';
      byOwn.set(k, (byOwn.get(k) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, mine);
  };
  walk(head, undefined);
  const show = (title: string, m: Map<string, number>): void => {
    console.log(`\n${title}`);
    for (const [k, v] of [...m].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`${kib(v)} ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
  };
  console.log(`${path}: ${kib(total)} allocated (sampled)`);
  show('by allocating function', bySelf);
  show("by the nearest frame of edgenet's code", byOwn);
}

const [a, b] = process.argv.slice(2);
if (!a) {
  console.error('usage: heap-summary.ts A.heapsnapshot [B.heapsnapshot] | X.heapprofile');
  process.exit(1);
}
if (a.endsWith('.heapprofile')) {
  allocationReport(a, TOP);
  process.exit(0);
}
const ga = summarize(a);
const total = (g: Map<string, Group>): number => [...g.values()].reduce((s, x) => s + x.size, 0);
if (!b) {
  console.log(`${a}: ${kib(total(ga))} in ${[...ga.values()].reduce((s, x) => s + x.count, 0)} objects`);
  for (const [k, g] of [...ga].sort((x, y) => y[1].size - x[1].size).slice(0, TOP)) console.log(`${kib(g.size)} ${String(g.count).padStart(8)}  ${k}`);
} else {
  const gb = summarize(b);
  console.log(`${a} → ${b}: ${kib(total(ga))} → ${kib(total(gb))}`);
  const keys = new Set([...ga.keys(), ...gb.keys()]);
  const rows = [...keys].map((k) => ({ k, d: (gb.get(k)?.size ?? 0) - (ga.get(k)?.size ?? 0), dc: (gb.get(k)?.count ?? 0) - (ga.get(k)?.count ?? 0) }));
  for (const r of rows.sort((x, y) => y.d - x.d).slice(0, TOP)) console.log(`${kib(r.d)} ${String(r.dc).padStart(8)}  ${r.k}`);
}
