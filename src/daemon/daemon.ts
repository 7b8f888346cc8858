// `edgenet run`: applies the config file (or, without one, resumes the state dir's last good config), re-applies it
// when it changes (unless --no-watch) and on SIGHUP, serves the API (and metrics) on the unix socket, optionally
// serves the Stately inspector on loopback, tells a supervisor (sd_notify) READY once the first apply has settled,
// and on SIGTERM/SIGINT stops the actors while leaving the data plane running. POST /v1/teardown removes everything
// edgenet owns and then stops it.
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { EdgenetLogger as Logger } from '../util/logger.ts';
import { createDaemonLogger } from './daemon-logger.ts';
import { watch } from 'chokidar';
import type { InspectionEvent } from 'xstate';
import type { ApplyOptions, ApplyResult, Edgenet, EdgenetOptions } from '../edgenet-types.ts';
import { lookupApp, startMetadataService, userDataOf, type MetadataService } from '../services/metadata-service.ts';
import { isDeepFrozen } from '../config/push-cache.ts';
import { ConfigError, errorMessage, formatIssues } from '../errors.ts';
import { serializeApply, startApiServer } from '../api/server.ts';
import type { ApiServer } from '../api/server.ts';
import { inEveTerms, loadDocumentFile, logEveConversion } from '../eve/eve-load.ts';
import { EveRecord } from '../eve/eve-record.ts';
import { eveApplyAnswer, formatObjectErrors } from '../eve/eve-object-errors.ts';
import type { AppliableDocument, ConfigFormat } from '../eve/eve-load.ts';
import type { InspectorServer } from '../inspector.ts';
import type { LiveViewServer } from '../ui/live-view.ts';
import { createMetrics } from './metrics.ts';
import { MallocTrimmer } from './malloc-tuning.ts';
import { startMetricsListener, type ListenAddress, type MetricsListener } from './metrics-listen.ts';
import { LAST_GOOD_CONFIG, readLastGoodConfig } from './state-dir.ts';
import { bridgeName } from '../util/names.ts';
import { ConfigOwnership } from './config-source.ts';
import { validateConfig } from '../config/config-load.ts';
import { createSystemdNotifier, type Notifier } from './sd-notify.ts';
import { migrateStateLayout, resolveLayout } from './state-layout.ts';
import { InstanceLockError } from '../reconcile/instance-lock.ts';
import type { ConfigLimits } from '../config/config-limits.ts';

export interface DaemonOptions {
  /** the config file; absent: resume the last good config of the state dir (no file to watch then) */
  configPath?: string;
  /** the config file's format; default: `eve` when the document has `networkInstances`, else `edgenet` */
  format?: ConfigFormat;
  /** EVE: a JSON map of tap name overrides (`<app uuid>/<adapter index or name>` → ifname), read on every apply */
  tapNamesPath?: string;
  /** persistent state (last good config, reservations); default /var/lib/edgenet; alone, it holds the runtime files too */
  stateDir?: string;
  /** runtime files (socket, dnsmasq's); default: stateDir when given, else /run/edgenet */
  runtimeDir?: string;
  /** default `<runtimeDir>/api.sock` */
  socketPath?: string;
  /** re-apply the config file when it changes (default true; SIGHUP re-applies it either way) */
  watch?: boolean;
  /** with a config file: accept API pushes that differ from it (default false: 409) */
  allowApiPush?: boolean;
  /** the supervisor to tell READY/STOPPING (default: sd_notify through systemd-notify when $NOTIFY_SOCKET is set) */
  notifier?: Notifier;
  /** a fatal start error is also written here for humans (the CLI: stderr), besides the JSON log */
  stderr?: (text: string) => void;
  /** serve the actor system to the Stately inspector on 127.0.0.1 (`true`: port 8787); events are also logged at debug */
  inspect?: boolean | { port?: number; uiUrl?: string };
  /** the built-in live view (src/ui/), on 127.0.0.1 unless `host` says otherwise (`true`: port 8788) */
  ui?: boolean | { port?: number; host?: string };
  logger?: Logger;
  /** pino level when no logger is given (default: $EDGENET_LOG_LEVEL, else info) */
  logLevel?: string;
  /** stops the daemon like SIGTERM does (tests, embedding) */
  signal?: AbortSignal;
  /** caps a config must stay within (config-limits.ts) */
  limits?: Partial<ConfigLimits>;
  /** also serve GET /metrics over TCP here (`--metrics-listen HOST:PORT`; port 0: the kernel picks one) */
  metricsListen?: ListenAddress;
  /** called once the API is serving */
  onReady?: (info: { socketPath: string; inspectorUrl?: string; uiUrl?: string; metricsUrl?: string }) => void;
}

/** The bridges of an applied config's switch NIs (the config has been validated by the apply). */
function switchBridgesOf(config: unknown): string[] {
  const networks = (config as { networks?: readonly { name: string; type: string }[] } | null)?.networks ?? [];
  return networks.filter((n) => n.type === 'switch').map((n) => bridgeName(n.name));
}

/** What the daemon needs from the core; replaced by fakes in tests. */
export interface DaemonDeps {
  createEdgenet(opts: EdgenetOptions): Edgenet;
  /** `limits`: the daemon's caps (--max-endpoints …), the same as a push is checked against */
  loadConfigFile(path: string, options?: { limits?: Partial<ConfigLimits> }): unknown;
  /** the state dir's last good config (undefined: none); a corrupt one rejects with a ConfigError naming the file */
  lastGoodConfig?(stateDir: string, limits?: Partial<ConfigLimits>): Promise<unknown>;
}

async function defaultDeps(): Promise<DaemonDeps> {
  const [{ createEdgenet, lastGoodConfig }, { loadConfigFile }] = await Promise.all([import('../edgenet.ts'), import('../config/config-load.ts')]);
  return { createEdgenet, loadConfigFile, lastGoodConfig };
}

/** Exit codes of the daemon (same table as the CLI's). */
const DAEMON_EXIT = { ok: 0, rejected: 1, failure: 3 } as const;
const STOP_TIMEOUT_MS = 10_000;
const NOTIFY_STOP_WAIT_MS = 2000;

function inspectionLogger(log: Logger): (ev: InspectionEvent) => void {
  const who = (ev: InspectionEvent): string => (ev.actorRef as { id?: string }).id ?? ev.actorRef.sessionId;
  return (ev) => {
    if (log.isLevelEnabled?.('debug') === false) return;
    if (ev.type === '@xstate.event') log.debug({ actor: who(ev), event: ev.event.type }, 'inspect: event');
    else if (ev.type === '@xstate.snapshot') log.debug({ actor: who(ev), value: (ev.snapshot as { value?: unknown }).value }, 'inspect: snapshot');
    else if (ev.type === '@xstate.actor') log.debug({ actor: who(ev) }, 'inspect: actor');
  };
}

/**
 * Resolves with the reason on the first SIGTERM, SIGINT or abort. The handlers stay until `dispose`, so a second
 * signal during shutdown (Ctrl-C reaches the whole process group, then a supervisor's SIGTERM) cannot kill the
 * process halfway through stopping; the stop timeout bounds the wait instead.
 */
function stopRequest(signal: AbortSignal | undefined, log: Logger): { reason: Promise<string>; request: (why: string) => void; dispose: () => void } {
  let dispose = (): void => undefined;
  let request = (_why: string): void => undefined;
  const reason = new Promise<string>((resolvePromise) => {
    let requested = false;
    const done = (why: string): void => {
      if (requested) {
        log.info(`${why}: already stopping`);
        return;
      }
      requested = true;
      resolvePromise(why);
    };
    request = done;
    const onTerm = (): void => done('SIGTERM');
    const onInt = (): void => done('SIGINT');
    const onAbort = (): void => done('stop requested');
    dispose = () => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      signal?.removeEventListener('abort', onAbort);
    };
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
    if (signal?.aborted) done('stop requested');
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
  return { reason, request: (why) => request(why), dispose: () => dispose() };
}

export async function runDaemon(opts: DaemonOptions, deps?: DaemonDeps): Promise<number> {
  const log: Logger = opts.logger ?? createDaemonLogger(opts.logLevel ?? process.env.EDGENET_LOG_LEVEL ?? 'info');
  const layout = resolveLayout({ stateDir: opts.stateDir, runtimeDir: opts.runtimeDir, socketPath: opts.socketPath });
  const { stateDir, runtimeDir, socketPath } = layout;
  const configPath = opts.configPath === undefined ? undefined : resolve(opts.configPath);
  const { createEdgenet, loadConfigFile, lastGoodConfig = readLastGoodConfig } = deps ?? (await defaultDeps());
  const lastGoodPath = join(stateDir, LAST_GOOD_CONFIG);
  // a file, the last good config and a push are all checked against the same caps
  const limitsOption = opts.limits ? { limits: opts.limits } : {};
  const notifier = opts.notifier ?? createSystemdNotifier({ logger: log });
  /** logged, and for a human on stderr: the reason the daemon does not start */
  const fatal = (fields: Record<string, unknown>, message: string): void => {
    log.error(fields, message);
    opts.stderr?.(`edgenet: ${message}\n`);
  };

  // an old single state dir (everything in the runtime dir) is migrated once, before anything reads the state
  try {
    await migrateStateLayout(layout, log);
  } catch (err) {
    fatal({ err, stateDir, runtimeDir }, `cannot migrate the old state dir ${runtimeDir} to ${stateDir}: ${errorMessage(err)}`);
    return DAEMON_EXIT.failure;
  }

  // Read before anything else: a missing or corrupt last good config must leave the kernel as it is.
  let resumed: unknown;
  try {
    resumed = await lastGoodConfig(stateDir, opts.limits);
  } catch (err) {
    const why = err instanceof ConfigError ? err.message : `cannot read ${lastGoodPath}: ${errorMessage(err)}`;
    // with a file it is only going to be replaced: reported, never trusted
    if (configPath !== undefined) log.warn({ file: lastGoodPath }, `${why} (it will be replaced by ${configPath})`);
    else {
      fatal({ file: lastGoodPath }, `cannot resume: ${why}`);
      return DAEMON_EXIT.rejected;
    }
  }
  if (configPath === undefined && resumed === undefined) {
    fatal({ stateDir }, `no config to run: pass -c <file> (there is no last good config ${lastGoodPath} to resume)`);
    return DAEMON_EXIT.rejected;
  }

  await mkdir(stateDir, { recursive: true });
  await mkdir(runtimeDir, { recursive: true });
  // Started before the actors, so the inspector and the live view see every one of them from its creation. Both
  // require the token in <runtime-dir>/ui-token (root only): actor contexts hold the whole config.
  let inspector: InspectorServer | undefined;
  let liveView: LiveViewServer | undefined;
  let uiToken: string | undefined;
  if (opts.inspect || opts.ui) {
    try {
      // loaded only when asked for: the inspector's and the live view's code stay out of a plain daemon
      const { newUiToken, writeUiFiles } = await import('../ui/ui-token.ts');
      const token = newUiToken();
      uiToken = token;
      if (opts.inspect) {
        const { startInspector } = await import('../inspector.ts');
        const o = typeof opts.inspect === 'object' ? opts.inspect : {};
        inspector = await startInspector({ ...(o.port !== undefined && { port: o.port }), ...(o.uiUrl !== undefined && { uiUrl: o.uiUrl }), token, logger: log });
      }
      if (opts.ui) {
        const { startLiveView } = await import('../ui/live-view.ts');
        const o = typeof opts.ui === 'object' ? opts.ui : {};
        liveView = await startLiveView({
          ...(o.port !== undefined && { port: o.port }),
          ...(o.host !== undefined && { host: o.host }),
          token,
          ...(inspector && { inspectorUrl: inspector.url }),
          logger: log,
        });
      }
      await writeUiFiles(runtimeDir, token, { ...(liveView && { url: liveView.url }), ...(inspector && { inspectorUrl: inspector.baseUrl }), pid: process.pid });
    } catch (err) {
      await inspector?.close().catch(() => undefined);
      await liveView?.close().catch(() => undefined);
      fatal({ err }, `edgenet failed: ${errorMessage(err)}`);
      return DAEMON_EXIT.failure;
    }
  }
  const logInspection = inspectionLogger(log.child({ component: 'inspect' }));
  const served = inspector;
  const viewed = liveView;
  const inspect =
    served || viewed
      ? (ev: InspectionEvent): void => {
          served?.inspect(ev);
          viewed?.observe(ev);
          logInspection(ev);
        }
      : undefined;
  const net = createEdgenet({ stateDir, runtimeDir, logger: log, ...(inspect ? { inspect } : {}), ...(opts.limits ? { limits: opts.limits } : {}) });
  const metrics = createMetrics(net, { processMetrics: true });
  // before the first apply, so a scrape sees the converge; a port in use is fatal like the inspector's
  let metricsListener: MetricsListener | undefined;
  if (opts.metricsListen) {
    try {
      metricsListener = await startMetricsListener(metrics, opts.metricsListen);
      log.info({ url: metricsListener.url }, 'metrics listening');
    } catch (err) {
      metrics.close();
      await inspector?.close().catch(() => undefined);
      await liveView?.close().catch(() => undefined);
      fatal({ err }, `cannot serve metrics on ${opts.metricsListen.host}:${opts.metricsListen.port}: ${errorMessage(err)}`);
      return DAEMON_EXIT.failure;
    }
  }
  // timed per apply, not including the wait behind an earlier push
  const serialized = serializeApply({ apply: metrics.instrumentApply((config: unknown, o?: ApplyOptions) => net.apply(config, o)) });
  // the metadata service answers each app with the user data of the config that is running
  // read from an unchanging config (the API's) when an app first asks after a push, not at every push (O(apps) each)
  let userData: Map<string, string> | undefined = new Map<string, string>();
  /** the config userData was read from (the API hands the same frozen object for the same body again) */
  let userDataFrom: unknown;
  const userDataNow = (): Map<string, string> => (userData ??= userDataOf(userDataFrom));
  // what the applies and the actors' transitions (link flaps, app restarts) freed goes back to the kernel once they
  // pause for a second (malloc-tuning.ts)
  const mallocTrimmer = new MallocTrimmer({
    report: (took) => {
      if (took.gcMs === undefined) return;
      const what = { gcMs: Math.round(took.gcMs), trimMs: Math.round(took.trimMs * 10) / 10, grownMiB: Math.round(took.grownBytes / 1048576) };
      log.info(what, took.why === 'large apply' ? 'memory handed back after a large apply (two full GCs, malloc trim)' : 'memory handed back after the heap grew (two full GCs, malloc trim)');
    },
  });
  const trimAfterTransitions = net.transitions$.subscribe(() => mallocTrimmer.soon());
  const apply = async (config: unknown, o?: ApplyOptions): Promise<ApplyResult> => {
    const result = await serialized(config, o);
    mallocTrimmer.soon(result.created.length + result.updated.length + result.deleted.length);
    // (the API's bodies are unchanging without being frozen: isDeepFrozen knows them; a walk of every app per push
    // was what this saved, and Object.isFrozen had missed them)
    const unchangingConfig = isDeepFrozen(config);
    if (config !== userDataFrom || !unchangingConfig) userData = unchangingConfig ? undefined : userDataOf(config);
    userDataFrom = config;
    // switch NIs come and go only with an apply: address learning follows their bridges from here
    eveReporter?.refresh(switchBridgesOf(config));
    return result;
  };
  let metadata: MetadataService | undefined;

  const eveRecord = new EveRecord();
  // EVE's NI info and metrics (GET /v1/eve/*): loaded only when the real core runs (tests' fakes have no kernel)
  const eveReporter = deps ? undefined : (await import('../eve/eve-info.ts')).createEveReporter({
        status: () => eveRecord.statusOf(net.status()),
        onError: (err) => log.warn({ err }, `learning app addresses on switch NIs failed: ${errorMessage(err)}`),
      });
  const source = configPath ?? lastGoodPath;
  const ownership = new ConfigOwnership(configPath, opts.allowApiPush ?? false);
  // the live view shows what GET /v1/status shows
  liveView?.attach({
    status: () => {
      const status = eveRecord.statusOf(net.status());
      const from = ownership.source;
      return from ? { ...status, source: from } : status;
    },
    transitions$: net.transitions$,
  });
  /** the validated config as JSON: what a push is compared with (only when pushes are guarded) */
  const canonical = (config: unknown): string | undefined => (ownership.guarded ? JSON.stringify(validateConfig(config, undefined, limitsOption)) : undefined);
  let lastError: string | undefined;
  let lockRefused = false;
  const applyFile = async (why: string): Promise<boolean> => {
    try {
      const doc: AppliableDocument =
        configPath === undefined ? { config: resumed } : await loadDocumentFile(configPath, { format: opts.format, tapNamesPath: opts.tapNamesPath, loadEdgenet: (path: string) => loadConfigFile(path, limitsOption) });
      if (doc.eve) logEveConversion(log, doc.eve, source);
      const result = await apply(doc.config, doc.eve ? { partial: true } : undefined).catch((err: unknown) => {
        throw inEveTerms(err, doc);
      });
      eveRecord.applied(doc.eve);
      ownership.appliedFromFile(configPath === undefined ? 'last-good' : 'file', source, canonical(doc.config));
      if (doc.eve) for (const line of formatObjectErrors(eveApplyAnswer(result, doc.eve).errors)) log.warn({ file: source }, `EVE config: ${line}`);
      log.info({ file: source, created: result.created, updated: result.updated, deleted: result.deleted, unchanged: result.unchanged }, `config applied (${why})`);
      return true;
    } catch (err) {
      if (err instanceof InstanceLockError) {
        // another instance runs in this namespace: nothing was read or touched
        lockRefused = true;
        lastError = err.message;
        log.error({ inode: err.inode, holder: err.holder }, err.message);
      } else if (err instanceof ConfigError) {
        lastError = `config rejected: ${formatIssues(err.issues, err.source ?? source)}`;
        log.error({ file: source, issues: err.issues }, `config rejected, running config unchanged: ${err.message}`);
      } else {
        lastError = `applying ${source} failed: ${errorMessage(err)}`;
        log.error({ err, file: source }, `applying config failed: ${errorMessage(err)}`);
      }
      return false;
    }
  };

  let server: ApiServer | undefined;
  let watcher: ReturnType<typeof watch> | undefined;
  let code: number = DAEMON_EXIT.ok;
  let timer: NodeJS.Timeout | undefined;
  let started = false;
  let stopping = false;
  let reloadPending = false;
  let stoppingSent: Promise<void> = Promise.resolve();
  // Handlers go in first: a SIGTERM during the first apply must still stop cleanly, not kill the process.
  const stop = stopRequest(opts.signal, log);
  /** SIGHUP: the config file is read again and applied (with --no-watch too); the daemon, its socket and the data plane stay */
  const onHangup = (): void => {
    log.info({ file: configPath }, 'reload (SIGHUP)');
    if (configPath === undefined) {
      log.warn(`reload (SIGHUP): running without -c, there is no config file to read again (the running config stays)`);
      return;
    }
    if (!started) {
      reloadPending = true;
      return;
    }
    if (stopping) return;
    clearTimeout(timer);
    void applyFile('reload (SIGHUP)');
  };
  process.on('SIGHUP', onHangup);
  const TORN_DOWN = 'teardown requested';
  /** POST /v1/teardown: every owned object goes, then the daemon stops; the last good config stays as it was. */
  const teardown = async (): Promise<void> => {
    try {
      clearTimeout(timer);
      await watcher?.close().catch(() => undefined);
      watcher = undefined;
      log.info('teardown requested: removing every object edgenet owns');
      await metadata?.close().catch(() => undefined);
      metadata = undefined;
      await net.teardown();
      await eveReporter?.close({ remove: true });
    } finally {
      // after the answer has gone out
      setImmediate(() => stop.request(TORN_DOWN));
    }
  };
  try {
    log.info({ stateDir, config: source, resumed: configPath === undefined }, 'edgenet starting');
    if (!(await applyFile(configPath === undefined ? 'resumed last good config' : 'start'))) {
      if (lastError) opts.stderr?.(`edgenet: ${lastError}\n`);
      code = lockRefused ? DAEMON_EXIT.failure : DAEMON_EXIT.rejected;
      return code;
    }

    if (!deps) {
      // http://169.254.169.254/ for apps on local NIs (only with the real core: tests' fakes have no kernel)
      metadata = await startMetadataService({ lookup: (from) => lookupApp(eveRecord.statusOf(net.status()), userDataNow(), from), logger: log }).catch((err: unknown) => {
        log.warn({ err }, `metadata service not started: ${errorMessage(err)}`);
        return undefined;
      });
    }
    server = await startApiServer({
      net,
      socketPath,
      logger: log,
      apply,
      metrics,
      teardown,
      eveRecord,
      ...(ownership.guarded ? { checkPush: (config: unknown) => ownership.checkPush(JSON.stringify(validateConfig(config, undefined, limitsOption))) } : {}),
      onPushApplied: () => ownership.appliedFromApi(),
      // what an answer left (a status at 10 000 endpoints: megabytes) is handed back once requests pause too
      onRequestDone: () => mallocTrimmer.soon(),
      configSource: () => ownership.source,
      alive: () => !stopping,
      ...(eveReporter && { eveReporter }),
    });
    log.info({ socket: socketPath }, 'API listening');

    if (configPath !== undefined && opts.watch !== false) {
      // Editors replace files by rename; wait for the write to finish, and coalesce bursts into one re-apply.
      watcher = watch(configPath, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 150, pollInterval: 50 } });
      const onChange = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => void applyFile('file changed'), 100);
      };
      watcher.on('change', onChange).on('add', onChange);
      watcher.on('error', (err: unknown) => log.warn({ err }, 'watching the config file failed'));
    }

    started = true;
    opts.onReady?.({
      socketPath,
      ...(inspector ? { inspectorUrl: inspector.url } : {}),
      ...(liveView && uiToken && { uiUrl: `${liveView.url}?token=${encodeURIComponent(uiToken)}` }),
      ...(metricsListener ? { metricsUrl: metricsListener.url } : {}),
    });
    const counts = net.status();
    void notifier.ready(`running: ${counts.networks.length} networks, ${counts.endpoints.length} endpoints (${ownership.source?.kind ?? 'file'} ${source})`);
    if (reloadPending) {
      reloadPending = false;
      void applyFile('reload (SIGHUP)');
    }
    const why = await stop.reason;
    stopping = true;
    clearTimeout(timer);
    stoppingSent = notifier.stopping(why === TORN_DOWN ? 'tearing down' : `stopping (${why}); the data plane stays up`);
    log.info(why === TORN_DOWN ? `${why}: stopping (the data plane is gone)` : `${why}: stopping (the data plane stays up)`);
  } catch (err) {
    fatal({ err }, `edgenet failed: ${errorMessage(err)}`);
    code = DAEMON_EXIT.failure;
  } finally {
    stopping = true;
    process.off('SIGHUP', onHangup);
    await watcher?.close().catch(() => undefined);
    await server?.close().catch((err: unknown) => log.warn({ err }, 'closing the API failed'));
    let stopTimer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      net.stop().then(
        () => true,
        (err: unknown) => {
          log.error({ err }, `stopping failed: ${errorMessage(err)}`);
          return false;
        },
      ),
      new Promise<false>((r) => {
        stopTimer = setTimeout(() => {
          log.error(`stop did not finish within ${STOP_TIMEOUT_MS} ms`);
          r(false);
        }, STOP_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(stopTimer);
    trimAfterTransitions.unsubscribe();
    mallocTrimmer.close();
    await metricsListener?.close();
    metrics.close();
    await eveReporter?.close().catch(() => undefined);
    await metadata?.close().catch(() => undefined);
    await inspector?.close().catch((err: unknown) => log.warn({ err }, 'closing the inspector failed'));
    await liveView?.close().catch((err: unknown) => log.warn({ err }, 'closing the live view failed'));
    if (inspector || liveView) await (await import('../ui/ui-token.ts')).removeUiFiles(runtimeDir).catch(() => undefined);
    if (!stopped && code === DAEMON_EXIT.ok) code = DAEMON_EXIT.failure;
    stop.dispose();
    // the supervisor hears STOPPING before the process ends, but a stuck notify socket never holds the stop up
    let notifyTimer: NodeJS.Timeout | undefined;
    await Promise.race([stoppingSent, new Promise<void>((r) => (notifyTimer = setTimeout(r, NOTIFY_STOP_WAIT_MS)))]);
    clearTimeout(notifyTimer);
    log.info({ code }, 'edgenet stopped');
  }
  return code;
}
