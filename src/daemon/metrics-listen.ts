// `edgenet run --metrics-listen HOST:PORT`: /metrics over TCP as well, for a Prometheus that cannot reach the root-only
// unix socket. Only GET /metrics is served (no config, no status: those stay on the socket).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { metricsQuery, type EdgenetMetrics } from './metrics.ts';

export interface ListenAddress {
  host: string;
  port: number;
}

/** `127.0.0.1:9464`, `[::1]:9464`, `0.0.0.0:9464` → host and port; undefined when it is not HOST:PORT. */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (host === undefined || !Number.isInteger(port) || port > 65535) return undefined;
  return { host, port };
}

export interface MetricsListener {
  /** `http://127.0.0.1:9464/metrics` (the port the kernel gave when 0 was asked) */
  readonly url: string;
  close(): Promise<void>;
}

/** Listens on `addr`; rejects (EADDRINUSE, EADDRNOTAVAIL, EACCES) before anything is served. */
export async function startMetricsListener(metrics: Pick<EdgenetMetrics, 'metrics' | 'contentType'>, addr: ListenAddress): Promise<MetricsListener> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('only GET /metrics is served here\n');
      return;
    }
    const query = metricsQuery(req.url ?? '');
    if ('error' in query) {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end(`${query.error}\n`);
      return;
    }
    metrics.metrics(query.names).then(
      (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
