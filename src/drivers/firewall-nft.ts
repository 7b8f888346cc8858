// Firewall driver over `nft -j -f -`: every rule lives in table `inet edgenet`, one atomic transaction per change.
//
// Layout: base chains `forward`, `input` (filter, policy accept: foreign traffic is not ours) and `postrouting`
// (nat, srcnat). Each NI owns three regular chains `fwd-<ni>`, `in-<ni>`, `nat-<ni>`, reached from the base chains
// by jump rules that match its bridge (or subnet) and carry the comment `edgenet ni=<ni> spec=<hash>`. Ensuring or
// removing an NI touches only its chains and its jump rules (found by their jump target in a JSON listing).
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { EdgenetLogger as Logger } from '../util/logger.ts';
import { KernelError } from '../errors.ts';
import { BASE_NAMES, auditBase, ensureBaseCommands } from './firewall-base.ts';
import { FIREWALL_FAMILY, FIREWALL_TABLE, canonicalJson, niChainNames, niOfChain, uplinkIfnames } from './firewall.ts';
import type { BaseChain, Firewall, NiRules, RulesetView } from './firewall.ts';
import { serialQueue } from '../runtime/serial-queue.ts';
import { NftEndpointRules } from './firewall-acl-nft.ts';
import { NftMonitor, type NftChange } from './nft-monitor.ts';
import { tap, type Observable } from 'rxjs';
import type { AclRuleStatus, EndpointRules } from './firewall-acl.ts';
import { runCommand, type CommandResult } from './run-command.ts';
import { createNftRunner, type NftRun } from './nft-runner.ts';
import { WriteCounter } from './write-counter.ts';

export interface NftFirewallOptions {
  /** command prefix, e.g. `['ip', 'netns', 'exec', 'ent-x-dev']`; empty: run in this process's namespace */
  exec?: string[];
  logger?: Logger;
  /** shared counter (so a whole system can report "a flap cost 0 writes") */
  writes?: WriteCounter;
}

// ---- nft JSON: the subset edgenet writes (libnftables-json(5)) ----

type Family = typeof FIREWALL_FAMILY;
export type NftExpr =
  | string
  | number
  | string[]
  | { meta: { key: 'iifname' | 'oifname' } }
  | { payload: { protocol: 'ip' | 'udp' | 'tcp' | 'icmp'; field: 'saddr' | 'daddr' | 'dport' | 'type' } }
  | { prefix: { addr: string; len: number } }
  | { ct: { key: 'state' } };
export type NftStatement =
  | { match: { op: '==' | '!=' | 'in'; left: NftExpr; right: NftExpr } }
  | { accept: null }
  | { drop: null }
  | { masquerade: null }
  | { jump: { target: string } };
export interface NftTableRef {
  family: Family;
  name: string;
}
export interface NftChainRef {
  family: Family;
  table: string;
  name: string;
}
export interface NftChainSpec extends NftChainRef {
  type?: 'filter' | 'nat';
  hook?: BaseChain;
  prio?: number;
  policy?: 'accept';
}
export interface NftRuleSpec {
  family: Family;
  table: string;
  chain: string;
  expr: NftStatement[];
  comment?: string;
}
export interface NftRuleRef {
  family: Family;
  table: string;
  chain: string;
  handle: number;
}
export type NftCommand =
  | { add: { table: NftTableRef } | { chain: NftChainSpec } | { rule: NftRuleSpec } }
  | { insert: { rule: NftRuleSpec } }
  | { flush: { chain: NftChainRef } }
  | { delete: { table: NftTableRef } | { chain: NftChainRef } | { rule: NftRuleRef } };

// ---- nft JSON: what `nft -j list table` answers (read loosely, compared canonically) ----

type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
interface ListedChain {
  name: string;
  /** everything but the handle, for digests */
  attrs: { [key: string]: JsonValue };
}
interface ListedRule {
  chain: string;
  handle: number;
  comment?: string;
  expr: JsonValue[];
}
interface Listing {
  chains: ListedChain[];
  rules: ListedRule[];
}

import { METADATA_ADDRESS, METADATA_PORT } from '../services/metadata-address.ts';

const TABLE: NftTableRef = { family: FIREWALL_FAMILY, name: FIREWALL_TABLE };

const chainRef = (name: string): NftChainRef => ({ family: FIREWALL_FAMILY, table: FIREWALL_TABLE, name });
const meta = (key: 'iifname' | 'oifname', ifname: string): NftStatement => ({ match: { op: '==', left: { meta: { key } }, right: ifname } });
const ctEstablished: NftStatement = { match: { op: 'in', left: { ct: { key: 'state' } }, right: ['established', 'related'] } };
const accept: NftStatement = { accept: null };
const drop: NftStatement = { drop: null };

function ipMatch(field: 'saddr' | 'daddr', cidrOrIp: string): NftStatement {
  const [addr, len] = cidrOrIp.split('/');
  const right: NftExpr = len === undefined ? cidrOrIp : { prefix: { addr: addr ?? '', len: Number(len) } };
  return { match: { op: '==', left: { payload: { protocol: 'ip', field } }, right } };
}
function dport(protocol: 'udp' | 'tcp', port: number): NftStatement {
  return { match: { op: '==', left: { payload: { protocol, field: 'dport' } }, right: port } };
}

interface NiRuleset {
  chains: { fwd: NftStatement[][]; in: NftStatement[][]; nat: NftStatement[][] };
  jumps: { chain: BaseChain; expr: NftStatement[] }[];
  comment: string;
}

/** The desired rules of one NI (see DESIGN §5). */
function niRuleset(ni: NiRules): NiRuleset {
  const br = ni.bridge;
  const ports = uplinkIfnames(ni);
  const names = niChainNames(ni.name);
  const fwd: NftStatement[][] = [
    // endpoints of the same NI (bridged frames arrive here when br_netfilter is on)
    [meta('iifname', br), meta('oifname', br), accept],
    ...ports.map((port) => [meta('iifname', br), meta('oifname', port), accept]),
    [meta('oifname', br), ctEstablished, accept],
    // nothing opens a connection in: not from the port, not from another NI
    [meta('oifname', br), drop],
    // and apps go nowhere but their NI and its port
    [meta('iifname', br), drop],
  ];
  const input: NftStatement[][] = [
    // the gateway answers only its own bridge (and the device itself): not the uplink, not another NI's apps
    [{ match: { op: '!=', left: { meta: { key: 'iifname' } }, right: br } }, { match: { op: '!=', left: { meta: { key: 'iifname' } }, right: 'lo' } }, drop],
    // replies to connections the device itself opened towards its apps
    [ctEstablished, accept],
    [dport('udp', 67), accept],
    [ipMatch('daddr', ni.gateway), dport('udp', 53), accept],
    [ipMatch('daddr', ni.gateway), dport('tcp', 53), accept],
    [ipMatch('daddr', ni.gateway), { match: { op: '==', left: { payload: { protocol: 'icmp', field: 'type' } }, right: 'echo-request' } }, accept],
    // the metadata service (src/services/metadata-service.ts): 169.254.169.254 is the device's own, HTTP only
    [ipMatch('daddr', METADATA_ADDRESS), dport('tcp', METADATA_PORT), accept],
    [drop],
  ];
  const nat: NftStatement[][] = ports.map((port) => [meta('oifname', port), { masquerade: null }]);
  return {
    chains: { fwd, in: input, nat },
    jumps: [
      { chain: 'forward', expr: [meta('iifname', br), { jump: { target: names.fwd } }] },
      { chain: 'forward', expr: [meta('oifname', br), { jump: { target: names.fwd } }] },
      { chain: 'input', expr: [meta('iifname', br), { jump: { target: names.in } }] },
      { chain: 'input', expr: [ipMatch('daddr', ni.gateway), { jump: { target: names.in } }] },
      { chain: 'postrouting', expr: [ipMatch('saddr', ni.subnet), { jump: { target: names.nat } }] },
    ],
    comment: `edgenet ni=${ni.name} spec=${specHash(ni)}`,
  };
}

const sha = (s: string, chars = 64): string => createHash('sha256').update(s).digest('hex').slice(0, chars);

/** Identity of the desired state of an NI (goes into the jump rules' comment, so a restart can adopt them). */
export function specHash(ni: NiRules): string {
  // one port hashes as it always did (rules of a running NI are adopted across an upgrade)
  const uplinks = ni.ports ? { ports: ni.ports.map((p) => p.ifname) } : { port: ni.port?.ifname ?? null };
  return sha(canonicalJson({ bridge: ni.bridge, subnet: ni.subnet, gateway: ni.gateway, ...uplinks }), 12);
}

// ---- reading a listing ----

function isObject(v: unknown): v is { [key: string]: JsonValue } {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function parseListing(stdout: string): Listing {
  const doc: unknown = JSON.parse(stdout);
  const items = isObject(doc) && Array.isArray(doc.nftables) ? doc.nftables : [];
  const listing: Listing = { chains: [], rules: [] };
  for (const item of items) {
    if (!isObject(item)) continue;
    const chain = item.chain;
    if (isObject(chain) && chain.table === FIREWALL_TABLE && chain.family === FIREWALL_FAMILY && typeof chain.name === 'string') {
      const { handle: _h, ...attrs } = chain;
      listing.chains.push({ name: chain.name, attrs });
    }
    const rule = item.rule;
    if (isObject(rule) && rule.table === FIREWALL_TABLE && rule.family === FIREWALL_FAMILY && typeof rule.chain === 'string') {
      listing.rules.push({
        chain: rule.chain,
        handle: typeof rule.handle === 'number' ? rule.handle : -1,
        ...(typeof rule.comment === 'string' ? { comment: rule.comment } : {}),
        expr: Array.isArray(rule.expr) ? rule.expr : [],
      });
    }
  }
  return listing;
}

/**
 * What a transaction wrote, as `nft --echo --handle -j` printed it: the chains it added and the rules it added (the
 * kernel's rendering, with handles). Undefined when the echo does not hold one rule per added rule.
 */
function echoListing(stdout: string, commands: readonly NftCommand[]): Listing | undefined {
  const added = commands.filter((c) => ('add' in c && 'rule' in c.add) || 'insert' in c).length;
  let items: unknown[];
  try {
    const doc: unknown = JSON.parse(stdout);
    items = isObject(doc) && Array.isArray(doc.nftables) ? doc.nftables : [];
  } catch {
    return undefined;
  }
  const rules: ListedRule[] = [];
  for (const item of items) {
    if (!isObject(item)) continue;
    const body = isObject(item.add) ? item.add : isObject(item.insert) ? item.insert : undefined;
    const rule = body?.rule;
    if (!isObject(rule) || rule.table !== FIREWALL_TABLE || rule.family !== FIREWALL_FAMILY || typeof rule.chain !== 'string' || typeof rule.handle !== 'number') continue;
    rules.push({ chain: rule.chain, handle: rule.handle, ...(typeof rule.comment === 'string' ? { comment: rule.comment } : {}), expr: Array.isArray(rule.expr) ? rule.expr : [] });
  }
  if (rules.length !== added) return undefined;
  const chains: ListedChain[] = [];
  for (const c of commands) if ('add' in c && 'chain' in c.add) chains.push({ name: c.add.chain.name, attrs: {} });
  return { chains, rules };
}

function jumpTarget(rule: ListedRule): string | undefined {
  for (const st of rule.expr) {
    if (isObject(st) && isObject(st.jump) && typeof st.jump.target === 'string') return st.jump.target;
  }
  return undefined;
}

interface NiState {
  /** canonical digest of the NI's chains and jump rules, handles excluded */
  digest: string;
  /** rules per NI chain; undefined when the chain is missing */
  counts: { fwd?: number; in?: number; nat?: number };
  jumps: ListedRule[];
}

function niState(listing: Listing, ni: string): NiState {
  const names = niChainNames(ni);
  const targets = new Set<string>(Object.values(names));
  const jumps = listing.rules.filter((r) => BASE_NAMES.has(r.chain) && targets.has(jumpTarget(r) ?? ''));
  const chainRules = (name: string): ListedRule[] | undefined =>
    listing.chains.some((c) => c.name === name) ? listing.rules.filter((r) => r.chain === name) : undefined;
  const fwd = chainRules(names.fwd);
  const inp = chainRules(names.in);
  const nat = chainRules(names.nat);
  const strip = (rs: ListedRule[] | undefined): JsonValue => (rs ? rs.map((r) => ({ chain: r.chain, comment: r.comment ?? null, expr: r.expr })) : null);
  return {
    digest: sha(canonicalJson({ fwd: strip(fwd), in: strip(inp), nat: strip(nat), jumps: strip(jumps) })),
    counts: { fwd: fwd?.length, in: inp?.length, nat: nat?.length },
    jumps,
  };
}

/** Is what the kernel holds for this NI what we would write (same rule counts, jump rules carrying our spec)? */
function hasShape(state: NiState, want: NiRuleset): boolean {
  return (
    state.counts.fwd === want.chains.fwd.length &&
    state.counts.in === want.chains.in.length &&
    state.counts.nat === want.chains.nat.length &&
    state.jumps.length === want.jumps.length &&
    want.jumps.every((j) => state.jumps.some((r) => r.chain === j.chain && r.comment === want.comment))
  );
}

function tableDigest(listing: Listing): string {
  const chains = [...listing.chains].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return sha(
    canonicalJson(
      chains.map((c) => ({
        chain: c.attrs,
        rules: listing.rules.filter((r) => r.chain === c.name).map((r) => ({ comment: r.comment ?? null, expr: r.expr })),
      })),
    ),
  );
}

const ERRNO_BY_TEXT: Readonly<Record<string, string>> = {
  'No such file or directory': 'ENOENT',
  'File exists': 'EEXIST',
  'Device or resource busy': 'EBUSY',
  'Operation not permitted': 'EPERM',
  'Permission denied': 'EACCES',
  'Invalid argument': 'EINVAL',
  'Operation not supported': 'EOPNOTSUPP',
  'Protocol not supported': 'EPROTONOSUPPORT',
  'Address family not supported by protocol': 'EAFNOSUPPORT',
  'No buffer space available': 'ENOBUFS',
  'Cannot allocate memory': 'ENOMEM',
  'Numerical result out of range': 'ERANGE',
  'Message too long': 'EMSGSIZE',
  'Too many links': 'EMLINK',
  'No such process': 'ESRCH',
};

/** nft writes `internal:0:0-0: Error: Could not process rule: No such file or directory`: keep the sentence, map errno. */
export function parseNftError(stderr: string): { errno?: string; detail: string } {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const line = lines.find((l) => l.includes('Error:')) ?? lines[0] ?? 'nft failed without a message';
  const detail = line.replace(/^.*?Error:\s*/, '');
  const errno = Object.entries(ERRNO_BY_TEXT).find(([text]) => detail.includes(text))?.[1];
  return errno ? { errno, detail } : { detail };
}

// ---- the driver ----

export class NftFirewall implements Firewall {
  readonly writes: WriteCounter;
  private readonly exec: readonly string[];
  private readonly logger: Logger | undefined;
  /** per NI: the spec last applied and the kernel's digest of it right after, to skip unchanged, intact NIs */
  private readonly applied = new Map<string, { spec: string; digest: string }>();
  /** one operation at a time: a listing and the transaction built from it must not interleave with another */
  private readonly serial = serialQueue();
  /** app interfaces' ACLs, port forwards, anti-spoofing */
  private readonly endpoints: NftEndpointRules;
  /** ensureNetworks requests waiting for the next transaction */
  private niPending: { nis: readonly NiRules[]; signal: AbortSignal | undefined; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private niScheduled = false;

  /** changes to our tables that edgenet did not make, and each (re)start of the monitor (src/drivers/nft-monitor.ts) */
  readonly changes$: Observable<NftChange>;
  private readonly monitor: NftMonitor;
  private readonly runNft: NftRun;

  constructor(opts: NftFirewallOptions = {}) {
    this.exec = opts.exec ?? [];
    this.logger = opts.logger;
    this.writes = opts.writes ?? new WriteCounter();
    this.runNft = createNftRunner({ exec: this.exec, ...(this.logger && { logger: this.logger }) }).run;
    this.endpoints = new NftEndpointRules((args, input, signal) => this.nft(args, input, signal), this.writes, this.logger, (fn) => this.serial(fn));
    this.monitor = new NftMonitor({ exec: this.exec, ...(this.logger && { logger: this.logger }) });
    // someone else's change: what we know of the endpoint rules may be wrong, the next write lists them again
    this.changes$ = this.monitor.changes$.pipe(tap((c) => c.kind === 'foreign' && this.endpoints.invalidate()));
  }

  // endpoint requests queue themselves: those arriving together (or while the queue is busy) are one transaction
  ensureEndpoint(ep: EndpointRules, signal?: AbortSignal): Promise<void> {
    return this.endpoints.ensure(ep, signal);
  }

  removeEndpoint(key: string, signal?: AbortSignal): Promise<void> {
    return this.endpoints.remove(key, signal);
  }

  sweepEndpoints(keep: readonly string[], signal?: AbortSignal): Promise<string[]> {
    signal?.throwIfAborted();
    return this.serial(() => this.endpoints.sweep(keep));
  }

  endpointStatus(key: string): AclRuleStatus[] | undefined {
    return this.endpoints.status(key);
  }

  ensureNetwork(ni: NiRules, signal?: AbortSignal): Promise<void> {
    return this.ensureNetworks([ni], signal);
  }

  /**
   * NIs asked for together (one turn, or while the queue is busy: an apply's local NIs) are converged in one
   * transaction; if that fails, each request alone, so the error reaches the NI it is about.
   */
  ensureNetworks(nis: readonly NiRules[], signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.niPending.push({ nis, signal, resolve, reject });
      if (this.niScheduled) return;
      this.niScheduled = true;
      setImmediate(() => void this.serial(() => this.flushNetworks()));
    });
  }

  private async flushNetworks(): Promise<void> {
    this.niScheduled = false;
    const batch = this.niPending.splice(0);
    const live = batch.filter((p) => {
      if (!p.signal?.aborted) return true;
      p.reject(p.signal.reason instanceof Error ? p.signal.reason : new Error('aborted'));
      return false;
    });
    if (live.length === 0) return;
    try {
      await this.doEnsure(live.flatMap((p) => p.nis));
      for (const p of live) p.resolve();
      return;
    } catch (err) {
      if (live.length === 1) return live[0]?.reject(err);
    }
    for (const p of live) {
      try {
        await this.doEnsure(p.nis, p.signal);
        p.resolve();
      } catch (err) {
        p.reject(err);
      }
    }
  }

  removeNetwork(name: string, signal?: AbortSignal): Promise<void> {
    return this.serial(() => this.doRemove(name, signal));
  }

  removeAll(): Promise<void> {
    return this.serial(async () => {
      this.applied.clear();
      this.endpoints.forget();
      // anti-spoofing lives in table bridge edgenet (frames and ARP are not seen by inet hooks)
      const b = await this.nft(['-j', '-f', '-'], JSON.stringify({ nftables: [{ delete: { table: { family: 'bridge', name: FIREWALL_TABLE } } }] }));
      if (b.code === 0) this.writes.inc('nft');
      const r = await this.nft(['-j', '-f', '-'], JSON.stringify({ nftables: [{ delete: { table: TABLE } }] }));
      if (r.code === 0) {
        this.writes.inc('nft');
        this.logger?.info({ table: `${FIREWALL_FAMILY} ${FIREWALL_TABLE}` }, 'firewall table removed');
        return;
      }
      const err = parseNftError(r.stderr);
      if (err.errno !== 'ENOENT') throw new KernelError('nft removeAll', `table ${FIREWALL_FAMILY} ${FIREWALL_TABLE}`, err.errno, err.detail);
    });
  }

  dump(): Promise<RulesetView> {
    return this.serial(async () => {
      const listing = await this.list('dump', `table ${FIREWALL_FAMILY} ${FIREWALL_TABLE}`);
      if (!listing) return { present: false, networks: [], digest: sha('absent') };
      const networks = new Set<string>();
      for (const c of listing.chains) {
        const ni = niOfChain(c.name);
        if (ni !== undefined) networks.add(ni);
      }
      return { present: true, networks: [...networks].sort(), digest: tableDigest(listing) };
    });
  }

  refreshCounters(): Promise<void> {
    return this.endpoints.refreshCounters();
  }

  drifted(): Promise<string[]> {
    return this.serial(async () => {
      await this.endpoints.refreshCounters();
      if (this.applied.size === 0) return [];
      const listing = await this.list('audit', `table ${FIREWALL_FAMILY} ${FIREWALL_TABLE}`);
      const out: string[] = [];
      for (const [name, mem] of this.applied) {
        const state = listing ? niState(listing, name) : undefined;
        if (!state || state.digest !== mem.digest) out.push(name);
      }
      return out.sort();
    });
  }



  private nft(args: string[], input: string | undefined, signal?: AbortSignal): Promise<CommandResult> {
    return this.runNft(args, input, signal);
  }

  /** The table as the kernel holds it; undefined when absent. */
  private async list(operation: string, object: string, signal?: AbortSignal): Promise<Listing | undefined> {
    const r = await this.nft(['-j', 'list', 'table', FIREWALL_FAMILY, FIREWALL_TABLE], undefined, signal);
    if (r.code !== 0) {
      const err = parseNftError(r.stderr);
      // nft echoes the command under its error; a namespace that cannot be entered is not an absent table
      if (err.errno === 'ENOENT' && r.stderr.includes('list table')) return undefined;
      throw new KernelError(`nft ${operation}`, object, err.errno, err.detail);
    }
    try {
      return parseListing(r.stdout);
    } catch (e) {
      throw new KernelError(`nft ${operation}`, object, undefined, `unreadable listing: ${String(e)}`);
    }
  }

  /** One atomic transaction; counts one nft write. `echo`: nft prints what it added (with handles), returned. */
  private async transact(commands: NftCommand[], operation: string, object: string, signal?: AbortSignal, echo = false): Promise<string> {
    signal?.throwIfAborted();
    const r = await this.nft(['-j', ...(echo ? ['-e', '-a'] : []), '-f', '-'], JSON.stringify({ nftables: commands }), signal);
    if (r.code !== 0) {
      const err = parseNftError(r.stderr);
      throw new KernelError(`nft ${operation}`, object, err.errno, err.detail);
    }
    this.writes.inc('nft');
    return r.stdout;
  }

  private async doEnsure(input: readonly NiRules[], signal?: AbortSignal): Promise<void> {
    const nis = [...new Map(input.map((ni) => [ni.name, ni])).values()];
    if (nis.length === 0) return;
    const object = nis.map((ni) => `ni "${ni.name}"`).join(', ');
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const before = await this.list('ensureNetwork', object, signal);
      try {
        await this.converge(nis, before, object, signal);
        break;
      } catch (e) {
        // the table changed between the listing and the transaction (an old jump rule already gone): list again
        if (attempt === 0 && e instanceof KernelError && e.errno === 'ENOENT' && e.operation === 'nft ensureNetwork') continue;
        throw e;
      }
    }
    if (nis.some((ni) => uplinkIfnames(ni).length > 0)) await this.ensureIpForward(object, signal);
  }

  /** One transaction for the NIs whose rules are not what we last applied (or not intact), then a read back. */
  private async converge(nis: readonly NiRules[], before: Listing | undefined, object: string, signal?: AbortSignal): Promise<void> {
    const stale: { ni: NiRules; want: NiRuleset; state: NiState | undefined }[] = [];
    for (const ni of nis) {
      const want = niRuleset(ni);
      const spec = specHash(ni);
      const state = before ? niState(before, ni.name) : undefined;
      const mem = this.applied.get(ni.name);
      if (state && mem?.spec === spec && mem.digest === state.digest) continue;
      // after a restart: rules carrying our spec, with the right shape, are adopted as they are
      if (state && !mem && hasShape(state, want)) {
        this.applied.set(ni.name, { spec, digest: state.digest });
        this.logger?.debug({ ni: ni.name }, 'firewall rules adopted');
        continue;
      }
      stale.push({ ni, want, state });
    }

    if (stale.length > 0) {
      const commands: NftCommand[] = ensureBaseCommands(before);
      for (const { ni, want, state } of stale) {
        for (const j of state?.jumps ?? []) {
          commands.push({ delete: { rule: { family: FIREWALL_FAMILY, table: FIREWALL_TABLE, chain: j.chain, handle: j.handle } } });
        }
        const names = niChainNames(ni.name);
        for (const key of ['fwd', 'in', 'nat'] as const) {
          const name = names[key];
          commands.push({ add: { chain: chainRef(name) } }, { flush: { chain: chainRef(name) } });
          for (const expr of want.chains[key]) commands.push({ add: { rule: { family: FIREWALL_FAMILY, table: FIREWALL_TABLE, chain: name, expr } } });
        }
        for (const j of want.jumps) {
          commands.push({ add: { rule: { family: FIREWALL_FAMILY, table: FIREWALL_TABLE, chain: j.chain, expr: j.expr, comment: want.comment } } });
        }
      }
      const echoed = await this.transact(commands, 'ensureNetwork', stale.map((s) => `ni "${s.ni.name}"`).join(', '), signal, true);

      // read back: the digest we remember is the kernel's own rendering of what we wrote — as nft echoed it (the
      // NI's chains hold only what this transaction wrote), or from a listing when the echo cannot be read
      const after = echoListing(echoed, commands) ?? (await this.list('ensureNetwork (read back)', object));
      for (const { ni, want } of stale) {
        const state = after ? niState(after, ni.name) : undefined;
        if (!state || !hasShape(state, want)) {
          this.applied.delete(ni.name);
          throw new KernelError('nft ensureNetwork (read back)', `ni "${ni.name}"`, undefined, 'rules missing after the transaction');
        }
        this.applied.set(ni.name, { spec: specHash(ni), digest: state.digest });
        this.logger?.info({ ni: ni.name, bridge: ni.bridge, port: ni.port?.ifname }, 'firewall rules applied');
      }
    }
  }

  private async doRemove(name: string, signal?: AbortSignal): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const listing = await this.list('removeNetwork', `ni "${name}"`, signal);
      this.applied.delete(name);
      if (!listing) return;
      const state = niState(listing, name);
      const names = Object.values(niChainNames(name)).filter((c) => listing.chains.some((l) => l.name === c));
      if (state.jumps.length === 0 && names.length === 0) return;
      const commands: NftCommand[] = [
        ...state.jumps.map((j): NftCommand => ({ delete: { rule: { family: FIREWALL_FAMILY, table: FIREWALL_TABLE, chain: j.chain, handle: j.handle } } })),
        ...names.map((c): NftCommand => ({ delete: { chain: chainRef(c) } })),
      ];
      try {
        await this.transact(commands, 'removeNetwork', `ni "${name}"`, signal);
        this.logger?.info({ ni: name }, 'firewall rules removed');
        return;
      } catch (e) {
        // the table changed between the listing and the transaction (a rule or chain already gone): list again
        if (attempt === 0 && e instanceof KernelError && e.errno === 'ENOENT') continue;
        throw e;
      }
    }
  }

  /** What is wrong with the table's base (base chains, port-forward hook, foreign rules and chains); empty: intact. */
  baseDrift(): Promise<string[]> {
    return this.serial(async () => auditBase(await this.list('audit', `table ${FIREWALL_FAMILY} ${FIREWALL_TABLE}`)).problems);
  }

  /** Repairs the table's base in one transaction (foreign rules and chains removed); intact: no write. */
  ensureBase(signal?: AbortSignal): Promise<void> {
    return this.serial(async () => {
      const object = `table ${FIREWALL_FAMILY} ${FIREWALL_TABLE}`;
      const audit = auditBase(await this.list('ensureBase', object, signal));
      if (audit.problems.length === 0) return;
      await this.transact(audit.repair, 'ensureBase', object, signal);
      // the table may have been re-made: what the endpoint rules knew of it is listed again at their next write
      this.endpoints.invalidate();
      const after = auditBase(await this.list('ensureBase (read back)', object));
      if (after.problems.length > 0) throw new KernelError('nft ensureBase (read back)', object, undefined, after.problems.join('; '));
      this.logger?.info({ repaired: audit.problems }, 'firewall base repaired');
    });
  }

  /** Is net.ipv4.ip_forward on in edgenet's namespace? */
  async forwardingOn(signal?: AbortSignal): Promise<boolean> {
    return (await this.readSysctl('net.ipv4.ip_forward', signal)) === '1';
  }

  ensureForwarding(signal?: AbortSignal): Promise<void> {
    return this.ensureIpForward('the device', signal);
  }

  /**
   * A bridge answers ARP only for its own addresses (arp_ignore=1) and only on the interface the kernel would route
   * the reply out of (arp_filter=1): a switch NI's app must not learn the MAC of a local NI's gateway.
   */
  async guardBridge(bridge: string, signal?: AbortSignal): Promise<void> {
    if (!/^[A-Za-z0-9_-]{1,15}$/.test(bridge)) throw new KernelError('sysctl write', bridge, 'EINVAL', 'not a bridge name');
    const keys = [`net.ipv4.conf.${bridge}.arp_ignore`, `net.ipv4.conf.${bridge}.arp_filter`];
    // both read together, the ones not set written together (one `sysctl` process each way when not in-process)
    const values = await this.readSysctls(keys, signal);
    const stale = keys.filter((_, i) => values[i] !== '1');
    if (stale.length > 0) await this.writeSysctls(stale, '1', `bridge ${bridge}`, signal);
  }

  private async readSysctls(keys: readonly string[], signal?: AbortSignal): Promise<string[]> {
    if (this.exec.length === 0 || keys.length === 1) return Promise.all(keys.map((k) => this.readSysctl(k, signal)));
    const r = await runCommand([...this.exec, 'sysctl', '-n', ...keys], undefined, signal);
    const lines = r.stdout.split('\n').map((l) => l.trim());
    if (r.code !== 0 || lines.length < keys.length) throw new KernelError('sysctl read', keys.join(' '), undefined, r.stderr.trim());
    return lines.slice(0, keys.length);
  }

  /** Writes several keys (in parallel, or one `sysctl -w` for all), each counted, then reads them back once. */
  private async writeSysctls(keys: readonly string[], value: string, object: string, signal?: AbortSignal): Promise<void> {
    if (this.exec.length === 0) {
      await Promise.all(
        keys.map(async (key) => {
          try {
            await writeFile(`/proc/sys/${key.replaceAll('.', '/')}`, `${value}\n`);
          } catch (e) {
            const err = e as NodeJS.ErrnoException;
            throw new KernelError('sysctl write', `${key} (for ${object})`, err.code, err.message);
          }
        }),
      );
    } else {
      const r = await runCommand([...this.exec, 'sysctl', '-qw', ...keys.map((k) => `${k}=${value}`)], undefined, signal);
      if (r.code !== 0) throw new KernelError('sysctl write', `${keys.join(', ')} (for ${object})`, undefined, r.stderr.trim());
    }
    this.writes.inc('sysctl', keys.length);
    const after = await this.readSysctls(keys, signal);
    const wrong = keys.filter((_, i) => after[i] !== value);
    if (wrong.length > 0) throw new KernelError('sysctl write', `${wrong.join(', ')} (for ${object})`, undefined, `still not ${value} after writing it`);
  }

  private async readSysctl(key: string, signal?: AbortSignal): Promise<string> {
    if (this.exec.length === 0) {
      try {
        return (await readFile(`/proc/sys/${key.replaceAll('.', '/')}`, 'utf8')).trim();
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        throw new KernelError('sysctl read', key, err.code, err.message);
      }
    }
    const r = await runCommand([...this.exec, 'sysctl', '-n', key], undefined, signal);
    if (r.code !== 0) throw new KernelError('sysctl read', key, undefined, r.stderr.trim());
    return r.stdout.trim();
  }

  private writeSysctl(key: string, value: string, object: string, signal?: AbortSignal): Promise<void> {
    return this.writeSysctls([key], value, object, signal);
  }

  private async ensureIpForward(object: string, signal?: AbortSignal): Promise<void> {
    if (await this.forwardingOn(signal)) return;
    await this.writeSysctl('net.ipv4.ip_forward', '1', object, signal);
    this.logger?.info({ for: object }, 'ip forwarding enabled');
  }
}

export function createNftFirewall(opts: NftFirewallOptions = {}): NftFirewall {
  return new NftFirewall(opts);
}
