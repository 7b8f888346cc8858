// The base of table `inet edgenet`: its base chains, the hook chain port forwards fill, and the audit that finds
// what does not belong there (a rule inserted into a base chain, a chain nobody of ours made). Rendering only: the
// transport and the transactions stay in firewall-nft.ts.
//
// Order in `forward`: `jump portfwd` first (a DNAT'd flow a port forward opens is accepted there before any NI's
// `oifname <bridge> drop`), then the NIs' jump rules in the order they were written. `input` holds only NI jumps:
// `iifname <bridge> jump in-<ni>` and `ip daddr <gateway> jump in-<ni>`, whose first rule drops what does not come
// from the NI's own bridge (or the device itself, on lo).
import type { NftChainRef, NftChainSpec, NftCommand, NftStatement } from './firewall-nft.ts';
import { FIREWALL_FAMILY, FIREWALL_TABLE, niOfChain } from './firewall.ts';

/** Regular chain jumped to first from `forward`: port forwards (firewall-acl) accept their DNAT'd flows in it. */
export const PORT_FORWARD_CHAIN = 'portfwd';
/** Comment of the base rules edgenet writes itself (NI jump rules carry `edgenet ni=<ni> spec=<hash>`). */
export const BASE_COMMENT = 'edgenet base';
const NI_COMMENT_RE = /^edgenet ni=([^ ]+) spec=[0-9a-f]+$/;

export const BASE_CHAINS: readonly NftChainSpec[] = [
  { family: FIREWALL_FAMILY, table: FIREWALL_TABLE, name: 'forward', type: 'filter', hook: 'forward', prio: 0, policy: 'accept' },
  { family: FIREWALL_FAMILY, table: FIREWALL_TABLE, name: 'input', type: 'filter', hook: 'input', prio: 0, policy: 'accept' },
  { family: FIREWALL_FAMILY, table: FIREWALL_TABLE, name: 'postrouting', type: 'nat', hook: 'postrouting', prio: 100, policy: 'accept' },
];
export const BASE_NAMES: ReadonlySet<string> = new Set(BASE_CHAINS.map((c) => c.name));

/**
 * Prefixes of the regular chains edgenet's modules create in the table (per-NI chains, per-endpoint ACL chains):
 * anything else is foreign. A module adding chains of its own adds its prefix here.
 */
export const OWNED_CHAIN_PREFIXES: readonly string[] = ['fwd-', 'in-', 'nat-', 'acl-', 'pf-', 'ep-'];

export function isOwnedChain(name: string): boolean {
  return BASE_NAMES.has(name) || name === PORT_FORWARD_CHAIN || OWNED_CHAIN_PREFIXES.some((p) => name.startsWith(p));
}

const jumpPortForward: NftStatement = { jump: { target: PORT_FORWARD_CHAIN } };

/** The commands that make table, base chains and the port-forward hook exist (idempotent `add`s). */
export function baseChainCommands(): NftCommand[] {
  return [
    { add: { table: { family: FIREWALL_FAMILY, name: FIREWALL_TABLE } } },
    ...BASE_CHAINS.map((chain): NftCommand => ({ add: { chain } })),
    { add: { chain: { family: FIREWALL_FAMILY, table: FIREWALL_TABLE, name: PORT_FORWARD_CHAIN } } },
  ];
}

// ---- what a listing holds (read loosely: firewall-nft parses `nft -j list table` into these) ----

type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export interface BaseListing {
  chains: { name: string; attrs: { [key: string]: JsonValue } }[];
  rules: { chain: string; handle: number; comment?: string; expr: JsonValue[] }[];
}
type Rule = BaseListing['rules'][number];

function isObject(v: unknown): v is { [key: string]: JsonValue } {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function jumpOf(rule: Rule): string | undefined {
  for (const st of rule.expr) if (isObject(st) && isObject(st.jump) && typeof st.jump.target === 'string') return st.jump.target;
  return undefined;
}

function isPortForwardJump(rule: Rule): boolean {
  return rule.chain === 'forward' && rule.comment === BASE_COMMENT && rule.expr.length === 1 && jumpOf(rule) === PORT_FORWARD_CHAIN;
}

/** An NI's jump rule: our comment, and a jump to a chain of that same NI. */
function isNiJump(rule: Rule): boolean {
  const ni = NI_COMMENT_RE.exec(rule.comment ?? '')?.[1];
  const target = jumpOf(rule);
  return ni !== undefined && target !== undefined && niOfChain(target) === ni;
}

/** A short readable form of a rule for reasons and logs (`forward: accept`, `input: ip saddr 10.0.0.1 drop`). */
function describeRule(rule: Rule): string {
  const words = rule.expr.map((st) => {
    if (!isObject(st)) return String(st);
    const [k, v] = Object.entries(st)[0] ?? ['?', null];
    if (k === 'match' && isObject(v)) return `${JSON.stringify(v.left)} ${String(v.op)} ${JSON.stringify(v.right)}`;
    if (k === 'jump' || k === 'goto') return `${k} ${isObject(v) ? String(v.target) : ''}`;
    return k;
  });
  return `${rule.chain}: ${words.join(' ')}`.slice(0, 160);
}

export interface BaseAudit {
  /** what is wrong, one sentence each (empty: intact) */
  problems: string[];
  /** the commands that repair it, in one transaction */
  repair: NftCommand[];
}

/**
 * Compares the table's base with what edgenet writes: base chains with their hook, priority and policy, the
 * port-forward hook jumped to first from `forward`, no foreign rule in a base chain, no foreign chain.
 * Per-NI chains' contents are the NIs' own audit (firewall-nft `drifted`).
 */
export function auditBase(listing: BaseListing | undefined): BaseAudit {
  if (!listing) return { problems: ['table inet edgenet is missing'], repair: [...baseChainCommands(), insertPortForwardJump()] };
  const problems: string[] = [];
  const repair: NftCommand[] = [];
  const ref = (name: string): NftChainRef => ({ family: FIREWALL_FAMILY, table: FIREWALL_TABLE, name });
  const delRule = (r: Rule): NftCommand => ({ delete: { rule: { family: FIREWALL_FAMILY, table: FIREWALL_TABLE, chain: r.chain, handle: r.handle } } });

  for (const want of BASE_CHAINS) {
    const have = listing.chains.find((c) => c.name === want.name);
    if (!have) {
      problems.push(`base chain ${want.name} is missing`);
      continue;
    }
    const diffs = (['type', 'hook', 'prio', 'policy'] as const).filter((k) => have.attrs[k] !== want[k]);
    if (diffs.length === 0) continue;
    problems.push(`base chain ${want.name} changed (${diffs.map((k) => `${k} ${JSON.stringify(have.attrs[k] ?? null)}, want ${JSON.stringify(want[k])}`).join('; ')})`);
    // a policy is changed in place; a different hook or type means the chain must be made again
    if (diffs.some((k) => k !== 'policy')) repair.push({ delete: { chain: ref(want.name) } });
  }
  if (!listing.chains.some((c) => c.name === PORT_FORWARD_CHAIN)) problems.push(`chain ${PORT_FORWARD_CHAIN} is missing`);

  const forward = listing.rules.filter((r) => r.chain === 'forward');
  const hooks = forward.filter(isPortForwardJump);
  if (hooks.length !== 1 || forward[0] !== hooks[0]) {
    problems.push(`forward does not start with jump ${PORT_FORWARD_CHAIN}`);
    repair.push(...hooks.map(delRule));
  }
  const foreignRules = listing.rules.filter((r) => BASE_NAMES.has(r.chain) && !isPortForwardJump(r) && !isNiJump(r));
  for (const r of foreignRules) problems.push(`foreign rule in base chain ${describeRule(r)}`);
  repair.push(...foreignRules.map(delRule));

  const foreignChains = listing.chains.filter((c) => !isOwnedChain(c.name)).map((c) => c.name);
  for (const name of foreignChains) problems.push(`foreign chain ${name} in table inet edgenet`);
  // rules jumping to a foreign chain from our own chains go first, else the chain cannot be deleted (EBUSY)
  const jumpers = listing.rules.filter((r) => !foreignChains.includes(r.chain) && !foreignRules.includes(r) && foreignChains.includes(jumpOf(r) ?? ''));
  repair.push(...jumpers.map(delRule));
  for (const name of foreignChains) repair.push({ flush: { chain: ref(name) } }, { delete: { chain: ref(name) } });

  if (problems.length === 0) return { problems, repair: [] };
  const hookMissing = problems.some((p) => p.startsWith('forward does not start') || p.startsWith(`base chain forward`));
  return { problems, repair: [...repair, ...baseChainCommands(), ...(hookMissing ? [insertPortForwardJump()] : [])] };
}

/** `jump portfwd` at the top of `forward` (insert without a position: before every other rule). */
export function insertPortForwardJump(): NftCommand {
  return { insert: { rule: { family: FIREWALL_FAMILY, table: FIREWALL_TABLE, chain: 'forward', expr: [jumpPortForward], comment: BASE_COMMENT } } };
}

/** The commands a transaction writing NI rules starts with: base chains, and the hook when the listing lacks it. */
export function ensureBaseCommands(listing: BaseListing | undefined): NftCommand[] {
  const hooked = listing?.rules.some(isPortForwardJump) === true;
  return [...baseChainCommands(), ...(hooked ? [] : [insertPortForwardJump()])];
}
