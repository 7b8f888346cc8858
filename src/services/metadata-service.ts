// The metadata service apps on local NIs reach at http://169.254.169.254/ (pillar cmd/msrv): it answers each app,
// identified by its source address, with its own cloud-init user data and what it is. 169.254.169.254/32 is put on
// the device's `lo` (so a packet to it from an NI's bridge is the device's own, whichever NI it comes from, and is
// never routed out of a port); table `inet edgenet` accepts only tcp/80 to it from an NI's bridge (the NI's input
// chain drops the rest), and this node:http server listens on 169.254.169.254:80 in edgenet's network namespace.
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { EdgenetLogger } from '../util/logger.ts';
import { METADATA_ADDRESS, METADATA_PORT } from './metadata-address.ts';

export { METADATA_ADDRESS, METADATA_PORT };

/** What the service knows of the app behind a source address. */
export interface MetadataApp {
  /** edgenet's app name (also its DNS name) */
  name: string;
  /** the EVE app uuid, when the config came from EVE */
  uuid?: string;
  network: string;
  ip: string;
  /** base64, as in the config */
  userData?: string;
}

export interface MetadataServiceOptions {
  /** the app using `ip` on a local NI, if any */
  lookup(ip: string): MetadataApp | undefined;
  logger?: EdgenetLogger;
  /** tests: listen elsewhere and leave `lo` alone */
  address?: string;
  port?: number;
  manageAddress?: boolean;
}

export interface MetadataService {
  readonly port: number;
  close(): Promise<void>;
}

function ip(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The answer for one request (pure: for unit tests too). */
export function metadataAnswer(path: string, app: MetadataApp | undefined): { status: number; type: string; body: string | Buffer } {
  const text = 'text/plain; charset=utf-8';
  const json = 'application/json';
  if (!app) return { status: 403, type: text, body: 'not an app of a local network instance\n' };
  const id = app.uuid ?? app.name;
  switch (path.split('?')[0]) {
    case '/openstack/latest/user_data':
      return app.userData ? { status: 200, type: 'application/octet-stream', body: Buffer.from(app.userData, 'base64') } : { status: 404, type: text, body: 'no user data\n' };
    case '/openstack/latest/meta_data.json':
      return { status: 200, type: json, body: `${JSON.stringify({ uuid: id, name: app.name, hostname: app.name, 'local-hostname': app.name })}\n` };
    case '/eve/v1/network.json':
      return { status: 200, type: json, body: `${JSON.stringify({ 'caller-ip': app.ip, 'external-ipv4': '', hostname: id, name: app.name, network: app.network })}\n` };
    default:
      return { status: 404, type: text, body: 'not found\n' };
  }
}

export async function startMetadataService(opts: MetadataServiceOptions): Promise<MetadataService> {
  const address = opts.address ?? METADATA_ADDRESS;
  const manage = opts.manageAddress ?? opts.address === undefined;
  if (manage) {
    const r = await ip(['addr', 'replace', `${address}/32`, 'dev', 'lo']);
    if (r.code !== 0) throw new Error(`cannot put ${address}/32 on lo: ${r.stderr.trim()}`);
  }
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const from = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const a = metadataAnswer(req.method === 'GET' || req.method === 'HEAD' ? (req.url ?? '/') : '/-', opts.lookup(from));
    opts.logger?.debug?.({ from, path: req.url, status: a.status }, 'metadata request');
    send(res, a.status, a.type, a.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? METADATA_PORT, address, () => resolve());
  });
  const bound = server.address();
  return {
    port: typeof bound === 'object' && bound ? bound.port : 0,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      if (manage) await ip(['addr', 'del', `${address}/32`, 'dev', 'lo']);
    },
  };
}

/** `apps[].userData` of a config (validated or as given), by app name. */
export function userDataOf(config: unknown): Map<string, string> {
  const out = new Map<string, string>();
  const apps = (config as { apps?: unknown } | null)?.apps;
  if (!Array.isArray(apps)) return out;
  const list = apps as ({ name?: unknown; userData?: unknown } | null | undefined)[];
  // (an indexed loop: for…of makes an iterator result per app in a function run once per push)
  for (let i = 0; i < list.length; i++) {
    const a = list[i];
    if (typeof a?.name === 'string' && typeof a.userData === 'string' && a.userData !== '') out.set(a.name, a.userData);
  }
  return out;
}

/** The app behind a source address: an endpoint of a local NI holding that address in the status. */
export function lookupApp(
  status: { networks: { name: string; type: string }[]; endpoints: { app: string; network: string; ip?: string }[]; eve?: { names: { taps: { app: string; appUuid: string }[] } } },
  userData: ReadonlyMap<string, string>,
  from: string,
): MetadataApp | undefined {
  const local = new Set(status.networks.filter((n) => n.type === 'local').map((n) => n.name));
  const ep = status.endpoints.find((e) => e.ip === from && local.has(e.network));
  if (!ep) return undefined;
  const uuid = status.eve?.names.taps.find((t) => t.app === ep.app)?.appUuid;
  const data = userData.get(ep.app);
  return { name: ep.app, network: ep.network, ip: from, ...(uuid !== undefined && { uuid }), ...(data !== undefined && { userData: data }) };
}
