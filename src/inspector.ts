// `edgenet run --inspect`: serves the actor system to the Stately inspector. The inspection observer goes into
// createEdgenet; @statelyai/inspect turns its events into Stately events; a websocket server on loopback hands them
// to browsers (a bridge page at / embeds the inspector UI and feeds it from the websocket). The page and the
// websocket require a token (`?token=`): actor contexts hold the whole config, so no other local user may read them.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import type { EdgenetLogger as Logger } from './util/logger.ts';
import { WebSocket, WebSocketServer } from 'ws';
import type { InspectionEvent } from 'xstate';
import { hostnameOf, LOOPBACK_NAMES } from './util/loopback-host.ts';

export const DEFAULT_INSPECT_PORT = 8787;
const DEFAULT_UI_URL = 'https://stately.ai/inspect';
/** Nesting kept when serializing snapshots and events (an actor's raw snapshot references the whole system). */
const DEPTH_LIMIT = 10;

export interface InspectorOptions {
  /** default 8787; 0 picks a free one */
  port?: number;
  /** default 127.0.0.1: actor contexts hold the whole config, so they are not served beyond this host */
  host?: string;
  /** the inspector UI the bridge page embeds */
  uiUrl?: string;
  /** what the page and the websocket require (`?token=`); default: a random one, in `url` and `wsUrl` */
  token?: string;
  logger?: Logger;
}

export interface InspectorServer {
  /** the bridge page to open in a browser, with its token */
  readonly url: string;
  /** where websocket clients receive the Stately inspection events (one JSON object per message), with the token */
  readonly wsUrl: string;
  /** the page without the token (for logs) */
  readonly baseUrl: string;
  readonly port: number;
  /** the inspection observer to give createEdgenet / createActor */
  inspect(event: InspectionEvent): void;
  close(): Promise<void>;
}

/** JSON with cycles and depth cut, functions named: snapshots reference actors, machines and the system. */
export function toInspectionJson(value: unknown, depthLimit = DEPTH_LIMIT): string {
  const path: unknown[] = [];
  return JSON.stringify(value, function (this: unknown, _key: string, v: unknown): unknown {
    if (typeof v === 'function') return { type: v.name };
    if (typeof v !== 'object' || v === null) return v;
    // `this` is the object holding v: what is above it on the path is no longer an ancestor
    while (path.length > 0 && path[path.length - 1] !== this) path.pop();
    if (path.includes(v)) return '[Circular]';
    if (path.length >= depthLimit) return Array.isArray(v) ? '[Array]' : '[Object]';
    path.push(v);
    return v;
  });
}

/**
 * Only this host's own pages may talk to the server: the Host header must name loopback (a DNS-rebound name does
 * not), and a browser's Origin must be the bridge page's own. Clients without an Origin (not browsers) are let in.
 */
function isLocalRequest(req: IncomingMessage): boolean {
  const host = hostnameOf(req.headers.host);
  if (host === undefined || !LOOPBACK_NAMES.has(host)) return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function hasToken(req: IncomingMessage, token: string): boolean {
  let given: string | null = null;
  try {
    given = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
  } catch {
    return false;
  }
  const a = Buffer.from(given ?? '');
  const b = Buffer.from(token);
  return given !== null && a.length === b.length && timingSafeEqual(a, b);
}

function bridgePage(uiUrl: string): string {
  const src = uiUrl.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <title>edgenet · Stately inspector</title>
  <meta name="referrer" content="no-referrer">
  <style>* { margin: 0; padding: 0; } html, body { height: 100%; } iframe { width: 100%; height: 100%; border: none; }
    #why { display: none; font: 14px/1.5 system-ui, sans-serif; padding: 16px 20px; background: #fff7ed; border-bottom: 2px solid #d97706; }
    #why code { background: #fde68a; padding: 0 3px; }</style>
</head>
<body>
  <div id="why" role="alert"></div>
  <iframe id="inspector" src="${src}"></iframe>
  <script>
    const iframe = document.getElementById('inspector');
    const buffer = [];
    let connected = false;
    // the inspector UI is another site's page: when it does not load (no internet on an edge device, a proxy, a
    // blocked frame) the page says so instead of showing the browser's grey sad face alone
    const why = document.getElementById('why');
    const uiOrigin = (() => { try { return new URL(iframe.src).origin; } catch { return iframe.src; } })();
    const explain = () => {
      if (connected) return;
      why.style.display = 'block';
      why.innerHTML = 'The Stately inspector UI at <code>' + uiOrigin.replace(/</g, '&lt;') + '</code> did not load' +
        (navigator.onLine === false ? ' (this browser is offline)' : ' (no internet access from this browser, a proxy, or the site refused to be framed)') +
        '. The actors are still streamed here. Use the built-in live view (<code>edgenet run --ui</code>, then <code>edgenet ui-url</code>), ' +
        'or serve the inspector UI yourself and pass its address with <code>--inspect-ui-url</code>.';
    };
    setTimeout(explain, 8000);
    window.addEventListener('message', (e) => {
      if (e.data && e.data.type === '@statelyai.connected') {
        connected = true;
        why.style.display = 'none';
        for (const ev of buffer.splice(0)) iframe.contentWindow.postMessage(ev, '*');
      }
    });
    const ws = new WebSocket('ws://' + location.host + '/' + location.search);
    ws.onmessage = (m) => {
      const ev = JSON.parse(m.data);
      if (connected) iframe.contentWindow.postMessage(ev, '*');
      else buffer.push(ev);
    };
  </script>
</body>
</html>
`;
}

/**
 * What a client that connects late needs to draw the system as it is now: each live actor's registration and its
 * latest snapshot. Actors that are done or stopped are dropped (clients connected then saw them go).
 */
class ReplayState {
  private readonly actors = new Map<string, { actor?: string; snapshot?: string }>();

  record(event: StatelyInspectionEvent, json: string): void {
    if (event.type === '@xstate.actor') {
      this.actors.set(event.sessionId, { actor: json });
    } else if (event.type === '@xstate.snapshot') {
      const status = (event.snapshot as { status?: string } | undefined)?.status;
      if (status === 'done' || status === 'stopped' || status === 'error') this.actors.delete(event.sessionId);
      else {
        const entry = this.actors.get(event.sessionId);
        if (entry) entry.snapshot = json;
      }
    }
  }

  messages(): string[] {
    const entries = [...this.actors.values()];
    return [...entries.flatMap((e) => (e.actor ? [e.actor] : [])), ...entries.flatMap((e) => (e.snapshot ? [e.snapshot] : []))];
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      reject(err.code === 'EADDRINUSE' ? new Error(`inspector: ${host}:${port} is in use (choose another with --inspect=PORT)`) : err);
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

/** Starts the inspector's bridge page and websocket on `host:port` (loopback by default). */
export async function startInspector(opts: InspectorOptions = {}): Promise<InspectorServer> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.logger?.child({ component: 'inspector' });
  const page = bridgePage(opts.uiUrl ?? DEFAULT_UI_URL);
  const replay = new ReplayState();
  const token = opts.token ?? randomBytes(24).toString('base64url');
  let closed = false;

  const http = createServer((req, res) => {
    if (!isLocalRequest(req)) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('forbidden: open the inspector through localhost\n');
      return;
    }
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    if (!hasToken(req, token)) {
      res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8' }).end('the inspector needs its token: `edgenet ui-url --inspector` (as root) prints the whole URL\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' }).end(page);
  });
  const wss = new WebSocketServer({ server: http, verifyClient: (info: { req: IncomingMessage }, done: (ok: boolean, code?: number, message?: string) => void): void =>
      !isLocalRequest(info.req)
        ? done(false, 403, 'forbidden: connect through localhost from the inspector page')
        : hasToken(info.req, token)
          ? done(true)
          : done(false, 401, 'the inspector stream needs its token (?token=)'),
  });
  wss.on('connection', (ws, req) => {
    log?.info({ peer: `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}` }, 'inspector client connected');
    for (const msg of replay.messages()) ws.send(msg);
    // clients only listen; what they send is not relayed to anyone
    ws.on('error', (err) => log?.debug({ err }, 'inspector client error'));
  });
  wss.on('error', (err) => log?.warn({ err }, 'inspector websocket error'));

  const inspector = createInspector(
    {
      send(event: StatelyInspectionEvent): void {
        if (closed) return;
        const json = toInspectionJson(event);
        replay.record(event, json);
        for (const client of wss.clients) if (client.readyState === WebSocket.OPEN) client.send(json);
      },
    },
    { serializationDepthLimit: DEPTH_LIMIT },
  );

  await listen(http, opts.port ?? DEFAULT_INSPECT_PORT, host);
  const { port } = http.address() as AddressInfo;
  const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const q = `/?token=${encodeURIComponent(token)}`;
  log?.info({ url: `http://${where}/` }, `Stately inspector on http://${where}/ (\`edgenet ui-url --inspector\` prints it with its token)`);

  return {
    url: `http://${where}${q}`,
    wsUrl: `ws://${where}${q}`,
    baseUrl: `http://${where}/`,
    port,
    inspect(event: InspectionEvent): void {
      if (!closed) inspector.inspect.next?.(event);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve, reject) => http.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
