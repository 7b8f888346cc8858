// Talks to the daemon's API over its unix socket (node:http with socketPath; no TCP anywhere).
import { request } from 'node:http';
import type { ZInfoNetworkInstance, ZMetricNetworkInstance } from '../eve/eve-info.ts';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { ApplyResult, Status, Transition } from '../edgenet-types.ts';
import { ConfigError, errorMessage } from '../errors.ts';
import type { ConfigIssue } from '../errors.ts';
import { eventFilterQuery, type EventFilter } from './event-filter.ts';

/** Where the API socket is by default: the runtime dir's (the state dir's when it holds both). */
export const DEFAULT_SOCKET_DIR = '/run/edgenet';

/** `<dir>/api.sock`: dir is the runtime dir (the state dir in a single-dir layout). */
export function socketPathFor(dir: string): string {
  return join(dir, 'api.sock');
}

/** The daemon is not there (no socket, refused, no permission) or went away mid-request. */
export class DaemonUnreachableError extends Error {
  readonly kind = 'DaemonUnreachable' as const;
  constructor(readonly socketPath: string, reason: string) {
    super(`cannot reach edgenet daemon at ${socketPath}: ${reason} (is \`edgenet run\` running?)`);
    this.name = 'DaemonUnreachableError';
  }
}

/** The daemon answered with an error other than a rejected config. */
export class ApiError extends Error {
  readonly kind = 'ApiError' as const;
  constructor(readonly status: number, message: string) {
    super(`edgenet daemon answered ${status}: ${message}`);
    this.name = 'ApiError';
  }
}

function reasonOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such socket';
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'EACCES':
      return 'permission denied (the socket is root only)';
    case 'ECONNRESET':
      return 'connection reset';
    default:
      return code ? `${code}: ${errorMessage(err)}` : errorMessage(err);
  }
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.once('error', reject);
  });
}

interface ErrorBody {
  error?: unknown;
  issues?: unknown;
}

function isIssueList(v: unknown): v is ConfigIssue[] {
  return Array.isArray(v) && v.every((i) => typeof i === 'object' && i !== null && typeof (i as ConfigIssue).message === 'string');
}

/** `format`: the document's format (default: detected); `tapNames`: EVE tap name overrides. */
export interface PutConfigOptions {
  format?: 'eve' | 'edgenet';
  tapNames?: Record<string, string>;
}

export interface ApiClient {
  readonly socketPath: string;
  /** Pushes a config (text as read from a file); resolves when the daemon has settled. Rejects with ConfigError on bad input. */
  putConfig(text: string, contentType?: string, opts?: PutConfigOptions): Promise<ApplyResult>;
  status(): Promise<Status>;
  /** GET /v1/eve/info: ZInfoNetworkInstance per NI (protobuf JSON) */
  eveInfo(): Promise<ZInfoNetworkInstance[]>;
  /** GET /v1/eve/metrics: ZMetricNetworkInstance per NI (protobuf JSON) */
  eveMetrics(): Promise<ZMetricNetworkInstance[]>;
  /** Asks the daemon to remove every object edgenet owns and then stop; resolves once the objects are gone. */
  teardown(): Promise<void>;
  /** GET /healthz: 200 alive, 503 stopping */
  health(): Promise<{ code: number; body: Record<string, unknown> }>;
  /** GET /readyz: 200 settled, 503 with the unsettled objects */
  ready(): Promise<{ code: number; body: { ready: boolean; unsettled?: { kind: string; name: string; state: string; reason?: string }[] } }>;
  /** GET /v1/version */
  version(): Promise<{ version: string; node: string; pid: number }>;
  /**
   * Streams transitions (with their SSE id) until the daemon ends the stream (resolves) or `signal` aborts
   * (resolves). `filter`: only these (filtered by the daemon); `lastEventId`: first what came after that id.
   */
  events(onTransition: (t: Transition, id?: string) => void, signal?: AbortSignal, opts?: EventsOptions): Promise<void>;
}

export interface EventsOptions {
  filter?: EventFilter;
  lastEventId?: string;
}

// A unix socket has no host; Node's default Host header `localhost` makes its HTTP agent test the name with the IPv6
// address regex, whose first use compiles it: ~5 ms of every CLI command. An IPv4 literal is recognised at once.
const HOST = { host: '127.0.0.1' } as const;

export function createApiClient(socketPath: string): ApiClient {
  function send(method: string, path: string, body?: { text: string; contentType: string }): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { ...HOST, accept: 'application/json' };
      if (body) {
        headers['content-type'] = body.contentType;
        headers['content-length'] = Buffer.byteLength(body.text);
      }
      const req = request({ socketPath, method, path, headers }, (res) => {
        readBody(res).then(
          (text) => resolve({ status: res.statusCode ?? 0, text }),
          (err: unknown) => reject(new DaemonUnreachableError(socketPath, reasonOf(err))),
        );
      });
      req.once('error', (err) => reject(new DaemonUnreachableError(socketPath, reasonOf(err))));
      req.end(body?.text);
    });
  }

  function decode<T>(res: { status: number; text: string }, source?: string): T {
    let json: unknown;
    try {
      json = JSON.parse(res.text);
    } catch {
      throw new ApiError(res.status, `not JSON: ${res.text.slice(0, 200)}`);
    }
    if (res.status === 200) return json as T;
    const body = (json ?? {}) as ErrorBody;
    const message = typeof body.error === 'string' ? body.error : res.text;
    if (res.status === 400 && isIssueList(body.issues)) throw new ConfigError(body.issues, source);
    if (res.status === 413) throw new ConfigError([{ path: '', message }], source);
    throw new ApiError(res.status, message);
  }

  /** The JSON body whatever the status (health answers carry one with 503 too). */
  function decodeAny(res: { status: number; text: string }): unknown {
    try {
      return JSON.parse(res.text) as unknown;
    } catch {
      throw new ApiError(res.status, `not JSON: ${res.text.slice(0, 200)}`);
    }
  }

  return {
    socketPath,
    async putConfig(text, contentType = 'application/yaml', opts = {}) {
      const query = new URLSearchParams();
      if (opts.format) query.set('format', opts.format);
      if (opts.tapNames) query.set('tapNames', JSON.stringify(opts.tapNames));
      const path = query.size > 0 ? `/v1/config?${query.toString()}` : '/v1/config';
      return decode<ApplyResult>(await send('PUT', path, { text, contentType }));
    },
    async status() {
      return decode<Status>(await send('GET', '/v1/status'));
    },
    async health() {
      const res = await send('GET', '/healthz');
      return { code: res.status, body: decodeAny(res) as Record<string, unknown> };
    },
    async ready() {
      const res = await send('GET', '/readyz');
      return { code: res.status, body: decodeAny(res) as { ready: boolean } };
    },
    async version() {
      return decode<{ version: string; node: string; pid: number }>(await send('GET', '/v1/version'));
    },
    async eveInfo() {
      return decode<ZInfoNetworkInstance[]>(await send('GET', '/v1/eve/info'));
    },
    async eveMetrics() {
      return decode<ZMetricNetworkInstance[]>(await send('GET', '/v1/eve/metrics'));
    },
    async teardown() {
      decode<{ tornDown: boolean }>(await send('POST', '/v1/teardown'));
    },
    events(onTransition, signal, opts = {}) {
      return new Promise((resolve, reject) => {
        if (signal?.aborted) return resolve();
        const query = eventFilterQuery(opts.filter ?? {}).toString();
        const headers: Record<string, string> = { ...HOST, accept: 'text/event-stream', ...(opts.lastEventId !== undefined && { 'last-event-id': opts.lastEventId }) };
        const req = request({ socketPath, method: 'GET', path: query ? `/v1/events?${query}` : '/v1/events', headers }, (res) => {
          if (res.statusCode !== 200) {
            readBody(res).then((t) => {
              let message = t;
              try {
                const body = JSON.parse(t) as ErrorBody;
                if (typeof body.error === 'string') message = body.error;
              } catch {
                /* not JSON: the text as it came */
              }
              reject(new ApiError(res.statusCode ?? 0, message));
            }, reject);
            return;
          }
          res.setEncoding('utf8');
          let buf = '';
          res.on('data', (chunk: string) => {
            buf += chunk;
            // One event per blank-line-terminated block; only `data:` lines carry a transition.
            let end: number;
            while ((end = buf.indexOf('\n\n')) >= 0) {
              const block = buf.slice(0, end);
              buf = buf.slice(end + 2);
              const data = block
                .split('\n')
                .filter((l) => l.startsWith('data:'))
                .map((l) => l.slice(5).trimStart())
                .join('\n');
              if (!data || /^event: error$/m.test(block)) continue;
              const id = /^id: ?(.*)$/m.exec(block)?.[1];
              onTransition(JSON.parse(data) as Transition, id);
            }
          });
          // end: the daemon closed the stream (it is stopping); close/error: the connection dropped.
          res.once('end', () => resolve());
          res.once('close', () => resolve());
          res.once('error', () => resolve());
        });
        req.once('error', (err) => {
          if (signal?.aborted) resolve();
          else reject(new DaemonUnreachableError(socketPath, reasonOf(err)));
        });
        signal?.addEventListener('abort', () => {
          req.destroy();
          resolve();
        }, { once: true });
        req.end();
      });
    },
  };
}
