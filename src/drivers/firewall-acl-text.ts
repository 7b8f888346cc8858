// The endpoint transactions that are anti-spoofing alone (an app on a local NI without ACLs: the +1 app's case),
// written in nft's own syntax instead of JSON: nft 1.0.6 takes ~2x as long over the same commands in JSON (at 200
// endpoints 18 vs 9.5 ms of its own time, most of it filling its cache). Only the exact shapes firewall-acl.ts renders
// for `bridge edgenet` are turned into text, every value checked against what it may be; anything else (ACLs, NAT,
// the base chains) stays JSON (undefined here).
import { FIREWALL_TABLE } from './firewall.ts';
import type { Json, NftCmd } from './firewall-acl.ts';

type Obj = { [key: string]: Json };
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

const NAME_RE = /^[a-z][a-z0-9-]{0,63}$/;
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const COMMENT_RE = /^[A-Za-z0-9 =._:/-]{0,128}$/;

/** The payload matches anti-spoofing uses, and what their right side may be. */
const PAYLOADS: Readonly<Record<string, 'mac' | 'ip' | 'ethertype' | 'port'>> = {
  'ether saddr': 'mac',
  'ether type': 'ethertype',
  'arp saddr ether': 'mac',
  'arp saddr ip': 'ip',
  'ip saddr': 'ip',
  'udp sport': 'port',
};

function ipValue(v: Json): string | undefined {
  if (typeof v === 'string') return IPV4_RE.test(v) ? v : undefined;
  if (isObj(v) && isObj(v.prefix)) {
    const { addr, len } = v.prefix;
    return typeof addr === 'string' && IPV4_RE.test(addr) && typeof len === 'number' && Number.isInteger(len) && len >= 0 && len <= 32 ? `${addr}/${len}` : undefined;
  }
  return undefined;
}

function rightSide(kind: 'mac' | 'ip' | 'ethertype' | 'port', v: Json): string | undefined {
  if (kind === 'mac') return typeof v === 'string' && MAC_RE.test(v) ? v : undefined;
  if (kind === 'ethertype') return v === 'arp' || v === 'ip' ? v : undefined;
  if (kind === 'port') return typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 65536 ? String(v) : undefined;
  if (isObj(v) && Array.isArray(v.set)) {
    const items = v.set.map(ipValue);
    return items.length > 0 && items.every((i) => i !== undefined) ? `{ ${items.join(', ')} }` : undefined;
  }
  return ipValue(v);
}

function statement(e: Json): string | undefined {
  if (!isObj(e)) return undefined;
  if ('drop' in e && e.drop === null) return 'drop';
  if (typeof e.counter === 'string') return NAME_RE.test(e.counter) ? `counter name ${e.counter}` : undefined;
  const m = e.match;
  if (!isObj(m) || (m.op !== '==' && m.op !== '!=')) return undefined;
  const left = isObj(m.left) && isObj(m.left.payload) ? m.left.payload : undefined;
  if (!left || typeof left.protocol !== 'string' || typeof left.field !== 'string') return undefined;
  const what = `${left.protocol} ${left.field}`;
  const kind = PAYLOADS[what];
  if (!kind || m.right === undefined) return undefined;
  const right = rightSide(kind, m.right);
  return right === undefined ? undefined : `${what} ${m.op === '!=' ? '!= ' : ''}${right}`;
}

function line(verb: string, kind: string, o: Obj): string | undefined {
  if (o.family !== 'bridge' || o.table !== FIREWALL_TABLE) return undefined;
  const at = `bridge ${FIREWALL_TABLE}`;
  if (kind === 'rule') {
    if (verb !== 'add' || typeof o.chain !== 'string' || !NAME_RE.test(o.chain) || !Array.isArray(o.expr) || 'handle' in o) return undefined;
    const stmts = o.expr.map(statement);
    if (stmts.length === 0 || stmts.some((s) => s === undefined)) return undefined;
    const comment = o.comment === undefined ? '' : typeof o.comment === 'string' && COMMENT_RE.test(o.comment) ? ` comment "${o.comment}"` : undefined;
    return comment === undefined ? undefined : `add rule ${at} ${o.chain} ${stmts.join(' ')}${comment}`;
  }
  if (typeof o.name !== 'string' || !NAME_RE.test(o.name)) return undefined;
  if (kind === 'chain') {
    // regular chains only (a base chain's type/hook/policy stays JSON)
    if (Object.keys(o).some((k) => !['family', 'table', 'name'].includes(k))) return undefined;
    return verb === 'add' || verb === 'flush' || verb === 'delete' ? `${verb} chain ${at} ${o.name}` : undefined;
  }
  if (kind === 'counter') {
    if (Object.keys(o).some((k) => !['family', 'table', 'name'].includes(k))) return undefined;
    return verb === 'add' || verb === 'delete' ? `${verb} counter ${at} ${o.name}` : undefined;
  }
  if (kind === 'element' && Array.isArray(o.elem) && o.elem.length > 0 && (verb === 'add' || verb === 'delete')) {
    const items = o.elem.map((e) => {
      if (verb === 'delete') return typeof e === 'string' && IFNAME_RE.test(e) ? `"${e}"` : undefined;
      if (!Array.isArray(e) || e.length !== 2) return undefined;
      const [key, verdict] = e;
      const target = isObj(verdict) && isObj(verdict.jump) ? verdict.jump.target : undefined;
      return typeof key === 'string' && IFNAME_RE.test(key) && typeof target === 'string' && NAME_RE.test(target) ? `"${key}" : jump ${target}` : undefined;
    });
    return items.some((i) => i === undefined) ? undefined : `${verb} element ${at} ${o.name} { ${items.join(', ')} }`;
  }
  return undefined;
}

/** `cmds` in nft's syntax (one line each), or undefined when one of them is not an anti-spoofing command of ours. */
export function antiSpoofText(cmds: readonly NftCmd[]): string | undefined {
  const out: string[] = [];
  for (const cmd of cmds) {
    const entries = Object.entries(cmd);
    if (entries.length !== 1) return undefined;
    const [verb, body] = entries[0] as [string, NftCmd[string]];
    const objs = Object.entries(body);
    if (objs.length !== 1) return undefined;
    const [kind, o] = objs[0] as [string, Obj];
    const l = line(verb, kind, o);
    if (l === undefined) return undefined;
    out.push(l);
  }
  return out.length > 0 ? `${out.join('\n')}\n` : undefined;
}
