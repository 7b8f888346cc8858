import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer } from '../../src/api/server.ts';
import type { ApiServer } from '../../src/api/server.ts';
import { createApiClient, DaemonUnreachableError } from '../../src/api/client.ts';
import type { Transition } from '../../src/edgenet-types.ts';
import { ConfigError } from '../../src/errors.ts';
import { FakeEdgenet } from './api-fake-edgenet.ts';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: () => Record<string, unknown>;
}

function http(socketPath: string, method: string, path: string, body?: string | Buffer, contentType?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (contentType) headers['content-type'] = contentType;
    const req = request({ socketPath, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: () => JSON.parse(text) as Record<string, unknown> });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const goodYaml = `ports:
  - { name: field, ifname: eth1 }
networks:
  - { name: plant, type: switch, port: field }
`;
const goodJson = JSON.stringify({ networks: [{ name: 'lan', type: 'local', subnet: '10.50.0.0/24' }] });

describe('API server', () => {
  let dir: string;
  let sock: string;
  let net: FakeEdgenet;
  let server: ApiServer | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-api-'));
    sock = join(dir, 'api.sock');
    net = new FakeEdgenet();
    server = await startApiServer({ net, socketPath: sock, bodyLimit: 64 * 1024 });
  });

  afterEach(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('listens on the unix socket with mode 0600, and removes it on close', async () => {
    const st = await stat(sock);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    await server?.close();
    server = undefined;
    expect(existsSync(sock)).toBe(false);
  });

  it('PUT /v1/config applies YAML and answers the ApplyResult', async () => {
    const r = await http(sock, 'PUT', '/v1/config', goodYaml, 'application/yaml');
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ created: ['network plant'], updated: [], deleted: [], unchanged: 0 });
    expect(net.running?.networks[0]?.name).toBe('plant');
  });

  it('PUT /v1/config applies JSON, by content type and by sniffing', async () => {
    const byType = await http(sock, 'PUT', '/v1/config', goodJson, 'application/json');
    expect(byType.status).toBe(200);
    expect(net.running?.networks[0]?.name).toBe('lan');
    const sniffed = await http(sock, 'PUT', '/v1/config', goodYaml);
    expect(sniffed.status).toBe(200);
    expect(sniffed.json()).toMatchObject({ created: ['network plant'], deleted: ['network lan'] });
    const sniffedJson = await http(sock, 'PUT', '/v1/config', goodJson, 'text/plain');
    expect(sniffedJson.status).toBe(200);
    expect(net.running?.networks[0]?.name).toBe('lan');
  });

  const bad: { what: string; body: string; type?: string; message: RegExp }[] = [
    { what: 'bad JSON', body: '{"networks": [', type: 'application/json', message: /not valid JSON/ },
    { what: 'bad JSON (sniffed)', body: '{ "networks": ] }', message: /not valid JSON/ },
    { what: 'bad YAML', body: 'networks:\n  - name: a\n   type: [', type: 'application/yaml', message: /not valid YAML/ },
    { what: 'an empty body', body: '   ', type: 'application/yaml', message: /empty body/ },
    { what: 'an invalid config', body: 'networks:\n  - { name: Bad_Name, type: switch }\n', type: 'application/yaml', message: /invalid config/ },
  ];
  for (const c of bad) {
    it(`PUT /v1/config with ${c.what}: 400 with error and issues, running config untouched`, async () => {
      await http(sock, 'PUT', '/v1/config', goodYaml, 'application/yaml');
      const before = structuredClone(net.running);
      const r = await http(sock, 'PUT', '/v1/config', c.body, c.type);
      expect(r.status).toBe(400);
      const body = r.json();
      expect(body.error).toMatch(c.message);
      expect(Array.isArray(body.issues)).toBe(true);
      expect((body.issues as unknown[]).length).toBeGreaterThan(0);
      expect(net.running).toEqual(before);
    });
  }

  it('names the path of an invalid field in the issues', async () => {
    const r = await http(sock, 'PUT', '/v1/config', JSON.stringify({ networks: [{ name: 'x', type: 'bogus' }] }), 'application/json');
    expect(r.status).toBe(400);
    expect(r.json().issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: expect.stringContaining('networks') })]));
  });

  it('PUT /v1/config over the size limit: 413, nothing applied', async () => {
    const big = `# ${'x'.repeat(70 * 1024)}\n${goodYaml}`;
    const r = await http(sock, 'PUT', '/v1/config', big, 'application/yaml');
    expect(r.status).toBe(413);
    expect(r.json().error).toMatch(/too large/);
    expect(net.applied).toHaveLength(0);
  });

  it('serializes concurrent pushes', async () => {
    net.delayMs = 30;
    const results = await Promise.all(
      ['a', 'b', 'c', 'd'].map((n) => http(sock, 'PUT', '/v1/config', JSON.stringify({ networks: [{ name: n, type: 'switch' }] }), 'application/json')),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(net.maxActive).toBe(1);
    expect(net.applied).toHaveLength(4);
  });

  it('GET /v1/status answers the Status JSON', async () => {
    const status = net.status();
    status.networks.push({ name: 'plant', type: 'switch', state: 'ready', bridge: 'enbr-plant', port: 'field' });
    const r = await http(sock, 'GET', '/v1/status');
    expect(r.status).toBe(200);
    expect(r.json()).toEqual(status);
  });

  it('unknown route and wrong method: 404 JSON', async () => {
    const r = await http(sock, 'GET', '/v1/nope');
    expect(r.status).toBe(404);
    expect(r.json().error).toMatch(/no such route: GET \/v1\/nope/);
    const m = await http(sock, 'DELETE', '/v1/config');
    expect(m.status).toBe(404);
  });

  it('GET /v1/events streams one data line per transition', async () => {
    const got: Transition[] = [];
    const stop = new AbortController();
    const client = createApiClient(sock);
    const done = client.events((t) => {
      got.push(t);
      if (got.length === 2) stop.abort();
    }, stop.signal);
    const t1: Transition = { kind: 'network', name: 'plant', from: 'pending', to: 'creating', at: new Date().toISOString() };
    const t2: Transition = { kind: 'port', name: 'field', from: 'ready', to: 'degraded', at: new Date().toISOString(), reason: 'no carrier' };
    // The subscription exists once the server has answered the request headers; emit until the client has them.
    const timer = setInterval(() => {
      if (got.length === 0) net.transitions.next(t1);
    }, 20);
    await new Promise<void>((r) => {
      const check = setInterval(() => {
        if (got.length >= 1) {
          clearInterval(check);
          r();
        }
      }, 5);
    });
    clearInterval(timer);
    net.transitions.next(t2);
    await done;
    expect(got[0]).toEqual(t1);
    expect(got[1]).toEqual(t2);
  });

  it('SSE wire format is `data: <json>` blocks', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const req = request({ socketPath: sock, method: 'GET', path: '/v1/events' }, (res) => {
        expect(res.headers['content-type']).toMatch(/text\/event-stream/);
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
          if (text.includes('data: ')) {
            req.destroy();
            resolve(text);
          }
        });
        net.transitions.next({ kind: 'endpoint', name: 'app1/plant', from: null, to: 'pending', at: '2025-01-01T00:00:00.000Z' });
      });
      req.on('error', reject);
      req.end();
    });
    expect(raw).toContain('data: {"kind":"endpoint","name":"app1/plant","from":null,"to":"pending","at":"2025-01-01T00:00:00.000Z"}\n\n');
  });

  it('close() ends open event streams instead of hanging', async () => {
    const client = createApiClient(sock);
    const done = client.events(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    await server?.close();
    server = undefined;
    await expect(done).resolves.toBeUndefined();
  });
});

describe('API server socket handling', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-api-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('removes a stale socket left by a killed daemon', async () => {
    const sock = join(dir, 'api.sock');
    // A process that binds the socket and is SIGKILLed leaves the socket file behind.
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}); setInterval(() => {}, 1000)`]);
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
    if (child.pid) process.kill(child.pid, 'SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect((await stat(sock)).isSocket()).toBe(true);
    const server = await startApiServer({ net: new FakeEdgenet(), socketPath: sock });
    try {
      const r = await http(sock, 'GET', '/v1/status');
      expect(r.status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('tells onRequestDone after each answer, a refused one too (the daemon hands memory back once they pause)', async () => {
    const sock = join(dir, 'api.sock');
    let done = 0;
    let waiter: (() => void) | undefined;
    const server = await startApiServer({
      net: new FakeEdgenet(),
      socketPath: sock,
      onRequestDone: () => {
        done++;
        waiter?.();
      },
    });
    const doneReaches = (n: number): Promise<void> => new Promise<void>((r) => (waiter = () => done >= n && r())).then(() => undefined);
    try {
      const two = doneReaches(2);
      expect((await http(sock, 'GET', '/v1/status')).status).toBe(200);
      expect((await http(sock, 'GET', '/no/such/route')).status).toBe(404);
      await two;
      expect(done).toBe(2);
    } finally {
      await server.close();
    }
  });

  it('accepts a config just under the default 1 MiB limit and refuses one over it', async () => {
    const sock = join(dir, 'api.sock');
    const net = new FakeEdgenet();
    const server = await startApiServer({ net, socketPath: sock });
    try {
      const pad = (n: number): string => `# ${'x'.repeat(n)}\n${goodYaml}`;
      expect((await http(sock, 'PUT', '/v1/config', pad(1000 * 1024), 'application/yaml')).status).toBe(200);
      const over = await http(sock, 'PUT', '/v1/config', pad(1024 * 1024), 'application/yaml');
      expect(over.status).toBe(413);
      expect(over.json().error).toBe('config too large: the limit is 1048576 bytes');
      expect(net.applied).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('refuses to start over a live daemon, and over a file that is not a socket', async () => {
    const sock = join(dir, 'api.sock');
    const first = await startApiServer({ net: new FakeEdgenet(), socketPath: sock });
    try {
      await expect(startApiServer({ net: new FakeEdgenet(), socketPath: sock })).rejects.toThrow(/already serving/);
    } finally {
      await first.close();
    }
    const file = join(dir, 'not-a-socket');
    await writeFile(file, 'x');
    await expect(startApiServer({ net: new FakeEdgenet(), socketPath: file })).rejects.toThrow(/not a socket/);
  });
});

describe('API client', () => {
  it('says clearly when the daemon is not there', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgenet-api-'));
    try {
      const sock = join(dir, 'api.sock');
      const err = await createApiClient(sock).status().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DaemonUnreachableError);
      expect((err as Error).message).toBe(`cannot reach edgenet daemon at ${sock}: no such socket (is \`edgenet run\` running?)`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('turns a 400 into a ConfigError with the issues', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgenet-api-'));
    const sock = join(dir, 'api.sock');
    const server = await startApiServer({ net: new FakeEdgenet(), socketPath: sock });
    try {
      const err = await createApiClient(sock).putConfig('networks: 3\n').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues[0]?.path).toBe('networks');
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
