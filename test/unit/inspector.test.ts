// Inspection: an observer given to createEdgenet sees every NI and endpoint actor; the inspector server hands the
// same events to websocket clients on loopback (late clients get the live actors replayed), and `edgenet run
// --inspect` wires it up. The actor system runs on the in-memory drivers: no kernel, no namespaces.
import { createFakeRouteDriver } from '../../src/drivers/routes-fake.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import type { InspectionEvent } from 'xstate';
import { loadConfigFile } from '../../src/config/config-load.ts';
import { runDaemon } from '../../src/daemon/daemon.ts';
import { createFakeDhcpDns } from '../../src/drivers/dhcpdns-fake.ts';
import type { Drivers } from '../../src/drivers/drivers.ts';
import { createFakeFirewall } from '../../src/drivers/firewall-fake.ts';
import { createFakeLinkDriver } from '../../src/drivers/links-fake.ts';
import { createEdgenet } from '../../src/edgenet.ts';
import type { Edgenet, Status } from '../../src/edgenet-types.ts';
import { startInspector, toInspectionJson, type InspectorServer } from '../../src/inspector.ts';
import { identify, topState, type ChildContext } from '../../src/runtime/transitions.ts';

const silent = pino({ level: 'silent' });

const config = {
  ports: [{ name: 'field', ifname: 'eth2' }],
  networks: [
    { name: 'lan', type: 'local', subnet: '10.50.0.0/24' },
    { name: 'plant', type: 'switch', port: 'field' },
  ],
  apps: [{ name: 'web', interfaces: [{ network: 'lan', netns: '/run/netns/web', ifname: 'eth0' }, { network: 'plant', tap: 'vif7' }] }],
};

function fakeDrivers(): Drivers {
  const links = createFakeLinkDriver();
  links.addExternal('eth2');
  links.addExternal('vif7', { kind: 'tun' });
  links.addNetns('/run/netns/web');
  return { links, firewall: createFakeFirewall(), dhcpdns: createFakeDhcpDns(), routes: createFakeRouteDriver() };
}

/** `network:lan`, `endpoint:web/lan`, `port:field`: every NI, endpoint and port in a status. */
function objectsOf(status: Status): string[] {
  return [
    ...status.networks.map((n) => `network:${n.name}`),
    ...status.endpoints.map((e) => `endpoint:${e.app}/${e.network}`),
    ...status.ports.map((p) => `port:${p.name}`),
  ].sort();
}

function objectOf(snapshot: { context?: unknown } | undefined): string | undefined {
  const c = snapshot?.context;
  // the device actor (table base, ip_forward) is not one of the status's NIs, endpoints or ports
  if (!c || typeof c !== 'object' || !('spec' in c) || 'device' in c) return undefined;
  const { kind, name } = identify(c as ChildContext);
  return `${kind}:${name}`;
}

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface StatelyMessage {
  type: string;
  sessionId: string;
  name?: string;
  definition?: string;
  snapshot?: { value?: unknown; context?: unknown; status?: string };
}

/** A websocket client that keeps every message it receives. */
async function connect(url: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; messages: StatelyMessage[] }> {
  const ws = new WebSocket(url, { headers });
  const messages: StatelyMessage[] = [];
  ws.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString('utf8')) as StatelyMessage));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, messages };
}

/** Latest top-level state per object, from the snapshot messages a client got. */
function statesIn(messages: StatelyMessage[]): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const m of messages) {
    if (m.type !== '@xstate.snapshot') continue;
    const obj = objectOf(m.snapshot);
    if (obj) out.set(obj, topState(m.snapshot?.value));
  }
  return out;
}

function httpGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('inspection', () => {
  let dir: string;
  let net: Edgenet | undefined;
  let inspector: InspectorServer | undefined;
  const clients: WebSocket[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-inspect-'));
  });
  afterEach(async () => {
    for (const ws of clients.splice(0)) ws.terminate();
    await net?.stop();
    net = undefined;
    await inspector?.close();
    inspector = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('an observer given to createEdgenet receives snapshots of every NI and endpoint actor, through to deleted', async () => {
    const states = new Map<string, string[]>();
    const inspect = (ev: InspectionEvent): void => {
      if (ev.type !== '@xstate.snapshot') return;
      const snapshot = ev.snapshot as { value?: unknown; context?: unknown };
      const obj = objectOf(snapshot);
      const state = topState(snapshot.value);
      if (!obj || !state) return;
      const seen = states.get(obj) ?? [];
      if (seen.at(-1) !== state) seen.push(state);
      states.set(obj, seen);
    };
    net = createEdgenet({ stateDir: dir, logger: silent, drivers: fakeDrivers(), inspect });
    await net.apply(config);
    const objects = objectsOf(net.status());
    expect(objects).toEqual(['endpoint:web/lan', 'endpoint:web/plant', 'network:lan', 'network:plant', 'port:field']);
    expect([...states.keys()].sort()).toEqual(objects);
    // the last snapshot each actor reported is the state status() shows
    const status = net.status();
    for (const n of status.networks) expect(states.get(`network:${n.name}`)?.at(-1)).toBe(n.state);
    for (const e of status.endpoints) expect(states.get(`endpoint:${e.app}/${e.network}`)?.at(-1)).toBe(e.state);
    for (const p of status.ports) expect(states.get(`port:${p.name}`)?.at(-1)).toBe(p.state);
    expect(states.get('network:lan')).toEqual(['creating', 'ready']);

    await net.apply({});
    for (const obj of objects) expect(states.get(obj)?.slice(-2), obj).toEqual(['deleting', 'deleted']);
  });

  it('an rxjs-style observer works as well', async () => {
    const types = new Set<string>();
    net = createEdgenet({
      stateDir: dir,
      logger: silent,
      drivers: fakeDrivers(),
      inspect: { next: (ev: InspectionEvent) => types.add(ev.type), error: () => undefined, complete: () => undefined },
    });
    await net.apply({ networks: [{ name: 'plant', type: 'switch' }] });
    expect([...types]).toEqual(expect.arrayContaining(['@xstate.actor', '@xstate.event', '@xstate.snapshot']));
  });

  it('the inspector serves the snapshots to websocket clients on loopback, replaying live actors to late ones', async () => {
    inspector = await startInspector({ port: 0, logger: silent });
    expect(inspector.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32}$/);
    const early = await connect(inspector.wsUrl);
    clients.push(early.ws);
    net = createEdgenet({ stateDir: dir, logger: silent, drivers: fakeDrivers(), inspect: inspector.inspect.bind(inspector) });
    await net.apply(config);
    const status = net.status();
    const expected = new Map<string, string>([
      ...status.networks.map((n): [string, string] => [`network:${n.name}`, n.state]),
      ...status.endpoints.map((e): [string, string] => [`endpoint:${e.app}/${e.network}`, e.state]),
      ...status.ports.map((p): [string, string] => [`port:${p.name}`, p.state]),
    ]);
    await until('snapshots of every actor', () => [...expected].every(([obj, state]) => statesIn(early.messages).get(obj) === state));
    // registrations come first and carry the machine's definition, so the inspector can draw it
    const registered = (messages: StatelyMessage[]): void => {
      const actors = messages.filter((m) => m.type === '@xstate.actor');
      expect(actors.find((a) => a.name === 'edgenet')?.definition).toContain('"states"');
      for (const m of messages.filter((x) => x.type === '@xstate.snapshot')) {
        const index = messages.findIndex((a) => a.type === '@xstate.actor' && a.sessionId === m.sessionId);
        expect(index, `actor of ${m.sessionId} registered before its snapshots`).toBeGreaterThanOrEqual(0);
        expect(index).toBeLessThan(messages.indexOf(m));
      }
    };
    registered(early.messages);

    // what the early client gets from here on is live; a late client gets the replay and the same live messages
    const earlyFrom = early.messages.length;
    const late = await connect(inspector.wsUrl);
    clients.push(late.ws);
    await until('the replay', () => [...expected].every(([obj, state]) => statesIn(late.messages).get(obj) === state));
    registered(late.messages);
    // only what draws the system now: no event history. An event the late client has is a live one (a link event's
    // trailing throttle may still arrive after apply()): the early client receives it too, after earlyFrom
    const events = (messages: StatelyMessage[]): string[] => messages.filter((m) => m.type === '@xstate.event').map((m) => JSON.stringify(m));
    const lateEvents = events(late.messages);
    await until('the late client\'s events reach the early one live', () => {
      const live = events(early.messages.slice(earlyFrom));
      return lateEvents.every((e) => live.includes(e));
    });

    // deleted actors are no longer replayed
    const kept = new Set(['network:lan']);
    const gone = [...expected.keys()].filter((o) => !kept.has(o));
    await net.apply({ networks: [{ name: 'lan', type: 'local', subnet: '10.50.0.0/24' }] });
    // the inspector sends each removed actor's last snapshot (stopped or done) to the clients it has: once the early
    // client has them all, the inspector has dropped those actors from its replay
    await until('the removed actors\' last snapshots', () => {
      const ended = new Set(early.messages.filter((m) => m.type === '@xstate.snapshot' && (m.snapshot?.status === 'stopped' || m.snapshot?.status === 'done')).map((m) => objectOf(m.snapshot)));
      return gone.every((o) => ended.has(o));
    });
    const third = await connect(inspector.wsUrl);
    clients.push(third.ws);
    await until('the second replay', () => statesIn(third.messages).get('network:lan') === 'ready');
    expect([...statesIn(third.messages).keys()]).toEqual(['network:lan']);
  });

  it('serves the bridge page to loopback names only, with its token, and refuses foreign origins', async () => {
    inspector = await startInspector({ port: 0, uiUrl: 'https://inspector.test/inspect?a=1&b=2', token: 'sesame' });
    expect(inspector.url).toBe(`http://127.0.0.1:${inspector.port}/?token=sesame`);
    const page = await httpGet(inspector.url);
    expect(page.status).toBe(200);
    expect(page.body).toContain('src="https://inspector.test/inspect?a=1&amp;b=2"');
    expect(page.body).toContain("new WebSocket('ws://' + location.host + '/' + location.search)");
    // when the inspector UI does not load, the page says why
    expect(page.body).toContain('did not load');
    expect(page.body).toContain('--inspect-ui-url');
    expect((await httpGet(`http://localhost:${inspector.port}/?token=sesame`)).status).toBe(200);
    // no token, a wrong one: neither the page nor the stream
    expect((await httpGet(inspector.baseUrl)).status).toBe(401);
    expect((await httpGet(`${inspector.baseUrl}?token=sesamf`)).status).toBe(401);
    await expect(connect(`ws://127.0.0.1:${inspector.port}/`)).rejects.toThrow(/401/);
    await expect(connect(`ws://127.0.0.1:${inspector.port}/?token=sesam`)).rejects.toThrow(/401/);
    // a DNS-rebound name reaches the same socket but not the page
    expect((await httpGet(inspector.url, { host: `rebound.example:${inspector.port}` })).status).toBe(403);
    expect((await httpGet(`${inspector.baseUrl}nope?token=sesame`)).status).toBe(404);

    const own = await connect(inspector.wsUrl, { origin: inspector.url });
    clients.push(own.ws);
    await expect(connect(inspector.wsUrl, { origin: 'https://evil.example' })).rejects.toThrow(/403/);
  });

  it('refuses a port in use with a message that says so', async () => {
    inspector = await startInspector({ port: 0 });
    await expect(startInspector({ port: inspector.port })).rejects.toThrow(`127.0.0.1:${inspector.port} is in use`);
  });

  it('edgenet run --inspect fails (exit 3) without applying when the port is taken', async () => {
    inspector = await startInspector({ port: 0 });
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify(config));
    let created = false;
    const code = await runDaemon(
      { configPath: file, stateDir: join(dir, 'state'), logger: silent, inspect: { port: inspector.port } },
      {
        createEdgenet: (opts) => {
          created = true;
          return createEdgenet({ ...opts, drivers: fakeDrivers() });
        },
        loadConfigFile,
      },
    );
    expect(code).toBe(3);
    expect(created).toBe(false);
  });

  it('edgenet run --inspect serves the actors of the daemon', async () => {
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify(config));
    const stop = new AbortController();
    let ready: { socketPath: string; inspectorUrl?: string } | undefined;
    const drivers = fakeDrivers();
    const daemon = runDaemon(
      { configPath: file, stateDir: join(dir, 'state'), logger: silent, signal: stop.signal, inspect: { port: 0 }, onReady: (info) => (ready = info) },
      { createEdgenet: (opts) => createEdgenet({ ...opts, drivers }), loadConfigFile },
    );
    try {
      await until('the daemon', () => ready !== undefined);
      const url = ready?.inspectorUrl;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32}$/);
      // the token is in the runtime dir, for root only; ui-url prints the page with it
      const { readUiFiles } = await import('../../src/ui/ui-token.ts');
      const files = await readUiFiles(join(dir, 'state'));
      expect(String(url)).toContain(files.token);
      expect((await stat(join(dir, 'state', 'ui-token'))).mode & 0o777).toBe(0o600);
      const client = await connect(String(url).replace(/^http/, 'ws'));
      clients.push(client.ws);
      const want = ['network:lan', 'network:plant', 'endpoint:web/lan', 'endpoint:web/plant', 'port:field'];
      await until('snapshots of every actor', () => want.every((obj) => statesIn(client.messages).has(obj)));
      expect(statesIn(client.messages).get('network:lan')).toBe('ready');
    } finally {
      stop.abort();
      expect(await daemon).toBe(0);
    }
  });
});

describe('toInspectionJson', () => {
  it('cuts cycles and depth, and names functions', () => {
    const a: Record<string, unknown> = { name: 'a', fn: function createNi() {} };
    a.self = a;
    a.deep = { l1: { l2: { l3: { l4: 1 } } } };
    const shared = { x: 1 };
    a.twice = [shared, shared];
    expect(JSON.parse(toInspectionJson(a, 3))).toEqual({
      name: 'a',
      fn: { type: 'createNi' },
      self: '[Circular]',
      deep: { l1: { l2: '[Object]' } },
      twice: [{ x: 1 }, { x: 1 }],
    });
  });
});
