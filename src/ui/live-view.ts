// `edgenet run --ui[=PORT]`: the built-in live view, served by the daemon on 127.0.0.1:8788 (node:http, no
// framework). One self-contained page (its script, styles and statecharts inline: nothing is fetched from anywhere
// but this server), GET /api/status (the Status JSON) and GET /api/stream (server-sent events: where each actor is
// in its machine, and every transition). Everything requires the daemon's token (`?token=` or an Authorization
// header; `edgenet ui-url` prints the whole URL). Loaded only by the daemon with --ui: the core never imports it.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Observable, Subscription } from 'rxjs';
import type { InspectionEvent } from 'xstate';
import { deviceMachine } from '../../machines/device.machine.ts';
import { endpointMachine } from '../../machines/endpoint.machine.ts';
import { networkInstanceMachine } from '../../machines/network-instance.machine.ts';
import type { Status, Transition } from '../edgenet-types.ts';
import { errorMessage } from '../errors.ts';
import type { EdgenetLogger as Logger } from '../util/logger.ts';
import { packageVersion } from '../util/package-info.ts';
import { ActorPlaces, type ActorPlace } from './actor-states.ts';
import { livePage, type PageChart } from './page.ts';
import { chartModel, chartSvg } from './statechart-svg.ts';
import { requestToken, tokenMatches } from './ui-token.ts';
import { hostnameOf, LOOPBACK_NAMES } from '../util/loopback-host.ts';

export const DEFAULT_UI_PORT = 8788;

export interface LiveViewOptions {
  /** default 8788; 0 picks a free one */
  port?: number;
  /** default 127.0.0.1 (IPv4 loopback only) */
  host?: string;
  /** what the page and its stream require */
  token: string;
  /** the core to show; the daemon attaches it later (`attach`), once it exists: until then /api/status is 503 */
  source?: LiveViewSource;
  /** transitions kept for a page that opens later (default 500) */
  historySize?: number;
  /** the Stately inspector's bridge page (with its token), linked from the page when it runs */
  inspectorUrl?: string;
  logger?: Logger;
  /** SSE comment interval (default 15 s) */
  keepaliveMs?: number;
}

export interface LiveViewSource {
  status: () => Status;
  transitions$: Observable<Transition>;
}

export interface LiveViewServer {
  /** the page, without the token: `http://127.0.0.1:8788/` */
  readonly url: string;
  readonly port: number;
  /** the inspection observer to give createEdgenet (with any other) */
  observe(event: InspectionEvent): void;
  /** what /api/status and the transitions come from (once) */
  attach(source: LiveViewSource): void;
  close(): Promise<void>;
}

function charts(): PageChart[] {
  const list: [string, string, Parameters<typeof chartModel>[0]][] = [
    ['networkInstance', 'Network instance', networkInstanceMachine],
    ['endpoint', 'Endpoint and port', endpointMachine],
    ['device', 'Device (table base, ip_forward)', deviceMachine],
  ];
  return list.map(([machine, title, m]) => ({ machine, title, svg: chartSvg(chartModel(m)) }));
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost' || host.startsWith('127.');
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`live view: ${host}:${port} is in use (choose another with --ui=PORT)`)
          : new Error(`live view: cannot listen on ${host}:${port}: ${errorMessage(err)}`),
      );
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

function text(res: ServerResponse, code: number, body: string): void {
  res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }).end(body);
}

const TOKEN_HELP =
  'the live view needs its token: run `edgenet ui-url` as root for the whole URL (the token is in <runtime-dir>/ui-token, readable by root only)\n';

/** Starts the live view on `host:port` (127.0.0.1:8788 by default). */
export async function startLiveView(opts: LiveViewOptions): Promise<LiveViewServer> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.logger?.child({ component: 'ui' });
  const places = new ActorPlaces();
  const streams = new Set<ServerResponse>();
  const chartList = charts();
  const version = packageVersion();
  // on loopback, the Host header must name loopback too: a DNS-rebound name cannot reach the page
  const loopbackOnly = isLoopback(host);

  // every page gets the same transitions: one subscription to the core, a ring of the last ones for late pages
  let source: LiveViewSource | undefined;
  let sourceSub: Subscription | undefined;
  const history: Transition[] = [];
  const historySize = opts.historySize ?? 500;
  const transitionListeners = new Set<(t: Transition) => void>();
  const attach = (s: LiveViewSource): void => {
    if (source) throw new Error('live view: already attached');
    source = s;
    sourceSub = s.transitions$.subscribe({
      next: (t) => {
        history.push(t);
        if (history.length > historySize) history.splice(0, history.length - historySize);
        for (const l of transitionListeners) l(t);
      },
      error: (err: unknown) => log?.warn({ err }, 'live view: the transitions stream failed'),
    });
  };
  if (opts.source) attach(opts.source);

  const serveStream = (req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-content-type-options': 'nosniff' });
    res.write(': edgenet live view\nretry: 1000\n\n');
    const send = (event: string, data: unknown): void => {
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    send('actors', places.all());
    send('history', history);
    const unsubscribe = places.subscribe((batch: ActorPlace[]) => send('actors', batch));
    const onTransition = (t: Transition): void => send('transition', t);
    transitionListeners.add(onTransition);
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), opts.keepaliveMs ?? 15_000);
    keepalive.unref();
    streams.add(res);
    const cleanup = (): void => {
      clearInterval(keepalive);
      unsubscribe();
      transitionListeners.delete(onTransition);
      streams.delete(res);
    };
    req.once('close', cleanup);
    res.once('close', cleanup);
  };

  const http = createServer((req, res) => {
    const name = hostnameOf(req.headers.host);
    if (loopbackOnly && (name === undefined || !(LOOPBACK_NAMES.has(name) || name === host || name === `[${host}]`))) {
      text(res, 403, 'forbidden: open the live view through 127.0.0.1 (or localhost)\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      text(res, 405, 'method not allowed\n');
      return;
    }
    if (path !== '/' && path !== '/api/status' && path !== '/api/stream') {
      text(res, 404, 'not found\n');
      return;
    }
    if (!tokenMatches(requestToken(req), opts.token)) {
      log?.info({ peer: req.socket.remoteAddress, path }, 'live view: request without the right token refused');
      text(res, 401, TOKEN_HELP);
      return;
    }
    try {
      if (path === '/api/stream') return serveStream(req, res);
      if (path === '/api/status') {
        if (!source) {
          text(res, 503, 'the daemon is starting\n');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }).end(JSON.stringify(source.status()));
        return;
      }
      const nonce = randomBytes(16).toString('base64');
      res
        .writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
          'x-frame-options': 'DENY',
          // the token is in the page's URL: it must not leave in a Referer
          'referrer-policy': 'no-referrer',
          // nothing but this server: no CDN, no fonts, no images from elsewhere
          'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
        })
        .end(livePage({ nonce, charts: chartList, version, ...(opts.inspectorUrl !== undefined && { inspectorUrl: opts.inspectorUrl }) }));
    } catch (err) {
      log?.warn({ err }, `live view: ${path} failed`);
      if (!res.headersSent) text(res, 500, `${errorMessage(err)}\n`);
      else res.end();
    }
  });

  await listen(http, opts.port ?? DEFAULT_UI_PORT, host);
  const { port } = http.address() as AddressInfo;
  const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const url = `http://${where}/`;
  log?.info({ url }, `live view on ${url} (\`edgenet ui-url\` prints it with its token)`);
  let closed = false;
  return {
    url,
    port,
    observe(event: InspectionEvent): void {
      if (!closed) places.observe(event);
    },
    attach,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      places.close();
      sourceSub?.unsubscribe();
      transitionListeners.clear();
      for (const res of streams) res.end();
      streams.clear();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
