// O(change) pushes (issue 20): what the last good push validated and resolved, per app, so that a push changing
// only apps validates, resolves, reserves and diffs only the apps whose content changed. The answer is exactly the
// full path's (validateConfig → resolveConfig → diffResolved): a push this cache cannot judge — NIs or ports
// changed, an invalid app, a clash, VLANs or ACLs on a changed app — goes the full path, which gives the errors.
import type { ConfigDiff, Changed, Removed, ResolvedConfig, SetDiff } from './config-diff.ts';
import { changedFields, ENDPOINT_RECREATE } from './config-diff.ts';
import { checkApps } from './config-checks.ts';
import { checkLimits, type ConfigLimits } from './config-limits.ts';
import { endpointsOf, type EndpointSpec, type NetworkResolved } from './config-resolve.ts';
import { appSchema, type AppSpec, type Config } from './config-schema.ts';
import { appIfnames, isVeth } from './config-resolve.ts';
import { deriveMac } from '../util/names.ts';
import { topLevelArray } from '../util/json-splice.ts';

/** A push adding more apps than this to the last good config is checked against the limits whole, before its walk. */
const MANY_NEW_APPS = 64;

/** One app of the last good config. */
interface AppEntry {
  /**
   * the app as pushed, what the next push's app is compared with: a copy (plain data, copyPlain), or the pushed
   * object itself when its push was unchanging (Shared: the same object again is the same app, without a look)
   */
  readonly raw: unknown;
  readonly parsed: AppSpec;
  /** its endpoints, resolved (in interface order) */
  readonly endpoints: EndpointSpec[];
  /** what it holds in the cross-app indices (app name, taps, names in namespaces, static addresses, MACs) */
  readonly slots: string[];
  /** JSON.stringify(parsed, null, 2) as it sits in the apps list of the last good config's text, made when needed */
  item?: string;
  /** the push that last took this entry (an entry is taken once per push) */
  stamp: number;
  /** the push that made it */
  readonly born: number;
}

interface CacheState {
  /** the input's top-level keys, in order */
  keys: string[];
  rawPorts: unknown;
  rawNetworks: unknown;
  ports: Config['ports'];
  networks: Config['networks'];
  resolvedNetworks: NetworkResolved[];
  resolvedPorts: ResolvedConfig['ports'];
  networkByName: Map<string, NetworkResolved>;
  entries: AppEntry[];
  byName: Map<string, AppEntry>;
  /** slot → how many apps hold it (all 1 in a good config) */
  slots: Map<string, number>;
  /** NI → its static addresses → count */
  statics: Map<string, Map<string, number>>;
  /** the text written as the last good config (undefined: not made yet, `parts` say it; see stateText) */
  text?: string;
  /**
   * the same text as parts (the head, each app's item, the separators, the tail), when an incremental push made it:
   * the journal finds the next push's change by the parts it shares with these, and no whole text is made
   */
  parts?: readonly string[];
  /** the head's opening part (ports, networks, the apps list's opening), made once per state */
  open?: string;
  /** pretty JSON of ports and networks, as they sit in the last good config's text */
  head: { ports: string; networks: string };
  /** the last good config and its resolution: what a push of the same config answers with */
  config: Config;
  resolved: ResolvedConfig;
  /** how many endpoints the config has */
  endpointCount: number;
  /** how many of its NIs are local */
  localNetworks: number;
  /** the diff of a push of the same config (made when first needed) */
  sameDiff?: ConfigDiff;
  /** the last good push's input when it was deeply frozen: pushed again, it is known unchanged without a look */
  frozen?: object;
}

/** What an apps-only push changes, ready to be carried out (commit() makes it the cache's state). */
export interface IncrementalPush {
  config: Config;
  resolved: ResolvedConfig;
  diff: ConfigDiff;
  /** endpoints of added and changed apps (new versions), in config order: the only ones that may need a reservation */
  candidates: EndpointSpec[];
  /** endpoint specs that left the index (old versions of removed and changed apps' endpoints) */
  removedEndpoints: EndpointSpec[];
  /** keys of the endpoints that are gone */
  removedKeys: string[];
  /** static addresses of an NI in the new config */
  staticsOf: (ni: string) => string[];
  networks: ReadonlyMap<string, NetworkResolved>;
  /** the new config is the old one, byte for byte */
  same: boolean;
  /** how many objects (NIs, endpoints, ports) the push leaves unchanged: the diff's `unchanged` counts, without making them */
  unchanged: number;
  /** some added or removed endpoint is a veth in a named namespace (the watched paths change) */
  netnsChanged: boolean;
  /** the last good config's text (lastGoodText(): JSON.stringify(config, null, 2) and a newline), made from the apps' cached texts */
  text(): string;
  /**
   * What to write as the last good config: that text, or its parts (JournaledFile.writeParts: the parts that stayed
   * are the last push's own strings). The same object as the last push's when the config is the same.
   */
  content(): string | readonly string[];
  commit(): void;
}

export class PushCache {
  private state: CacheState | undefined;
  private stamp = 0;

  /** Forgets everything: the next push takes the full path. */
  clear(): void {
    this.state = undefined;
  }

  /**
   * After a push that took the full path and was carried out with every endpoint (no refusal): remember it.
   * `raw` is the push's input copied before anything could change it (copyInput).
   */
  rebuild(raw: RawCopy | undefined, config: Config, resolved: ResolvedConfig, text: string, input?: unknown): void {
    if (!raw || raw.apps.length !== config.apps.length) {
      this.state = undefined;
      return;
    }
    const stamp = ++this.stamp;
    const networkByName = new Map(resolved.networks.map((n) => [n.name, n]));
    const entries: AppEntry[] = [];
    const byName = new Map<string, AppEntry>();
    const slots = new Map<string, number>();
    const statics = new Map<string, Map<string, number>>();
    let at = 0;
    config.apps.forEach((parsed, i) => {
      const endpoints = resolved.endpoints.slice(at, at + parsed.interfaces.length);
      at += parsed.interfaces.length;
      const entry: AppEntry = { raw: raw.apps[i], parsed, endpoints, slots: slotsOf(parsed), stamp, born: stamp };
      entries.push(entry);
      byName.set(parsed.name, entry);
      for (const s of entry.slots) slots.set(s, (slots.get(s) ?? 0) + 1);
      addStatics(statics, parsed, 1);
    });
    if (at !== resolved.endpoints.length) {
      this.state = undefined;
      return;
    }
    itemsFromText(text, entries);
    this.state = {
      keys: raw.keys,
      rawPorts: raw.ports,
      rawNetworks: raw.networks,
      ports: config.ports,
      networks: config.networks,
      resolvedNetworks: resolved.networks,
      resolvedPorts: resolved.ports,
      networkByName,
      entries,
      byName,
      slots,
      statics,
      text,
      head: { ports: nested(JSON.stringify(config.ports, null, 2), 1), networks: nested(JSON.stringify(config.networks, null, 2), 1) },
      config,
      resolved,
      endpointCount: resolved.endpoints.length,
      localNetworks: config.networks.filter((n) => n.type === 'local').length,
      ...(isDeepFrozen(input) && { frozen: input }),
    };
  }

  /**
   * The push as an apps-only change of the last good config, or undefined when it must take the full path.
   * Synchronous: the input is read (and what changed copied) before the caller awaits anything.
   */
  tryIncremental(input: unknown, limits: ConfigLimits): IncrementalPush | undefined {
    const st = this.state;
    if (!st || !isPlainObject(input)) return undefined;
    // the very object of the last good push, which nobody can have changed since
    if (st.frozen !== undefined && input === st.frozen) return this.result(st, ++this.stamp, st.entries, [], [], [], true, st.frozen);
    const keys = Object.keys(input);
    if (!sameKeys(keys, st.keys)) return undefined;
    if (!matchesRaw(input['ports'], st.rawPorts) || !matchesRaw(input['networks'], st.rawNetworks)) return undefined;
    const rawApps = input['apps'] === undefined ? [] : input['apps'];
    if (!Array.isArray(rawApps)) return undefined;
    // the NIs are the last good config's (within the limits); the endpoints are counted from what changed, after the
    // walk. A push that adds many apps is counted whole first, so a far too large one is refused before it is parsed.
    if (rawApps.length > st.entries.length + MANY_NEW_APPS && checkLimits(input, limits).length > 0) return undefined;
    if (st.networks.length > limits.networks || st.localNetworks > limits.localNetworks) return undefined;

    const stamp = ++this.stamp;
    // an unchanging push (a parsed body): its parts are kept as they are, and it is the next push's known object
    const frozen = isDeepFrozen(input) ? input : undefined;
    const keep = keeper(frozen !== undefined);
    // One pass over the pushed apps, each compared with the old app in its place (or the old app of its name). The
    // place is the old index plus `shift`, which follows a single removal or insertion, so apps after one are found
    // in their place again. This is the push's only walk over all apps: everything else costs what changed.
    const olds = st.entries;
    const n = rawApps.length;
    const next: AppEntry[] = new Array<AppEntry>(n);
    /** positions of the entries made by this push */
    const fresh: number[] = [];
    /** old entries looked at in their place and not taken there: the apps that left are among them (or past the end) */
    const passed: AppEntry[] = [];
    let reused = 0;
    let shift = 0;
    let lastLooked = -1;
    let samePlaces = n === olds.length;
    for (let i = 0; i < n; i++) {
      const raw: unknown = rawApps[i];
      const j = i + shift;
      lastLooked = j;
      let old = olds[j];
      if (old === undefined || old.stamp === stamp || !matchesRaw(raw, old.raw)) {
        samePlaces = false;
        if (old !== undefined && old.stamp !== stamp && passed[passed.length - 1] !== old) passed.push(old);
        const name = isPlainObject(raw) ? raw['name'] : undefined;
        old = typeof name === 'string' ? st.byName.get(name) : undefined;
        if (old !== undefined && (old.stamp === stamp || !matchesRaw(raw, old.raw))) old = undefined;
        // found next to its place: one app before it left (or came), the ones after it follow in place
        if (old !== undefined && olds[j + 1] === old) shift++;
        else if (old !== undefined && olds[j - 1] === old) shift--;
      }
      if (old !== undefined) {
        old.stamp = stamp;
        next[i] = old;
        reused++;
        continue;
      }
      const parsed = appSchema.safeParse(raw);
      if (!parsed.success) return undefined;
      if (!plainApp(parsed.data, st.networkByName)) return undefined;
      const entry: AppEntry = { raw: keep(raw), parsed: parsed.data, endpoints: [], slots: slotsOf(parsed.data), stamp, born: stamp };
      next[i] = entry;
      fresh.push(i);
    }
    // every entry of the last config is still there, in its place: the same config
    if (samePlaces && fresh.length === 0) return this.result(st, stamp, st.entries, [], [], [], true, frozen);

    // the apps that left or changed (their old versions), in the old order: every old entry was looked at in its
    // place or taken, up to the last place looked at
    let gone: AppEntry[] = [];
    if (reused !== olds.length) {
      for (const e of passed) if (e.stamp !== stamp) gone.push(e);
      for (let j = lastLooked + 1; j < olds.length; j++) if ((olds[j] as AppEntry).stamp !== stamp) gone.push(olds[j] as AppEntry);
      // (a walk that missed one would be a bug: the whole list is looked through instead)
      if (gone.length !== olds.length - reused) gone = olds.filter((e) => e.stamp !== stamp);
    }
    for (const e of gone) if (!plainApp(e.parsed, st.networkByName)) return undefined;
    const added = fresh.map((i) => next[i] as AppEntry);
    let endpoints = st.endpointCount;
    for (const e of gone) endpoints -= e.endpoints.length;
    for (const e of added) endpoints += e.parsed.interfaces.length;
    if (endpoints > limits.endpoints) return undefined;

    // per-app rules and clashes among the new apps (the NIs and ports are those of the last good config)
    if (added.length > 0 && checkApps({ ports: st.ports, networks: st.networks, apps: added.map((e) => e.parsed) }).length > 0) return undefined;
    // clashes with the apps that stay: the slots after the change may each be held once
    const delta = new Map<string, number>();
    for (const e of gone) for (const s of e.slots) delta.set(s, (delta.get(s) ?? 0) - 1);
    for (const e of added) for (const s of e.slots) delta.set(s, (delta.get(s) ?? 0) + 1);
    for (const [s, d] of delta) if ((st.slots.get(s) ?? 0) + d > 1) return undefined;

    if (added.length > 0) {
      const eps = endpointsOf({ ports: st.ports, networks: st.networks, apps: added.map((e) => e.parsed) });
      let at = 0;
      for (const e of added) {
        e.endpoints.push(...eps.slice(at, at + e.parsed.interfaces.length));
        at += e.parsed.interfaces.length;
      }
    }
    return this.result(st, stamp, next, gone, added, [...delta], false, frozen);
  }

  private result(
    st: CacheState,
    stamp: number,
    next: AppEntry[],
    gone: AppEntry[],
    added: AppEntry[],
    delta: [string, number][],
    same: boolean,
    /** the push's input when it is unchanging (isDeepFrozen) */
    frozen: object | undefined,
  ): IncrementalPush {
    const nets = st.resolvedNetworks.length + st.resolvedPorts.length;
    if (same) {
      // nothing changed: the last answer again, with a diff that says so (its list of endpoint keys made if read)
      const endpointKeys = lazy(() => st.resolved.endpoints.map((e) => e.key));
      st.sameDiff ??= {
        networks: { added: [], removed: [], changed: [], unchanged: st.resolvedNetworks.map((n) => n.name) },
        endpoints: {
          added: [],
          removed: [],
          changed: [],
          get unchanged() {
            return endpointKeys();
          },
        },
        ports: { added: [], removed: [], changed: [], unchanged: st.resolvedPorts.map((p) => p.name) },
      };
      return {
        config: st.config,
        resolved: st.resolved,
        diff: st.sameDiff,
        candidates: [],
        removedEndpoints: [],
        removedKeys: [],
        staticsOf: (ni) => [...(st.statics.get(ni) ?? [])].filter(([, n]) => n > 0).map(([ip]) => ip),
        networks: st.networkByName,
        same: true,
        unchanged: nets + st.endpointCount,
        netnsChanged: false,
        text: () => stateText(st),
        content: () => st.parts ?? stateText(st),
        commit: () => {
          if (frozen !== undefined) st.frozen = frozen;
        },
      };
    }
    // What covers every app (the apps list, the endpoints, the unchanged keys) is made when read: a push reads none
    // of it (the next full push diffs against the endpoints).
    const apps = lazy(() => next.map((e) => e.parsed));
    const config: Config = {
      ports: st.ports,
      networks: st.networks,
      get apps() {
        return apps();
      },
    };
    const allEndpoints = lazy(() => next.flatMap((e) => e.endpoints));
    const resolved: ResolvedConfig = {
      networks: st.resolvedNetworks,
      get endpoints() {
        return allEndpoints();
      },
      ports: st.resolvedPorts,
    };
    const oldEps = new Map<string, EndpointSpec>();
    for (const e of gone) for (const ep of e.endpoints) oldEps.set(ep.key, ep);
    const added_: EndpointSpec[] = [];
    const changed: Changed<EndpointSpec>[] = [];
    /** endpoints of the apps made by this push that are as they were */
    const sameAgain = new Set<string>();
    const newKeys = new Set<string>();
    let endpointCount = st.endpointCount - oldEps.size;
    for (const e of added) {
      for (const ep of e.endpoints) {
        endpointCount++;
        newKeys.add(ep.key);
        const prev = oldEps.get(ep.key);
        if (prev === undefined) {
          added_.push(ep);
          continue;
        }
        const fields = changedFields(prev, ep);
        if (fields.length === 0) sameAgain.add(ep.key);
        else changed.push({ key: ep.key, before: prev, after: ep, fields, recreate: fields.some((f) => ENDPOINT_RECREATE.has(f)) });
      }
    }
    const removed: Removed<EndpointSpec>[] = [];
    for (const [key, before] of oldEps) if (!newKeys.has(key)) removed.push({ key, before });
    // in config order, as the full diff lists them
    const unchangedKeys = lazy(() => {
      const keys: string[] = [];
      for (const e of next) for (const ep of e.endpoints) if (e.born !== stamp || sameAgain.has(ep.key)) keys.push(ep.key);
      return keys;
    });
    const eps: SetDiff<EndpointSpec> = {
      added: added_,
      removed,
      changed,
      get unchanged() {
        return unchangedKeys();
      },
    };
    const diff: ConfigDiff = {
      networks: { added: [], removed: [], changed: [], unchanged: st.resolvedNetworks.map((n) => n.name) },
      endpoints: eps,
      ports: { added: [], removed: [], changed: [], unchanged: st.resolvedPorts.map((p) => p.name) },
    };
    const removedEndpoints = gone.flatMap((e) => e.endpoints);
    const candidates = added.flatMap((e) => e.endpoints);
    // the statics after the change, without touching the cache's until commit
    const staticsDelta = new Map<string, Map<string, number>>();
    for (const e of gone) addStatics(staticsDelta, e.parsed, -1);
    for (const e of added) addStatics(staticsDelta, e.parsed, 1);
    const staticsOf = (ni: string): string[] => {
      const counts = new Map(st.statics.get(ni) ?? []);
      for (const [ip, d] of staticsDelta.get(ni) ?? []) counts.set(ip, (counts.get(ip) ?? 0) + d);
      return [...counts].filter(([, n]) => n > 0).map(([ip]) => ip);
    };
    const isNamedVeth = (ep: EndpointSpec): boolean => ep.kind === 'veth' && typeof ep.netns === 'string';
    let parts: readonly string[] | undefined;
    const makeParts = (): readonly string[] => (parts ??= configParts(st, next));
    let text: string | undefined;
    const makeText = (): string => (text ??= makeParts().join(''));
    return {
      config,
      resolved,
      diff,
      candidates,
      removedEndpoints,
      removedKeys: removed.map((r) => r.key),
      staticsOf,
      networks: st.networkByName,
      same: false,
      unchanged: nets + endpointCount - added_.length - changed.length,
      netnsChanged: removedEndpoints.some(isNamedVeth) || candidates.some(isNamedVeth),
      text: makeText,
      content: () => makeParts(),
      commit: () => {
        for (const [s, d] of delta) {
          const n = (st.slots.get(s) ?? 0) + d;
          if (n > 0) st.slots.set(s, n);
          else st.slots.delete(s);
        }
        for (const [ni, ips] of staticsDelta) {
          const counts = st.statics.get(ni) ?? new Map<string, number>();
          for (const [ip, d] of ips) {
            const n = (counts.get(ip) ?? 0) + d;
            if (n > 0) counts.set(ip, n);
            else counts.delete(ip);
          }
          st.statics.set(ni, counts);
        }
        for (const e of gone) if (st.byName.get(e.parsed.name) === e) st.byName.delete(e.parsed.name);
        for (const e of added) st.byName.set(e.parsed.name, e);
        st.entries = next;
        // the parts (pointers to the items: no text made); a text already made is kept beside them
        st.parts = makeParts();
        if (text !== undefined) st.text = text;
        else delete st.text;
        st.config = config;
        st.resolved = resolved;
        st.endpointCount = endpointCount;
        delete st.sameDiff;
        if (frozen !== undefined) st.frozen = frozen;
        else delete st.frozen;
      },
    };
  }
}

/** The parts of a push's input the cache compares the next push with, copied (plain data only). */
export interface RawCopy {
  keys: string[];
  ports: unknown;
  networks: unknown;
  apps: unknown[];
}

/**
 * A copy of a valid input (validateConfig accepted it); undefined when it holds anything but plain data. An
 * unchanging input is not copied: its parts are kept as they are (nobody changes them).
 */
export function copyInput(input: unknown): RawCopy | undefined {
  if (!isPlainObject(input)) return undefined;
  const apps = input['apps'] === undefined ? [] : input['apps'];
  if (!Array.isArray(apps)) return undefined;
  const keep = keeper(isDeepFrozen(input));
  return { keys: Object.keys(input), ports: keep(input['ports']), networks: keep(input['networks']), apps: apps.map(keep) };
}

/**
 * A part of a push kept as it is: the push was unchanging (isDeepFrozen), so the part is too, and the same object
 * pushed again is the same data. The API server's parsed bodies share the apps a push did not change with the body
 * before (util/json-splice.ts): those are known the same by identity, not compared.
 */
class Shared {
  constructor(readonly value: unknown) {}
}

/** How a push's parts are kept for the next push to be compared with: as they are when unchanging, else copied. */
function keeper(unchanging: boolean): (part: unknown) => unknown {
  return unchanging ? (part) => new Shared(part) : copyPlain;
}

/** matchesCopy, for what keeper() kept. */
function matchesRaw(a: unknown, raw: unknown): boolean {
  if (raw instanceof Shared) return a === raw.value || deepEqual(a, raw.value);
  return matchesCopy(a, raw);
}

/** Cross-app slots of an app (checkApps' uniqueness rules): held by one app at most in a good config. */
function slotsOf(app: AppSpec): string[] {
  const slots = [`app\u0000${app.name}`];
  const inside = appIfnames(app);
  app.interfaces.forEach((itf, k) => {
    if (itf.tap !== undefined) slots.push(`tap\u0000${itf.tap}`);
    else if (itf.netns !== undefined && isVeth(itf)) slots.push(`in\u0000${String(itf.netns)}\u0000${inside[k] ?? 'eth0'}`);
    if (itf.ip !== undefined) slots.push(`ip\u0000${itf.network}\u0000${itf.ip}`);
    slots.push(`mac\u0000${itf.network}\u0000${itf.mac ?? deriveMac(app.name, itf.network)}`);
  });
  return slots;
}

function addStatics(statics: Map<string, Map<string, number>>, app: AppSpec, d: number): void {
  for (const itf of app.interfaces) {
    if (itf.ip === undefined) continue;
    let counts = statics.get(itf.network);
    if (!counts) statics.set(itf.network, (counts = new Map()));
    counts.set(itf.ip, (counts.get(itf.ip) ?? 0) + d);
  }
}

/**
 * An app this cache can judge on its own: no VLAN, no ACL, and not on a VLAN-filtering switch NI (those depend on
 * the other apps of the NI: its VLANs, its forwards, its host sets).
 */
function plainApp(app: AppSpec, networks: ReadonlyMap<string, NetworkResolved>): boolean {
  for (const itf of app.interfaces) {
    if (itf.accessVlanId !== undefined || itf.acls !== undefined) return false;
    const ni = networks.get(itf.network);
    if (ni?.type === 'switch' && ni.vlanFiltering === true) return false;
  }
  return true;
}

/** A value made when first asked for, then kept. */
function lazy<T>(make: () => T): () => T {
  let made = false;
  let value: T | undefined;
  return () => {
    if (!made) {
      value = make();
      made = true;
    }
    return value as T;
  };
}

/**
 * The items of a full push's text (JSON.stringify(config, null, 2)) taken from it: the next incremental push makes
 * its parts of these instead of serialising every app anew (27 ms at 10 000 apps). Nothing taken (the items made
 * when needed) when the text's apps are not the entries'.
 */
function itemsFromText(text: string, entries: AppEntry[]): void {
  const spans = topLevelArray(text, 'apps');
  if (!spans || spans.starts.length !== entries.length) return;
  const at = new Int32Array(entries.length);
  for (let k = 0; k < entries.length; k++) {
    // an item is its app's pretty JSON behind the list's indent of four spaces
    const from = (spans.starts[k] as number) - ITEM_INDENT.length;
    if (text.slice(from, from + ITEM_INDENT.length) !== ITEM_INDENT) return;
    at[k] = from;
  }
  entries.forEach((e, k) => (e.item = text.slice(at[k], spans.ends[k])));
}

const ITEM_INDENT = '    ';

/** An app's item: JSON.stringify(app, null, 2) as it sits in the apps list of the last good config's text. */
function itemOf(app: AppSpec): string {
  return `    ${nested(JSON.stringify(app, null, 2), 2)}`;
}

/** The state's text: the one kept, or its parts joined (and kept). */
function stateText(st: CacheState): string {
  st.text ??= (st.parts ?? []).join('');
  return st.text;
}

const ITEM_SEPARATOR = ',\n';
const APPS_CLOSE = '\n  ]\n}\n';

/**
 * JSON.stringify(config, null, 2) of ports, networks and these apps (and a newline), as parts: [open, item, ',\n',
 * item, …, close], each app's item made once and kept; one part, the whole text, for no apps.
 */
function configParts(st: CacheState, apps: AppEntry[]): readonly string[] {
  if (apps.length === 0) return [`{\n  "ports": ${st.head.ports},\n  "networks": ${st.head.networks},\n  "apps": []\n}\n`];
  st.open ??= `{\n  "ports": ${st.head.ports},\n  "networks": ${st.head.networks},\n  "apps": [\n`;
  const out = new Array<string>(2 * apps.length + 1);
  out[0] = st.open;
  for (let i = 0; i < apps.length; i++) {
    const e = apps[i] as AppEntry;
    if (i > 0) out[2 * i] = ITEM_SEPARATOR;
    out[2 * i + 1] = e.item ??= itemOf(e.parsed);
  }
  out[2 * apps.length] = APPS_CLOSE;
  return out;
}

/** A value's pretty JSON as it sits `depth` levels deep in a document made with indent 2. */
function nested(text: string, depth: number): string {
  return depth === 0 ? text : text.replace(/\n/g, `\n${'  '.repeat(depth)}`);
}

/** Frozen all the way down (Object.freeze on every object and array), or unchanging(): what nobody changes any more. */
export function isDeepFrozen(v: unknown, depth = 0): v is object {
  if (typeof v !== 'object' || v === null) return false;
  if (frozenRoots.has(v)) return true;
  // a config is a few levels deep: anything deeper (or cyclic) is not taken as known
  if (!Object.isFrozen(v) || depth > 32) return false;
  for (const x of Object.values(v)) if (typeof x === 'object' && x !== null && !isDeepFrozen(x, depth + 1)) return false;
  return true;
}

/** what deepFreeze() froze, or what its owner promised never to change (unchanging()): known unchanging without a look */
const frozenRoots = new WeakSet<object>();

/**
 * `v` is taken as frozen all the way down without being frozen: its owner promises that nobody changes it (nor
 * anything in it) from now on. The API server's parsed body is such an object (nobody else holds it): freezing each
 * of its objects cost ~5 ms per new body at 5000 apps.
 */
export function unchanging<T>(v: T): T {
  if (typeof v === 'object' && v !== null) frozenRoots.add(v);
  return v;
}

/** Object.freeze on every object and array; returns it. The API server freezes each config body it parses. */
export function deepFreeze<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  // deeper than a config goes (or cyclic): frozen as far as that, not marked
  const walk = (x: unknown, depth: number): boolean => {
    if (typeof x !== 'object' || x === null) return true;
    if (depth > 32) return false;
    let all = true;
    for (const y of Object.values(x)) all = walk(y, depth + 1) && all;
    Object.freeze(x);
    return all;
  };
  if (walk(v, 0)) frozenRoots.add(v);
  return v;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Equal plain data (same keys in the same order, Object.is on values): what the schema makes of both is the same.
 * Anything else (a Date, a class instance, a function) is never equal.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (typeof a === 'function' || typeof b === 'function') return false;
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b);
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!(i in a) || !(i in b) || !deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b) || !isPlainObject(a) || !isPlainObject(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i] as string;
    if (k !== kb[i] || !deepEqual(a[k], b[k])) return false;
  }
  return true;
}

/** A plain object as copyPlain() keeps it: its keys in order, and their values' copies. */
class ObjectCopy {
  constructor(
    readonly keys: readonly string[],
    readonly values: readonly unknown[],
  ) {}
}

/**
 * A copy of plain data, in the form matchesCopy() compares with: objects as their keys and values (no array of keys
 * to make for the copy at each compare), arrays as arrays; anything else becomes a value no input matches (the app
 * is parsed again next time).
 */
export function copyPlain(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return typeof v === 'function' ? NEVER : v;
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    for (let i = 0; i < v.length; i++) out.push(i in v ? copyPlain(v[i]) : NEVER);
    return out;
  }
  if (!isPlainObject(v)) return NEVER;
  const keys = Object.keys(v);
  return new ObjectCopy(
    keys,
    keys.map((k) => copyPlain(v[k])),
  );
}

/** deepEqual(a, b) where `copy` is copyPlain(b): the same answer, at about half the cost. */
export function matchesCopy(a: unknown, copy: unknown): boolean {
  if (copy instanceof ObjectCopy) {
    if (!isPlainObject(a)) return false;
    const ka = Object.keys(a);
    const { keys, values } = copy;
    if (ka.length !== keys.length) return false;
    for (let i = 0; i < ka.length; i++) {
      const k = ka[i] as string;
      if (k !== keys[i] || !matchesCopy(a[k], values[i])) return false;
    }
    return true;
  }
  if (Array.isArray(copy)) {
    if (!Array.isArray(a) || a.length !== copy.length) return false;
    for (let i = 0; i < a.length; i++) if (!(i in a) || !matchesCopy(a[i], copy[i])) return false;
    return true;
  }
  // a primitive (or NEVER, which nothing matches): an object or a function never matches one
  if (typeof a === 'object' ? a !== null : typeof a === 'function') return false;
  return copy !== NEVER && Object.is(a, copy);
}

/** Equal to nothing: deepEqual compares objects by content, and this one is not plain. */
const NEVER: unknown = new (class Never {})();
