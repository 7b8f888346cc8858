// The daemon's HTTP API, served on a unix socket only (no TCP): PUT /v1/config, GET /v1/status, GET /v1/events,
// GET /metrics, POST /v1/teardown, GET /healthz, GET /readyz, GET /v1/version.
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { EdgenetLogger as Logger } from '../util/logger.ts';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { connect } from 'node:net';
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Subscription } from 'rxjs';
import type { ApplyOptions, ApplyResult, Edgenet, Transition } from '../edgenet-types.ts';
import { ConfigError, errorMessage } from '../errors.ts';
import { createMetrics, metricsQuery } from '../daemon/metrics.ts';
import type { EdgenetMetrics } from '../daemon/metrics.ts';
import type { ConfigIssue } from '../errors.ts';
import { serialQueue } from '../runtime/serial-queue.ts';
import { inEveTerms, logEveConversion, requestOptions, toAppliable } from '../eve/eve-load.ts';
import { EveRecord } from '../eve/eve-record.ts';
import { PushRefusedError, type ConfigSource } from '../daemon/config-source.ts';
import { packageVersion } from '../util/package-info.ts';
import { healthOf, readinessOf } from './health.ts';
import { ConfigBodyCache } from './config-body-cache.ts';
import { parseEventFilter, transitionMatcher } from './event-filter.ts';
import { TransitionLog, type LoggedTransition } from './event-log.ts';
import { eveApplyAnswer } from '../eve/eve-object-errors.ts';
import type { EveReporter } from '../eve/eve-info.ts';

/** Largest config body accepted by PUT /v1/config. */
export const CONFIG_BODY_LIMIT = 1024 * 1024;

/** Applies one config at a time, in arrival order (a push waits for the one before it to settle). */
export type ApplyFn = (config: unknown, opts?: ApplyOptions) => Promise<ApplyResult>;

export function serializeApply(net: Pick<Edgenet, 'apply'>): ApplyFn {
  const run = serialQueue();
  return (config, opts) => run(() => net.apply(config, opts));
}

export interface ApiServerOptions {
  net: Pick<Edgenet, 'apply' | 'status' | 'writes' | 'transitions$'> & Partial<Pick<Edgenet, 'settled'>>;
  /** `<state-dir>/api.sock` */
  socketPath: string;
  logger?: Logger;
  /** shared with other appliers (the daemon's file watcher) so every push is serialized; default: serializeApply(net) */
  apply?: ApplyFn;
  bodyLimit?: number;
  /** SSE comment interval, so idle proxies and clients notice a dead peer */
  keepaliveMs?: number;
  /** served on GET /metrics; default: metrics of `net` owned by the server (no apply durations) */
  metrics?: EdgenetMetrics;
  /** POST /v1/teardown: remove every object edgenet owns (the daemon stops afterwards); absent: 501 */
  teardown?: () => Promise<void>;
  /** the EVE origin of the running config (shared with the daemon's file applier), shown by GET /v1/status */
  eveRecord?: EveRecord;
  /**
   * Called with each pushed config (converted from EVE if it was) before it is applied: throws ConfigError (400) or
   * PushRefusedError (409, the -c file owns the config). Absent: every valid push is applied.
   */
  checkPush?: (config: unknown) => void;
  /** after a push was applied */
  onPushApplied?: () => void;
  /** after each request's answer was sent (any route; an SSE stream when it ends) */
  onRequestDone?: () => void;
  /** where the running config came from, shown by GET /v1/status */
  configSource?: () => ConfigSource | undefined;
  /** GET /healthz: false once the daemon is stopping (default: always alive) */
  alive?: () => boolean;
  /** GET /v1/eve/info and /v1/eve/metrics; absent: 501 */
  eveReporter?: Pick<EveReporter, 'info' | 'metrics'>;
}

export interface ApiServer {
  readonly socketPath: string;
  /** event streams (GET /v1/events) open now */
  readonly eventStreams: number;
  close(): Promise<void>;
}

/** Parses a config body: JSON or YAML by content type, else sniffed (`{`/`[` first means JSON). */
export function parseConfigBody(text: string, contentType: string | undefined): unknown {
  if (text.trim() === '') throw new ConfigError([{ path: '', message: 'empty body: expected a config document (JSON or YAML)' }], 'request body');
  if (isJsonBody(text, contentType)) {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new ConfigError([{ path: '', message: `not valid JSON: ${errorMessage(err)}` }], 'request body');
    }
  }
  try {
    return parseYaml(text, { prettyErrors: true }) as unknown;
  } catch (err) {
    const msg = err instanceof YAMLParseError ? err.message.split('\n')[0] ?? err.message : errorMessage(err);
    throw new ConfigError([{ path: '', message: `not valid YAML: ${msg}` }], 'request body');
  }
}

/** A body parseConfigBody reads as JSON: JSON by content type, or no YAML type and `{`/`[` first. */
export function isJsonBody(text: string, contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/json' || type.endsWith('+json')) return true;
  return !/^(application|text)\/(x-)?yaml$/.test(type) && /^\s*[[{]/.test(text);
}

/** The start of a body, decoded, for a look at its first characters (the whole body when it starts blank). */
function headOf(body: Buffer): string {
  const head = body.toString('utf8', 0, Math.min(body.length, 4096));
  return head.trim() === '' ? body.toString('utf8') : head;
}

function sendError(reply: FastifyReply, status: number, error: string, issues?: readonly ConfigIssue[]): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(issues ? { error, issues } : { error });
}

function isFastifyLogger(log: Logger): log is Logger & FastifyBaseLogger {
  const l = log as Partial<Record<keyof FastifyBaseLogger, unknown>>;
  return typeof l.level === 'string' && typeof l.fatal === 'function' && typeof l.trace === 'function' && typeof l.silent === 'function';
}

function isFastifyError(err: unknown): err is FastifyError {
  return err instanceof Error && typeof (err as { statusCode?: unknown }).statusCode === 'number';
}

/**
 * Refuses to start over a live daemon; removes a stale socket left by a killed one. Anything at the path
 * that is not a socket is left alone (it is not ours).
 */
async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!isSocket) throw new Error(`${path} exists and is not a socket; not removing it`);
  const alive = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`another edgenet daemon is already serving ${path}`);
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

function buildApp(opts: ApiServerOptions, sse: Set<FastifyReply>, metrics: EdgenetMetrics, events: TransitionLog) {
  const bodyLimit = opts.bodyLimit ?? CONFIG_BODY_LIMIT;
  const apply = opts.apply ?? serializeApply(opts.net);
  const log = opts.logger?.child({ component: 'api' });
  // fastify logs through a full pino-like logger only; any other logger still gets this module's own lines
  const loggerInstance = log && isFastifyLogger(log) ? log : undefined;
  const app = Fastify({ bodyLimit, ...(loggerInstance ? { loggerInstance } : { logger: false }), logController: new LogController({ disableRequestLogging: true }) });

  // Bodies are taken as text and parsed by the route, so YAML and JSON errors read the same way.
  app.removeAllContentTypeParsers();
  // (as bytes: a JSON body that changed in a few apps is decoded in those alone, config-body-cache.ts)
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));

  const done = opts.onRequestDone;
  if (done) app.addHook('onResponse', async () => done());
  app.setNotFoundHandler((req, reply) => sendError(reply, 404, `no such route: ${req.method} ${req.url}`));
  app.setErrorHandler((err: unknown, _req, reply) => {
    if (err instanceof ConfigError) return sendError(reply, 400, err.message, err.issues);
    if (err instanceof PushRefusedError) return sendError(reply, 409, err.message);
    if (isFastifyError(err) && err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendError(reply, 413, `config too large: the limit is ${bodyLimit} bytes`);
    }
    if (isFastifyError(err) && err.statusCode && err.statusCode < 500) return sendError(reply, err.statusCode, err.message);
    log?.error({ err }, 'request failed');
    return sendError(reply, 500, errorMessage(err));
  });

  const eveRecord = opts.eveRecord ?? new EveRecord();
  const bodies = new ConfigBodyCache();
  app.put('/v1/config', async (req: FastifyRequest, reply) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    // An EVE EdgeDevConfig (?format=eve, or detected) is converted first; its findings come back with the result.
    // The body of the last push again is that push's document (parsed once, unchanging): a no-op push costs no parse;
    // a body that changed in a few apps is parsed in those apps alone.
    const contentType = req.headers['content-type'];
    const doc = bodies.get(body, `${contentType ?? ''}\u0000${req.url}`, {
      json: isJsonBody(headOf(body), contentType),
      parse: (text) => parseConfigBody(text, contentType),
      convert: (parsed) => toAppliable(parsed, requestOptions(req.url)),
    });
    if (doc.eve && log) logEveConversion(log, doc.eve);
    try {
      opts.checkPush?.(doc.config);
    } catch (err) {
      throw inEveTerms(err, doc);
    }
    // EVE: an adapter that gets no address is refused alone (partial apply), as EVE does
    const result = await apply(doc.config, doc.eve ? { partial: true } : undefined).catch((err: unknown) => {
      throw inEveTerms(err, doc);
    });
    eveRecord.applied(doc.eve);
    opts.onPushApplied?.();
    log?.info({ created: result.created, updated: result.updated, deleted: result.deleted }, 'config applied via API');
    return reply.code(200).send(doc.eve ? eveApplyAnswer(result, doc.eve) : result);
  });

  app.get('/v1/status', async () => {
    const status = eveRecord.statusOf(opts.net.status());
    const source = opts.configSource?.();
    return source ? { ...status, source } : status;
  });

  app.get('/healthz', async (_req, reply) => {
    const h = healthOf(opts.alive?.() ?? true);
    return reply.code(h.code).send(h.body);
  });

  app.get('/readyz', async (_req, reply) => {
    const r = readinessOf(opts.net.status(), opts.net.settled?.());
    return reply.code(r.code).send(r.body);
  });

  app.get('/v1/version', async () => ({ version: packageVersion(), node: process.version, pid: process.pid }));

  app.get('/v1/eve/info', async (_req, reply) => (opts.eveReporter ? reply.send(await opts.eveReporter.info()) : sendError(reply, 501, 'EVE info is not served here')));
  app.get('/v1/eve/metrics', async (_req, reply) => (opts.eveReporter ? reply.send(await opts.eveReporter.metrics()) : sendError(reply, 501, 'EVE metrics are not served here')));

  app.post('/v1/teardown', async (_req, reply) => {
    if (!opts.teardown) return sendError(reply, 501, 'teardown is not served here');
    await opts.teardown();
    log?.info('torn down via API');
    return reply.code(200).send({ tornDown: true });
  });

  // GET /metrics?name=<family>[&name=…]: only those families (a scraper or the bench reading a few cheaply)
  app.get('/metrics', async (req, reply) => {
    const query = metricsQuery(req.url);
    if ('error' in query) return sendError(reply, 400, query.error);
    return reply.type(metrics.contentType).send(await metrics.metrics(query.names));
  });

  // GET /v1/events?kind=…&name=…&to=…: SSE, each transition with an id; `Last-Event-ID` (header, or ?lastEventId=
  // for a client that cannot set headers) replays what came after that id first
  app.get('/v1/events', (req, reply) => {
    const query = new URLSearchParams(req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '');
    let matches: (t: Transition) => boolean;
    try {
      matches = transitionMatcher(parseEventFilter(query));
    } catch (err) {
      return sendError(reply, 400, errorMessage(err));
    }
    const header = req.headers['last-event-id'];
    const lastId = (Array.isArray(header) ? header[0] : header) ?? query.get('lastEventId') ?? undefined;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    // what one turn of the event loop sends goes out as one write: a converge's thousands of transitions were a
    // socket write (and a chunk) each
    let pending: string[] = [];
    const flush = (): void => {
      const out = pending.join('');
      pending = [];
      if (out !== '' && !res.destroyed) res.write(out);
    };
    const write = (chunk: string): void => {
      if (pending.push(chunk) === 1) setImmediate(flush);
    };
    const end = (): void => {
      flush();
      res.end();
    };
    write(': edgenet transitions\n\n');
    sse.add(reply);
    const send = (e: LoggedTransition): void => {
      if (matches(e.transition)) write(`id: ${e.id}\ndata: ${JSON.stringify(e.transition)}\n\n`);
    };
    if (lastId !== undefined && lastId !== '') {
      const { entries, gap } = events.since(lastId);
      if (gap) write(`: resume: ${lastId} is not one of the last ${events.capacity} transitions of this daemon run; replaying the ${entries.length} kept\n\n`);
      for (const e of entries) send(e);
    }
    const sub: Subscription = events.live$.subscribe({
      next: send,
      complete: end,
      error: (err: unknown) => {
        write(`event: error\ndata: ${JSON.stringify({ error: errorMessage(err) })}\n\n`);
        end();
      },
    });
    const keepalive = setInterval(() => write(': keepalive\n\n'), opts.keepaliveMs ?? 15_000);
    keepalive.unref();
    const cleanup = (): void => {
      clearInterval(keepalive);
      sub.unsubscribe();
      sse.delete(reply);
    };
    req.raw.once('close', cleanup);
    res.once('close', cleanup);
  });

  return app;
}

/** Starts the API on `socketPath` with mode 0600 (root only), creating the directory if needed. */
export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const { socketPath } = opts;
  await mkdir(dirname(socketPath), { recursive: true });
  await clearStaleSocket(socketPath);

  const sse = new Set<FastifyReply>();
  const metrics = opts.metrics ?? createMetrics(opts.net);
  const events = new TransitionLog(opts.net.transitions$);
  const app = buildApp(opts, sse, metrics, events);
  await app.ready();

  // The socket is created with the process umask; tighten it for the bind so it is never reachable by others.
  let oldMask: number | undefined;
  try {
    oldMask = process.umask(0o177);
  } catch {
    /* umask cannot be changed in worker threads; chmod below still applies */
  }
  try {
    await app.listen({ path: socketPath });
  } finally {
    if (oldMask !== undefined) process.umask(oldMask);
  }
  await chmod(socketPath, 0o600);

  let closing: Promise<void> | undefined;
  return {
    socketPath,
    get eventStreams() {
      return sse.size;
    },
    close() {
      closing ??= (async () => {
        // Event streams never end by themselves: end them so the server can close.
        for (const reply of sse) reply.raw.end();
        sse.clear();
        await app.close();
        events.close();
        if (!opts.metrics) metrics.close();
        await unlink(socketPath).catch(() => undefined);
      })();
      return closing;
    },
  };
}
