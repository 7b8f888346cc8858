import type { EdgenetLogger as Logger } from './util/logger.ts';
import { silentLogger } from './util/logger.ts';
import { asyncScheduler, concat, defer, groupBy, map, mergeMap, of, Subject, throttleTime, type Observable, type Subscription } from 'rxjs';
import { createActor, type Actor, type AnyActorRef, type InspectionEvent } from 'xstate';
import { deviceMachine, type DeviceSpec } from '../machines/device.machine.ts';
import { endpointMachine } from '../machines/endpoint.machine.ts';
import { networkInstanceMachine } from '../machines/network-instance.machine.ts';
import { memberOf, systemMachine, type Plan, type SystemContext, type SystemSnapshotLike } from '../machines/system.machine.ts';
import { childLookup, MemberRegistry } from '../machines/member-registry.ts';
import { deviceActors, endpointActors, niActors } from './runtime/actors.ts';
import { startAudits } from './reconcile/drift-audit.ts';
import { recordNetns } from './reconcile/netns-record.ts';
import { acquireInstanceLock, type InstanceLock } from './reconcile/instance-lock.ts';
import { deviceStatus } from './runtime/status.ts';
import { checkPortAddresses } from './config/config-checks.ts';
import { kernelFeatureIssues } from './config/config-kernel-features.ts';
import { checkRouteGateways } from './config/ni-services-checks.ts';
import { diffResolved, resolveConfig, type ResolvedConfig } from './config/config-diff.ts';
import type { ConfigLimits } from './config/config-limits.ts';
import type { EndpointSpec } from './config/config-resolve.ts';
import { validateConfig } from './config/config-load.ts';
import { resolveLimits } from './config/config-limits.ts';
import { sendPlanInSlices } from './runtime/apply-slices.ts';
import type { Config } from './config/config-schema.ts';
import { createKernelDrivers } from './drivers/kernel-drivers.ts';
import { writesOf, type Drivers } from './drivers/drivers.ts';
import { noWrites, type WriteCounts } from './drivers/write-counter.ts';
import type { ApplyOptions, ApplyResult, Edgenet, EdgenetOptions, RefusedEndpoint, Status, Transition } from './edgenet-types.ts';
import { ConfigError } from './errors.ts';
import { Ipam } from './services/ipam.ts';
import type { JournaledFile } from './util/journaled-file.ts';
import { PortProber, probeTargets } from './services/port-probe.ts';
import { L3Moves, inOurBridge } from './services/l3-moves.ts';
import { LinkRouter } from './runtime/link-router.ts';
import { LocalServices } from './services/local-services.ts';
import { mergeResults, withoutEndpoints } from './runtime/partial-apply.ts';
import { NetnsWatcher } from './reconcile/netns-watch.ts';
import { planFromDiff, planSize } from './runtime/plan.ts';
import { NOTHING, sweepOrphans } from './reconcile/orphans.ts';
import { applyPortLinks, EMPTY_PLAN, planPortLinks, removeUnusedPortLinks, wantedPortLinks } from './reconcile/port-links.ts';
import { serialQueue } from './runtime/serial-queue.ts';
import { lastGoodText, openLastGoodConfig, readLastGoodConfig, removeRuntimeState } from './daemon/state-dir.ts';
import { copyInput, PushCache, type IncrementalPush } from './config/push-cache.ts';
import { DEFAULT_STATE_DIR as DEFAULT_STATE_DIR_PATH, migrateStateLayout, resolveLayout } from './daemon/state-layout.ts';
import { buildStatus, isSettled, SettleWatch } from './runtime/status.ts';
import { TransitionTracker } from './runtime/transitions.ts';

export { DEFAULT_RUNTIME_DIR, DEFAULT_STATE_DIR } from './daemon/state-layout.ts';
const STATUS_THROTTLE_MS = 20;
/** how long a link's event group lives after its first event (see the link pipeline in start()) */
const LINK_GROUP_MS = 1000;

export interface CreateEdgenetOptions extends EdgenetOptions {
  /** kernel drivers; default: the real ones (netlink, nft, dnsmasq) in the process's network namespace */
  drivers?: Drivers;
  /** how long apply() waits for the affected actors to settle (default 60 s) */
  settleTimeoutMs?: number;
  /** how often the firewall is audited for changes made behind edgenet's back (default 1 s; 0: never) */
  auditIntervalMs?: number;
  /** per-link window in which a storm of link events is thinned to its first and last (default 20 ms) */
  linkThrottleMs?: number;
  /**
   * a push that changes only apps is validated, resolved, reserved and diffed for what changed (default true);
   * false: every push takes the full path (the tests compare both)
   */
  incrementalPushes?: boolean;
}

type SystemActor = Actor<typeof systemMachine>;

interface Runtime {
  drivers: Drivers;
  local: LocalServices;
  root: SystemActor;
  /** the member actors (outside the root's xstate children) */
  members: MemberRegistry;
  /** the root's bookkeeping and all its actors, NIs and members */
  view: () => SystemSnapshotLike;
  device: Actor<typeof deviceMachine>;
  router: LinkRouter;
  netns: NetnsWatcher;
  l3: L3Moves;
  /** ports[].probe runner (absent: the drivers have no probe driver) */
  prober?: PortProber;
  subscriptions: Subscription[];
  /** this namespace's instance lock (real drivers only) */
  lock: InstanceLock | undefined;
}

/** Creates edgenet's actor system. Nothing touches the kernel until the first apply(). */
export function createEdgenet(opts: CreateEdgenetOptions = {}): Edgenet {
  const layout = resolveLayout({ stateDir: opts.stateDir, runtimeDir: opts.runtimeDir });
  const { stateDir, runtimeDir } = layout;
  const logger: Logger = opts.logger ?? silentLogger;
  const settleTimeoutMs = opts.settleTimeoutMs ?? 60_000;
  const auditIntervalMs = opts.auditIntervalMs ?? 1000;
  const linkThrottleMs = opts.linkThrottleMs ?? 20;
  const incrementalPushes = opts.incrementalPushes ?? true;
  /** what the last good push validated and resolved, per app (O(change) pushes) */
  const pushCache = new PushCache();
  // invalid limits are a programming error of the embedder: thrown here, not at the first push
  const limits = { limits: resolveLimits(opts.limits) };
  const transitions = new Subject<Transition>();
  /** child ids of the actors whose snapshot changed */
  const changes = new Subject<string>();
  let runningResolved: ResolvedConfig | undefined;
  /** what was last written as the last good config: its text, or the push cache's parts of it (compared by identity) */
  let persisted: string | readonly string[] | undefined;
  /** the last write of the last good config (each waits for the one before) */
  let lastGoodWrite: Promise<void> = Promise.resolve();
  /** the last good config's file (its journal open), from the first write on */
  let lastGoodFile: Promise<JournaledFile> | undefined;
  const writeLastGood = async (content: string | readonly string[]): Promise<void> => {
    lastGoodFile ??= openLastGoodConfig(stateDir);
    const file = await lastGoodFile.catch((err: unknown) => {
      lastGoodFile = undefined;
      throw err;
    });
    // lastGoodText() of the config, or the push cache's parts of that text (the journal's line found from the parts
    // that changed: no text of the whole config made per push)
    await (typeof content === 'string' ? file.write(content) : file.writeParts(content));
  };
  /** app interfaces the last (partial) apply refused */
  let refusedNow: RefusedEndpoint[] = [];
  // IPv4 address events seen (any interface), and how many there had been when the running config's port
  // addresses were checked: an apps-only push with none since keeps that check (no address dump per push)
  let addressEpoch = 0;
  let addressesCheckedAt = -1;
  let runtime: Runtime | undefined;
  let starting: Promise<Runtime> | undefined;
  let stopped = false;
  let swept = false;
  let deviceSpec: DeviceSpec = { firewall: false, forwarding: false };
  /** the running config has VLAN/bond ports: a push without them removes theirs */
  let hadPortLinks = false;

  // one line per actor transition at debug (10 000 of them in a big push); the push itself logs one info line
  const tracker = new TransitionTracker((t) => {
    // its text is made only when debug lines are written
    if (logger.isLevelEnabled?.('debug') !== false) logger.debug({ kind: t.kind, name: t.name, from: t.from, to: t.to, reason: t.reason }, `${t.kind} ${t.name}: ${t.from ?? '∅'} → ${t.to}${t.reason ? ` (${t.reason})` : ''}`);
    transitions.next(t);
  });
  const userInspect = opts.inspect;
  const inspect = (event: InspectionEvent): void => {
    tracker.observe(event);
    if (event.type === '@xstate.snapshot') changes.next((event.actorRef as AnyActorRef).id);
    if (typeof userInspect === 'function') userInspect(event);
    else userInspect?.next?.(event);
  };

  const start = async (): Promise<Runtime> => {
    // real drivers: one instance per network namespace, taken before anything is read or touched
    const lock = opts.drivers ? undefined : await acquireInstanceLock({ stateDir, runtimeDir });
    try {
      await migrateStateLayout(layout, logger);
    } catch (err) {
      await lock?.release();
      throw err;
    }
    const drivers = opts.drivers ?? createKernelDrivers({ stateDir, runtimeDir, logger, ...(lock && { instanceId: lock.instanceId }) });
    // real drivers act on this namespace: `edgenet down` elsewhere must refuse
    if (!opts.drivers) await recordNetns(runtimeDir);
    const ipam = await Ipam.open(stateDir);
    const local = new LocalServices(ipam, drivers.dhcpdns, logger);
    const l3 = new L3Moves(runtimeDir, drivers.routes, logger);
    const deps = { drivers, local, l3 };
    const machine = systemMachine.provide({
      actors: {
        networkInstance: networkInstanceMachine.provide({ actors: niActors(deps) }),
      },
    });
    const root = createActor(machine, { id: 'edgenet', inspect });
    const members = new MemberRegistry(root, endpointMachine.provide({ actors: endpointActors(deps) }));
    const view = (): SystemSnapshotLike => {
      const snap = root.getSnapshot();
      return { context: snap.context, children: childLookup(snap.children, members) };
    };
    const router = new LinkRouter(view);
    root.start();
    // what no single NI owns (the table's base, ip_forward): one actor of its own, repaired on its own
    const device = createActor(deviceMachine.provide({ actors: deviceActors(deps) }), { id: 'device', input: deviceSpec, inspect });
    device.start();
    const netns = new NetnsWatcher((change) => router.routeNetns(change), logger);
    const subscriptions = [
      drivers.links.events$
        .pipe(
          // a flapping link costs bounded work: its first event passes at once, the last one of a storm follows; a
          // link's group (~8 rxjs objects and a timer) ends 1 s after its first event (it was 60 s: a converge of
          // N taps kept N groups alive a minute; the throttle's trailing event is sent before its group ends)
          groupBy((ev) => ev.link.ifname, { duration: (g) => g.pipe(throttleTime(Math.max(LINK_GROUP_MS, 2 * linkThrottleMs), asyncScheduler, { leading: false, trailing: true })) }),
          mergeMap((g) => g.pipe(throttleTime(linkThrottleMs, asyncScheduler, { leading: true, trailing: true }))),
        )
        .subscribe({
          next: (ev) => router.route(ev),
          error: (err: unknown) => logger.error({ err }, 'link events stopped'),
        }),
      ...(drivers.bridgePorts
        ? [
            drivers.bridgePorts.events$.subscribe({
              next: (view) => router.routeBridgePort(view),
              error: (err: unknown) => logger.error({ err }, 'bridge-port events stopped'),
            }),
          ]
        : []),
      // an address removed from or added to one of our bridges: its NI repairs at once (the audit is the backstop)
      drivers.links.addressEvents$.subscribe({
        next: (ev) => {
          addressEpoch++;
          void router.routeAddress(ev);
        },
        error: (err: unknown) => logger.error({ err }, 'address events stopped'),
      }),
      drivers.dhcpdns.events$.subscribe((ev) => {
        const ni = router.childOfNetwork(ev.ni);
        if (ev.type === 'exited') {
          const how = ev.signal ? `signal ${ev.signal}` : `code ${String(ev.code)}`;
          ni?.send({ type: 'DHCPDNS_EXITED', detail: `dnsmasq (pid ${ev.pid}) exited with ${how}` });
        } else {
          ni?.send({ type: 'DHCPDNS_STARTED', pid: ev.pid });
        }
      }),
    ];
    if (auditIntervalMs > 0) {
      // changes behind our back that no event reports (rules, ip_forward, a missed address event): the owner repairs
      subscriptions.push(
        startAudits({ drivers, root: view, childOfNetwork: (n) => router.childOfNetwork(n), device, deviceSpec: () => deviceSpec, logger }, auditIntervalMs),
      );
    }
    // a port's probe verdict goes to the system actor, which hands it to the NIs NATing out of the port
    const prober = drivers.probes
      ? new PortProber({ probes: drivers.probes, routes: drivers.routes, logger, report: (port, ok, detail) => root.send({ type: 'PORT_PROBE', port, ok, detail }) })
      : undefined;
    return { drivers, local, root, members, view, device, router, netns, l3, subscriptions, lock, ...(prober && { prober }) };
  };

  const getRuntime = (): Promise<Runtime> => {
    if (stopped) return Promise.reject(new Error('edgenet is stopped'));
    starting ??= start().then((rt) => (runtime = rt));
    return starting;
  };

  const writes = (): WriteCounts => (runtime ? writesOf(runtime.drivers) : noWrites());
  const status = (): Status => {
    if (!runtime) return { networks: [], endpoints: [], ports: [], writes: writes() };
    const built = { device: deviceStatus(runtime.device.getSnapshot()), ...buildStatus(runtime.view(), runtime.local, runtime.drivers.dhcpdns, writes(), runtime.drivers.firewall) };
    const overflows = runtime.drivers.links.overflows;
    const withEvents = overflows === undefined ? built : { ...built, linkEvents: { overflows } };
    return refusedNow.length > 0 ? { ...withEvents, refused: refusedNow } : withEvents;
  };

  // computed only for subscribers, at most once per 20 ms of changes (first and last of a burst): a cold start of
  // 1000 actors must not build 1000 status documents
  const status$: Observable<Status> = defer(() =>
    concat(
      of(status()),
      changes.pipe(
        throttleTime(STATUS_THROTTLE_MS, asyncScheduler, { leading: true, trailing: true }),
        map(() => status()),
      ),
    ),
  );

  /** Resolves when the actors of `only` (child ids; all when absent) have settled; false on timeout. */
  const waitSettled = (rt: Runtime, only?: ReadonlySet<string>, current?: () => Iterable<string>): Promise<boolean> =>
    new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let sub: Subscription | undefined;
      let checking = false;
      const watch = only ? new SettleWatch(only, current) : undefined;
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        sub?.unsubscribe();
        resolve(ok);
      };
      // checked after the actors' mailboxes drain, not on every single snapshot; only what changed is looked at
      const check = (): void => {
        if (checking) return;
        checking = true;
        setImmediate(() => {
          checking = false;
          if (watch ? watch.check(rt.view()) : isSettled(rt.view())) finish(true);
        });
      };
      timer = setTimeout(() => finish(false), settleTimeoutMs);
      sub = changes.subscribe((id) => {
        watch?.touch(id);
        check();
      });
      check();
    });

  const applyNow = async (input: unknown, persist = true, opts: ApplyOptions = {}, again = 0): Promise<ApplyResult> => {
    const t0 = performance.now();
    // an apps-only change of the last good config costs what changed; anything else takes the full path
    const inc: IncrementalPush | undefined = incrementalPushes && again === 0 && refusedNow.length === 0 ? pushCache.tryIncremental(input, limits.limits) : undefined;
    const valid = inc ? inc.config : validateConfig(input, undefined, limits);
    // copied before anything is awaited: the caller may change its object meanwhile
    const raw = inc || !incrementalPushes ? undefined : copyInput(input);
    const rt = await getRuntime();
    // an apps-only change keeps the ports and NIs whose addresses were checked for the running config: unless an
    // address changed since, that check stands (at 5000 taps the address dump alone took 3.5 ms per push)
    const epoch = addressEpoch;
    const addressIssues = inc && addressesCheckedAt === epoch ? [] : await portAddressIssues(rt.drivers, valid);
    if (addressIssues.length) throw new ConfigError(addressIssues);
    // an apps-only change keeps the VLANs and port links the last good push had checked (its apps have none)
    const featureIssues = inc ? [] : await kernelFeatureIssues(rt.drivers, valid);
    if (featureIssues.length) throw new ConfigError(featureIssues);
    // VLAN and bond ports: what is to be made is checked against the kernel before anything moves
    const portLinks = wantedPortLinks(valid);
    const portLinkPlan = portLinks.length > 0 ? await planPortLinks(rt.drivers, portLinks) : EMPTY_PLAN;
    const full = inc ? inc.resolved : resolveConfig(valid);
    // addresses are reserved for the whole config first: a full range refuses the push before anything moves
    // (partial: refuses only the interfaces that get none, which are then left out of what is built)
    const freedBefore = rt.local.freedCount;
    const pathOf = (e: { key: string }): string => interfacePath(valid, e.key);
    const partial = { partial: opts.partial === true };
    const refused = inc
      ? await rt.local.planChange(inc.networks, inc.candidates, inc.removedKeys, inc.staticsOf, pathOf, partial)
      : await rt.local.plan(full.networks, full.endpoints, pathOf, partial);
    const { config, resolved } = withoutEndpoints(valid, full, new Set(refused.map((r) => r.key)));
    // (resolved.endpoints, every endpoint, is read only where a push needs it: an incremental push makes it when read)
    const { networks, ports } = resolved;
    refusedNow = refused;
    // a port's resolv file is read before its NIs' dnsmasq starts, then watched
    rt.local.watchResolvFiles(config.ports);
    // made before the actors move: a port actor finds its VLAN or bond (or sees it appear)
    await applyPortLinks(rt.drivers, portLinkPlan, logger);
    // the incremental diff is the full one's; with refusals the full one is taken on what is built
    const exact = inc !== undefined && refused.length === 0;
    const diff = exact ? inc.diff : diffResolved(runningResolved, resolved);
    const plan = planFromDiff(diff, () => resolved.endpoints);
    if (exact) rt.router.indexChange(inc.removedEndpoints, inc.candidates);
    else rt.router.index(networks, resolved.endpoints, ports);
    const nextDevice: DeviceSpec = { firewall: networks.some((n) => n.type === 'local'), forwarding: networks.some((n) => n.type === 'local' && n.portIfname !== undefined) };
    if (nextDevice.firewall !== deviceSpec.firewall || nextDevice.forwarding !== deviceSpec.forwarding) {
      deviceSpec = nextDevice;
      rt.device.send({ type: 'UPDATE', spec: nextDevice });
    }
    if (!exact) rt.netns.watchPaths(namedNetns(resolved.endpoints));
    else if (inc.netnsChanged) rt.netns.changePaths(namedNetns(inc.removedEndpoints), namedNetns(inc.candidates));
    runningResolved = resolved;
    // the cache follows the running config: an apps-only push made it, a full one (without refusals) is remembered
    let content: string | readonly string[];
    if (exact) {
      content = inc.content();
      inc.commit();
    } else {
      const text = lastGoodText(config);
      content = text;
      if (refused.length === 0 && incrementalPushes) pushCache.rebuild(raw, config, resolved, text, input);
      else pushCache.clear();
    }
    // the last good config is written (what changed: a journal line appended with O_DSYNC, on libuv's pool) while
    // the actors converge, awaited before the push returns: it is the running config from here on, a crash
    // meanwhile brings it back. An unchanged config is
    // not written again (a no-op push costs no fsync, nor a serialisation of the config); an incremental push that
    // changed something has a new text: not compared, a whole config's length. One write after the other: a push
    // that failed after its write began must not have its rename land after the next push's
    const written =
      persist && (exact ? !inc.same || content !== persisted : content !== persisted)
        ? (lastGoodWrite = lastGoodWrite.catch(() => undefined).then(() => writeLastGood(content)))
        : undefined;
    // (awaited below; a push that fails before then must not leave it unhandled)
    written?.catch(() => undefined);
    addressesCheckedAt = epoch;
    const result = summarize(plan, exact ? inc.unchanged : diff.networks.unchanged.length + diff.endpoints.unchanged.length + diff.ports.unchanged.length);
    rt.prober?.update(probeTargets(config));
    if (!swept) {
      // once, at start: a port whose addresses a crash left on a bridge that no switch NI of this config holds gets
      // them back (one still bridged is moved again, idempotently, by its port actor)
      const bridgeOf = new Map(networks.map((n) => [n.name, n.bridge]));
      const back = await rt.l3.restoreUnless(
        (ifname, bridge) => ports.some((p) => p.ifname === ifname && p.moveL3 === true && p.network !== undefined && bridgeOf.get(p.network) === bridge),
        // out of the old bridge in the same batch (only ours: the port's master still carries our mark)
        inOurBridge(rt.drivers.links),
      );
      if (back.length) logger.info({ ports: back }, 'addresses and routes moved back onto ports no switch NI bridges any more');
    }
    if (planSize(plan) > 0) {
      await sendPlanInSlices((slice) => rt.root.send({ type: 'APPLY', plan: slice }), plan);
      // NI actors this push made learn the probe verdicts the ones before them knew
      rt.prober?.resend();
      // only the actors this push concerns are watched: a push costs what it changes, not what the config holds
      // an NI or app the push replaces is a new actor, made once the old one is gone: then the ids are looked up
      // again at each check (O(plan) each: only for such a push)
      const affected = (): Set<string> => affectedIds(rt.root.getSnapshot().context, plan);
      const settled = await waitSettled(rt, affected(), replacesActors(plan) ? affected : undefined);
      if (!settled) logger.warn({ timeoutMs: settleTimeoutMs }, 'apply: some actors did not settle in time; they keep converging');
    }
    // after the NIs that used them have let go (the first push's sweep below does it too)
    if (hadPortLinks && swept) {
      await removeUnusedPortLinks(rt.drivers, portLinks, logger).catch((err: unknown) => logger.error({ err }, 'removing unused port links failed; will try again on the next push'));
    }
    hadPortLinks = portLinks.length > 0;
    if (!swept) {
      // once, at start: what edgenet owns but the config no longer holds (dropped while it was down) goes. The push
      // itself has been carried out: a failed sweep is logged and tried again on the next push, not reported as it
      try {
        await sweepOrphans(rt.drivers, { networks, endpoints: resolved.endpoints, ports, portLinks }, logger);
        const freed = await rt.local.freeOrphans();
        if (freed.length) logger.info({ freed }, 'reservations of orphans freed');
        swept = true;
      } catch (err) {
        logger.error({ err }, 'removing orphans failed; will try again on the next push');
      }
    }
    // the reservations this push made were written beside the kernel work (dnsmasq waited for them); a failed write
    // is this push's error
    await rt.local.saved();
    if (persist) {
      await written;
      persisted = content;
    }
    if (refused.length > 0) {
      // the removals this push made freed addresses: a refused interface is built now, without a push of its own
      if (rt.local.freedCount > freedBefore && again < 3) return mergeResults(result, await applyNow(input, persist, opts, again + 1));
      logger.warn({ refused }, `${refused.length} app interface(s) refused: no address left`);
      result.refused = refused;
    }
    logger.info(pushSummary(result, performance.now() - t0), 'config applied');
    return result;
  };

  // pushes are serialized: each one is diffed against the result of the one before
  const serial = serialQueue();
  // set when stop() begins: a push after that is refused (the pushes before it run, then the files close)
  let stopping = false;
  const enqueue = (input: unknown, persist: boolean, opts?: ApplyOptions): Promise<ApplyResult> =>
    stopping ? Promise.reject(new Error('edgenet is stopping')) : serial(() => applyNow(input, persist, opts));

  let stopDone: Promise<void> | undefined;
  const stopNow = async (): Promise<void> => {
    stopping = true;
    await serial(async () => undefined);
    // a push that failed may have left its write of the last good config under way
    await lastGoodWrite.catch(() => undefined);
    await lastGoodFile?.then((f) => f.close()).catch(() => undefined);
    lastGoodFile = undefined;
    stopped = true;
    const rt = runtime;
    if (!rt) return;
    for (const s of rt.subscriptions) s.unsubscribe();
    rt.prober?.close();
    // members first, each on its own (O(1) each); then the root and its NIs
    rt.members.stopAll();
    rt.root.stop();
    rt.device.stop();
    await rt.netns.close();
    // (a push refused after its reservations' write began leaves that write under way)
    await rt.local.saved().catch(() => undefined);
    await rt.local.close();
    await rt.drivers.dhcpdns.close();
    await rt.drivers.links.close();
    await rt.drivers.bridgePorts?.close();
    await rt.lock?.release();
    changes.complete();
    transitions.complete();
  };

  const net: Edgenet = {
    apply: (input: unknown, opts?: ApplyOptions) => enqueue(input, true, opts),
    status,
    writes,
    settled: () => (runtime ? isSettled(runtime.view()) : true),
    status$,
    transitions$: transitions.asObservable() as Observable<Transition>,
    stop(): Promise<void> {
      // a second stop() waits for the first
      stopDone ??= stopNow();
      return stopDone;
    },
    async teardown(): Promise<void> {
      const rt = await getRuntime();
      // the last good config stays what it was: `run` without -c brings the data plane back
      await enqueue({}, false);
      await sweepOrphans(rt.drivers, NOTHING, logger);
      await rt.drivers.firewall.removeAll();
      await net.stop();
      await removeRuntimeState(stateDir);
      if (runtimeDir !== stateDir) await removeRuntimeState(runtimeDir);
    },
  };
  return net;
}

/** Resumes the last good config of a state dir, if there is one (undefined otherwise). */
export async function lastGoodConfig(stateDir = DEFAULT_STATE_DIR_PATH, limits?: Partial<ConfigLimits>): Promise<Config | undefined> {
  return readLastGoodConfig(stateDir, limits);
}

/** Local NI subnets that overlap an address on a port: only the ports are read, not every link. */
async function portAddressIssues(drivers: Drivers, config: Config) {
  if (!config.networks.some((n) => n.type === 'local')) return [];
  const ifindexes = new Map<string, number>();
  for (const p of config.ports) {
    const link = await drivers.links.get(p.ifname);
    if (link) ifindexes.set(p.ifname, link.ifindex);
  }
  if (ifindexes.size === 0) return [];
  const addrs = await drivers.links.listAddresses();
  const addressesOf = (ifname: string): { address: string; prefixlen: number }[] => {
    const ifindex = ifindexes.get(ifname);
    return addrs.filter((a) => a.ifindex === ifindex).map((a) => ({ address: a.address, prefixlen: a.prefixlen }));
  };
  // a route's gateway off the NI's subnet must be on one of its ports' subnets
  return [...checkPortAddresses(config, addressesOf), ...checkRouteGateways(config, addressesOf)];
}

/** The namespace paths of veth endpoints (pids are not watched). */
function namedNetns(endpoints: readonly EndpointSpec[]): string[] {
  return endpoints.flatMap((e) => (e.kind === 'veth' && typeof e.netns === 'string' ? [e.netns] : []));
}

/** Does the push delete and make anew an NI or a member of the same name (a new actor, made after the old one)? */
function replacesActors(plan: Plan): boolean {
  const replaced = <T>(deleted: readonly string[], created: readonly T[], key: (c: T) => string): boolean => {
    if (deleted.length === 0 || created.length === 0) return false;
    const gone = new Set(deleted);
    return created.some((c) => gone.has(key(c)));
  };
  return replaced(plan.networks.delete, plan.networks.create, (c) => c.name) || replaced(plan.members.delete, plan.members.create, (c) => c.key);
}

/** Child ids of the actors a plan moves (as the system actor has recorded them so far). */
function affectedIds(ctx: SystemContext, plan: Plan): Set<string> {
  const ids = new Set<string>();
  const ni = (name: string): void => void (ctx.networks[name] && ids.add(ctx.networks[name].id));
  const member = (key: string): void => {
    const m = memberOf(ctx, key);
    if (m) ids.add(m.id);
  };
  for (const spec of plan.networks.create) ni(spec.name);
  for (const { spec } of plan.networks.update) ni(spec.name);
  plan.networks.delete.forEach(ni);
  for (const spec of plan.members.create) member(spec.key);
  for (const { spec } of plan.members.update) member(spec.key);
  plan.members.delete.forEach(member);
  return ids;
}

/** `apps[i].interfaces[j]` of an endpoint key, for error messages. */
function interfacePath(config: Config, key: string): string {
  for (const [i, app] of config.apps.entries()) {
    for (const [j, itf] of app.interfaces.entries()) if (`${app.name}/${itf.network}` === key) return `apps[${i}].interfaces[${j}]`;
  }
  return key;
}

/** Names listed in the push's log line up to this many per kind; beyond, only the count. */
const SUMMARY_NAMES = 20;

/** The one info line of a push: counts, the time it took, and the names when there are few. */
function pushSummary(result: ApplyResult, ms: number): Record<string, unknown> {
  const names = (xs: string[]): string[] | undefined => (xs.length > 0 && xs.length <= SUMMARY_NAMES ? xs : undefined);
  return {
    created: result.created.length,
    updated: result.updated.length,
    deleted: result.deleted.length,
    unchanged: result.unchanged,
    ms: Math.round(ms * 10) / 10,
    ...(names(result.created) && { createdNames: names(result.created) }),
    ...(names(result.updated) && { updatedNames: names(result.updated) }),
    ...(names(result.deleted) && { deletedNames: names(result.deleted) }),
    ...(result.refused && { refused: result.refused.length }),
  };
}

function summarize(plan: Plan, unchanged: number): ApplyResult {
  const niName = (n: string): string => `network ${n}`;
  const memberName = (k: string): string => (k.startsWith('port:') ? `port ${k.slice(5)}` : `endpoint ${k}`);
  const created = [...plan.networks.create.map((n) => niName(n.name)), ...plan.members.create.map((m) => memberName(m.key))];
  const deleted = [...plan.networks.delete.map(niName), ...plan.members.delete.map(memberName)];
  const updated = [...plan.networks.update.map((u) => niName(u.spec.name)), ...plan.members.update.map((u) => memberName(u.spec.key))];
  // a rebuilt object is deleted and created: report it once, as updated
  const deletedSet = new Set(deleted);
  const rebuilt = new Set(created.filter((c) => deletedSet.has(c)));
  return {
    created: created.filter((c) => !rebuilt.has(c)),
    updated: [...updated, ...rebuilt],
    deleted: deleted.filter((d) => !rebuilt.has(d)),
    unchanged,
  };
}

