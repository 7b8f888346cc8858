// The metric families with a series per object (NI, endpoint, port, app rule): ~52 000 series at 10 000 endpoints.
// prom-client's Gauge and Counter hash every label set on each set() and format it again (a scrape at 10 000
// endpoints blocked the event loop for 220–500 ms on fakes). These are read from the scrape's status and either
// handed to prom-client as the values of a metric (`registry.metrics()`, an agent's merged registry) or written
// straight as exposition text (the daemon's /metrics): the same text byte for byte (test/unit/metrics.test.ts).
import { Counter, Gauge } from 'prom-client';
import type { ActorState, Status, Transition } from '../edgenet-types.ts';

/** The states an actor listed in status can be in (a `deleted` one is gone from status: no series for it). */
export const ACTOR_STATES: readonly ActorState[] = ['pending', 'creating', 'ready', 'degraded', 'deleting'];

/** One family: its name, help, type and label names, its series as prom-client values and as exposition lines. */
export interface PerObjectFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'gauge' | 'counter';
  readonly labelNames: readonly string[];
  /** the series, for a prom-client metric */
  values(status: Status): PromValues['values'];
  /** the same series as prom-client writes them, a line each */
  lines(status: Status, out: string[]): void;
}

type PromValues = Awaited<ReturnType<Gauge['get']>>;
type Kind = Transition['kind'];

const STATE_INDEX = new Map(ACTOR_STATES.map((s, i) => [s, i]));

/** Each NI/endpoint/port by kind and name, with how many of its actors are in each state (a rebuilt one has two). */
function actorStates(status: Status): { kind: Kind; name: string; counts: number[] }[] {
  const byKey = new Map<string, { kind: Kind; name: string; counts: number[] }>();
  const add = (kind: Kind, name: string, state: ActorState): void => {
    const key = `${kind}\u0000${name}`;
    let entry = byKey.get(key);
    if (!entry) byKey.set(key, (entry = { kind, name, counts: [0, 0, 0, 0, 0] }));
    const i = STATE_INDEX.get(state);
    if (i !== undefined) entry.counts[i] = (entry.counts[i] ?? 0) + 1;
  };
  for (const n of status.networks) add('network', n.name, n.state);
  for (const e of status.endpoints) add('endpoint', `${e.app}/${e.network}`, e.state);
  for (const p of status.ports) add('port', p.name, p.state);
  return [...byKey.values()];
}

export const ACTOR_STATE: PerObjectFamily = {
  name: 'edgenet_actor_state',
  help: 'Actors (network instances, endpoints, ports) by state: 1 for the state each one is in, 0 for the others.',
  type: 'gauge',
  labelNames: ['kind', 'name', 'state'],
  values(status) {
    return actorStates(status).flatMap(({ kind, name, counts }) => ACTOR_STATES.map((state, i) => ({ labels: { kind, name, state }, value: counts[i] ?? 0 })));
  },
  lines(status, out) {
    const tails = ACTOR_STATES.map((state) => `",state="${state}"} `);
    for (const { kind, name, counts } of actorStates(status)) {
      const head = `edgenet_actor_state{kind="${kind}",name="${escapeLabel(name)}`;
      for (let i = 0; i < tails.length; i++) out.push(`${head}${tails[i]}${counts[i] ?? 0}`);
    }
  },
};

/** An app's rule counters, by NI, app, rule and action (the same labels twice add up, as a counter's inc() does). */
function aclSums(status: Status): { ni: string; app: string; rule: string; action: string; packets: number }[] {
  const sums = new Map<string, { ni: string; app: string; rule: string; action: string; packets: number }>();
  for (const e of status.endpoints) {
    for (const r of e.rules ?? []) {
      const key = `${e.network}\u0000${e.app}\u0000${r.rule}\u0000${r.action}`;
      const sum = sums.get(key);
      if (sum) sum.packets += r.packets;
      else sums.set(key, { ni: e.network, app: e.app, rule: r.rule, action: r.action, packets: r.packets });
    }
  }
  return [...sums.values()];
}

export const ACL_PACKETS: PerObjectFamily = {
  name: 'edgenet_acl_packets_total',
  help: "Packets counted by an app interface's rules (ACL rules by id, default deny, anti-spoofing), by NI, app, rule and action.",
  type: 'counter',
  labelNames: ['ni', 'app', 'rule', 'action'],
  values(status) {
    return aclSums(status).map(({ ni, app, rule, action, packets }) => ({ labels: { ni, app, rule, action }, value: packets }));
  },
  lines(status, out) {
    for (const { ni, app, rule, action, packets } of aclSums(status)) {
      out.push(`edgenet_acl_packets_total{ni="${escapeLabel(ni)}",app="${escapeLabel(app)}",rule="${escapeLabel(rule)}",action="${escapeLabel(action)}"} ${valueText(packets)}`);
    }
  },
};

/** The family as a prom-client metric (for a registry), its values read from `status()` when collected. */
export function promMetricOf(family: PerObjectFamily, status: () => Status): Gauge | Counter {
  const config = { name: family.name, help: family.help, labelNames: family.labelNames, registers: [] };
  if (family.type === 'gauge') {
    return new (class extends Gauge {
      override async get(): Promise<PromValues> {
        return { ...(await super.get()), values: family.values(status()) };
      }
    })(config);
  }
  return new (class extends Counter {
    override async get(): Promise<PromValues> {
      return { ...(await super.get()), values: family.values(status()) };
    }
  })(config);
}

// prom-client's escaping (registry.js): HELP escapes \ and newlines; label values quotes too
const escapeText = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (s: string): string => (/[\\\n"]/.test(s) ? escapeText(s).replace(/"/g, '\\"') : s);

/** prom-client's rendering of a value (util.js getValueAsString) */
function valueText(v: number): string {
  if (Number.isNaN(v)) return 'Nan';
  if (!Number.isFinite(v)) return v < 0 ? '-Inf' : '+Inf';
  return `${v}`;
}

/** The family's exposition text as prom-client writes it: HELP, TYPE, a line per series (no final newline). */
export function familyText(family: PerObjectFamily, status: Status): string {
  const name = escapeText(family.name);
  const lines = [`# HELP ${name} ${escapeText(family.help)}`, `# TYPE ${name} ${family.type}`];
  family.lines(status, lines);
  return lines.join('\n');
}
