// Prometheus metrics of one Edgenet: states are read from status() and writes from the drivers' counters at scrape
// time (nothing is stored twice); transitions and dnsmasq restarts are counted off transitions$; apply durations are timed by the caller.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, prometheusContentType } from 'prom-client';
import type { Subscription } from 'rxjs';
import type { ActorState, ApplyResult, Edgenet, Transition } from '../edgenet-types.ts';
import { ConfigError } from '../errors.ts';
import type { WriteKind } from '../drivers/write-counter.ts';
import { packageVersion } from '../util/package-info.ts';
import { ACL_PACKETS, ACTOR_STATE, ACTOR_STATES, familyText, promMetricOf } from './metrics-per-object.ts';

/** Transitions also end in `deleted` (deleting → deleted when an object goes). */
const TRANSITION_STATES: readonly ActorState[] = [...ACTOR_STATES, 'deleted'];
const KINDS: readonly Transition['kind'][] = ['network', 'endpoint', 'port', 'device'];
const WRITE_KINDS: readonly WriteKind[] = ['link', 'address', 'nft', 'dnsmasqStart', 'dnsmasqReload', 'sysctl', 'route', 'conntrack'];

/** Buckets for apply(): from a no-op diff (ms) to a full rebuild waiting on dnsmasq and slow links (tens of s). */
const APPLY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export type ApplyOutcome = 'ok' | 'rejected' | 'failed';

export interface EdgenetMetrics {
  readonly registry: Registry;
  /** `text/plain; version=0.0.4; charset=utf-8` */
  readonly contentType: string;
  /**
   * The exposition text, with states read from status() and writes from writes() now. `names`: only these families (unknown
   * names give nothing, as a Prometheus filter that matches nothing); a status is built only for a family that
   * needs one, so a scrape of a few small families costs what they are, not what the device holds.
   */
  metrics(names?: readonly string[]): Promise<string>;
  /** Wraps an apply so its duration lands in `edgenet_apply_duration_seconds{result}`. */
  instrumentApply<A extends unknown[]>(apply: (...args: A) => Promise<ApplyResult>): (...args: A) => Promise<ApplyResult>;
  /** Stops counting transitions. */
  close(): void;
}

/**
 * What `edgenet_dnsmasq_restarts_total` counts: an NI's dnsmasq exited while the NI was serving (ready → degraded
 * with the exit as the reason); the DHCP/DNS supervisor restarts it with backoff. An exit while the NI is already
 * degraded for another reason is not a transition, so it is not counted.
 */
export function isDnsmasqRestart(t: Transition): boolean {
  return t.kind === 'network' && t.to === 'degraded' && (t.from === 'ready' || t.from === 'degraded') && /\bdnsmasq\b/.test(t.reason ?? '');
}

/**
 * The families a `/metrics?name=<family>[&name=…]` request asks for (undefined: all), or the error of a request that
 * asks for something else: the API socket and `--metrics-listen` read it the same way.
 */
export function metricsQuery(url: string): { names: string[] | undefined } | { error: string } {
  const query = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
  const bad = [...query.keys()].find((k) => k !== 'name');
  if (bad !== undefined) return { error: `unknown query parameter "${bad}" for /metrics (only name=<metric family>)` };
  const names = query.getAll('name');
  const badName = names.find((n) => !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(n));
  if (badName !== undefined) return { error: `name=${JSON.stringify(badName)} is not a metric family name ([a-zA-Z_:][a-zA-Z0-9_:]*)` };
  return { names: names.length > 0 ? names : undefined };
}

export interface MetricsOptions {
  /**
   * prom-client's default process and Node metrics (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
   * `nodejs_eventloop_lag_seconds`, …) in this registry too; the daemon's /metrics has them, an agent that serves
   * its own default metrics leaves this off (the default).
   */
  processMetrics?: boolean;
}

/**
 * `fn()` computed once per scrape: the collectors of one scrape share one status (each building its own cost a whole
 * status of every endpoint, six times a scrape). `scrape` runs a scrape with a fresh value, forgotten after it.
 */
function oncePerScrape<T>(fn: () => T): { get: () => T; scrape: <R>(run: () => Promise<R>) => Promise<R> } {
  let cached: { value: T } | undefined;
  let depth = 0;
  return {
    get: () => {
      if (depth === 0) return fn();
      cached ??= { value: fn() };
      return cached.value;
    },
    scrape: async (run) => {
      depth++;
      try {
        return await run();
      } finally {
        if (--depth === 0) cached = undefined;
      }
    },
  };
}

export function createMetrics(net: Pick<Edgenet, 'status' | 'writes' | 'transitions$'>, opts: MetricsOptions = {}): EdgenetMetrics {
  // prom-client's metrics here; `registry` has them and, after them, the per-object families (metrics-per-object.ts)
  const small = new Registry();
  const statusMemo = oncePerScrape(() => net.status());
  const status = statusMemo.get;
  if (opts.processMetrics) collectDefaultMetrics({ register: small });

  new Gauge({
    name: 'edgenet_build_info',
    help: 'Always 1; the labels say which edgenet (version) runs on which Node.js (node).',
    labelNames: ['version', 'node'] as const,
    registers: [small],
  }).set({ version: packageVersion(), node: process.version }, 1);

  const lastApply = new Gauge({
    name: 'edgenet_last_apply_timestamp_seconds',
    help: 'Unix time of the last config apply that succeeded (settled); 0 before the first one.',
    registers: [small],
  });
  lastApply.set(0);

  new Gauge({
    name: 'edgenet_dhcp_leases',
    help: "DHCP leases a local NI's dnsmasq has handed out (from its lease file at scrape time), by NI.",
    labelNames: ['ni'] as const,
    registers: [small],
    collect() {
      this.reset();
      for (const n of status().networks) if (n.type === 'local') this.set({ ni: n.name }, n.leases?.length ?? 0);
    },
  });

  new Counter({
    name: 'edgenet_kernel_writes_total',
    help: 'Kernel writes since start, by kind (link, address, nft, dnsmasqStart, dnsmasqReload, sysctl, route, conntrack).',
    labelNames: ['kind'] as const,
    registers: [small],
    collect() {
      // the drivers count; the counter only reports their totals (read without a status: a scrape of this family
      // alone costs nothing at 10 000 endpoints)
      const writes = net.writes();
      this.reset();
      for (const kind of WRITE_KINDS) this.inc({ kind }, writes[kind]);
    },
  });

  new Counter({
    name: 'edgenet_link_event_overflows_total',
    help: 'Overflows of the link event socket since start (events were lost; the links were resynchronised).',
    registers: [small],
    collect() {
      this.reset();
      this.inc(status().linkEvents?.overflows ?? 0);
    },
  });

  const transitions = new Counter({
    name: 'edgenet_transitions_total',
    help: 'State transitions of network instance, endpoint, port and device actors, by kind and target state.',
    labelNames: ['kind', 'to'] as const,
    registers: [small],
  });
  for (const kind of KINDS) for (const to of TRANSITION_STATES) transitions.inc({ kind, to }, 0);

  const dnsmasqRestarts = new Counter({
    name: 'edgenet_dnsmasq_restarts_total',
    help: "Exits of a serving NI's dnsmasq (ready -> degraded because of it), each followed by a supervised restart, by NI.",
    labelNames: ['ni'] as const,
    registers: [small],
    collect() {
      // every local NI has its series from the start (at 0), so rate() and alerts see it before the first restart
      for (const n of status().networks) if (n.type === 'local') this.inc({ ni: n.name }, 0);
    },
  });

  const applyDuration = new Histogram({
    name: 'edgenet_apply_duration_seconds',
    help: 'Duration of config applies, until every affected actor settled; result: ok, rejected (bad config), failed.',
    labelNames: ['result'] as const,
    buckets: APPLY_BUCKETS,
    registers: [small],
  });
  for (const result of ['ok', 'rejected', 'failed'] satisfies ApplyOutcome[]) applyDuration.zero({ result });

  const sub: Subscription = net.transitions$.subscribe((t) => {
    transitions.inc({ kind: t.kind, to: t.to });
    if (isDnsmasqRestart(t)) dnsmasqRestarts.inc({ ni: t.name });
  });

  const perObject = [ACTOR_STATE, ACL_PACKETS];
  const full = Registry.merge([small]);
  for (const f of perObject) full.registerMetric(promMetricOf(f, status));
  return {
    registry: full,
    contentType: prometheusContentType,
    // the text full.metrics() gives, the per-object families written by edgenet (metrics-per-object.ts)
    metrics: (names) =>
      statusMemo.scrape(async () => {
        if (names !== undefined) {
          // prom-client's process and Node families are collected together, in order, as a whole scrape collects
          // them: some are set by another's collect (the event-loop lag percentiles by nodejs_eventloop_lag_seconds,
          // the heap sizes by the total's); edgenet's own are collected alone (several read a whole status)
          const single = async (name: string): Promise<string> => (await small.getSingleMetricAsString(name)).replace(/\n$/, '');
          const defaults = new Map<string, string>();
          if (names.some((n) => !n.startsWith('edgenet_'))) {
            for (const m of small.getMetricsAsArray()) if (!m.name.startsWith('edgenet_')) defaults.set(m.name, await single(m.name));
          }
          const texts: string[] = [];
          for (const name of new Set(names)) {
            const family = perObject.find((f) => f.name === name);
            if (family) texts.push(familyText(family, status()));
            else if (!name.startsWith('edgenet_')) {
              const text = defaults.get(name);
              if (text !== undefined) texts.push(text);
            } else if (small.getSingleMetric(name)) texts.push(await single(name));
          }
          return texts.length === 0 ? '' : `${texts.join('\n\n')}\n`;
        }
        const head = await small.metrics();
        const s = status();
        return `${head.slice(0, -1)}\n\n${perObject.map((f) => familyText(f, s)).join('\n\n')}\n`;
      }),
    instrumentApply(apply) {
      return async (...args) => {
        const end = applyDuration.startTimer();
        try {
          const result = await apply(...args);
          end({ result: 'ok' });
          lastApply.set(Date.now() / 1000);
          return result;
        } catch (err) {
          end({ result: err instanceof ConfigError ? 'rejected' : 'failed' });
          throw err;
        }
      };
    },
    close: () => sub.unsubscribe(),
  };
}
