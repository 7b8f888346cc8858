// The live view (`edgenet run --ui`) on the fake drivers: token in the runtime dir (0600) required by the page, the
// status and the stream; the stream carries where each actor is and every transition (a carrier flap: degraded and
// back); a port in use is exit 3 before anything is applied; `edgenet ui-url` prints the whole URL; the statecharts
// are drawn from the machines with every top-level state. The browser test is test/kernel/live-view-browser.test.ts.
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { request, createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deviceMachine } from '../../machines/device.machine.ts';
import { endpointMachine } from '../../machines/endpoint.machine.ts';
import { networkInstanceMachine } from '../../machines/network-instance.machine.ts';
import { main } from '../../src/cli/main.ts';
import { loadConfigFile } from '../../src/config/config-load.ts';
import { runDaemon } from '../../src/daemon/daemon.ts';
import { createFakeDhcpDns } from '../../src/drivers/dhcpdns-fake.ts';
import { createFakeFirewall } from '../../src/drivers/firewall-fake.ts';
import { createFakeLinkDriver } from '../../src/drivers/links-fake.ts';
import { createFakeRouteDriver } from '../../src/drivers/routes-fake.ts';
import { createEdgenet } from '../../src/edgenet.ts';
import type { Status, Transition } from '../../src/edgenet-types.ts';
import type { InspectionEvent } from 'xstate';
import { ActorPlaces, statePath, type ActorPlace } from '../../src/ui/actor-states.ts';
import { chartModel, chartSvg } from '../../src/ui/statechart-svg.ts';

const silent = pino({ level: 'silent' });

const config = {
  ports: [{ name: 'field', ifname: 'eth2' }],
  networks: [
    { name: 'lan', type: 'local', subnet: '10.50.0.0/24' },
    { name: 'plant', type: 'switch', port: 'field' },
  ],
  apps: [{ name: 'web', interfaces: [{ network: 'lan', netns: '/run/netns/web', ifname: 'eth0' }, { network: 'plant', tap: 'vif7' }] }],
};

function fakeDrivers() {
  const links = createFakeLinkDriver();
  links.addExternal('eth2');
  links.addExternal('vif7', { kind: 'tun' });
  links.addNetns('/run/netns/web');
  return { links, firewall: createFakeFirewall(), dhcpdns: createFakeDhcpDns(), routes: createFakeRouteDriver() };
}

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function httpGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: IncomingMessage['headers'] }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Follows an SSE stream; keeps every event. */
function follow(url: string): { events: { event: string; data: unknown }[]; close: () => void; status: Promise<number> } {
  const events: { event: string; data: unknown }[] = [];
  let buf = '';
  let close = (): void => undefined;
  const status = new Promise<number>((resolve, reject) => {
    const req = request(url, (res) => {
      resolve(res.statusCode ?? 0);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) as unknown });
        }
      });
    });
    req.on('error', reject);
    req.end();
    close = () => req.destroy();
  });
  return { events, close, status };
}

describe('live view', () => {
  let dir: string;
  let blocker: Server | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-ui-'));
  });
  afterEach(async () => {
    await new Promise<void>((r) => (blocker ? blocker.close(() => r()) : r()));
    blocker = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('edgenet run --ui serves the page, the status and the stream with the token only; a flap shows degraded and back', async () => {
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify(config));
    const stateDir = join(dir, 'state');
    const stop = new AbortController();
    let ready: { uiUrl?: string } | undefined;
    const drivers = fakeDrivers();
    const daemon = runDaemon(
      { configPath: file, stateDir, logger: silent, signal: stop.signal, ui: { port: 0 }, onReady: (info) => (ready = info) },
      { createEdgenet: (opts) => createEdgenet({ ...opts, drivers }), loadConfigFile },
    );
    let stream: ReturnType<typeof follow> | undefined;
    try {
      await until('the daemon', () => ready !== undefined);
      const url = String(ready?.uiUrl);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32}$/);
      const token = new URL(url).searchParams.get('token') ?? '';
      const base = url.split('?')[0] ?? '';
      expect((await stat(join(stateDir, 'ui-token'))).mode & 0o777).toBe(0o600);
      expect((await stat(join(stateDir, 'ui.json'))).mode & 0o777).toBe(0o600);

      // ui-url prints the same URL
      const out: string[] = [];
      const code = await main(['node', 'edgenet', 'ui-url', '--state-dir', stateDir], { stdout: (t) => out.push(t), stderr: (t) => out.push(t) });
      expect(code).toBe(0);
      expect(out.join('')).toBe(`${url}\n`);

      // without the token (or with a wrong one): nothing
      for (const path of ['', 'api/status', 'api/stream']) {
        const r = await httpGet(`${base}${path}`);
        expect(r.status, path).toBe(401);
        expect(r.body).toContain('edgenet ui-url');
        expect((await httpGet(`${base}${path}?token=${token.slice(1)}x`)).status).toBe(401);
      }
      // a DNS-rebound name does not get the page even with the token
      expect((await httpGet(url, { host: 'rebound.example' })).status).toBe(403);
      // the token also works as a header
      expect((await httpGet(`${base}api/status`, { authorization: `token ${token}` })).status).toBe(200);

      const page = await httpGet(url);
      expect(page.status).toBe(200);
      const csp = String(page.headers['content-security-policy']);
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("connect-src 'self'");
      expect(page.headers['referrer-policy']).toBe('no-referrer');
      // self-contained: no address of anywhere else in the page (the SVG namespace is a name, not a request)
      const urls = [...page.body.matchAll(/(?:https?|wss?):\/\/[^\s"'<>)]+/g)].map((m) => m[0]).filter((u) => u !== 'http://www.w3.org/2000/svg');
      expect(urls).toEqual([]);
      expect(page.body).not.toMatch(/<(script|link)[^>]+(src|href)="(?!data:)/);
      for (const machine of ['networkInstance', 'endpoint', 'device']) expect(page.body).toContain(`data-machine="${machine}"`);

      const status = JSON.parse((await httpGet(`${base}api/status?token=${token}`)).body) as Status;
      expect(status.networks.map((n) => n.name).sort()).toEqual(['lan', 'plant']);
      expect(status.source?.kind).toBe('file');

      stream = follow(`${base}api/stream?token=${encodeURIComponent(token)}`);
      expect(await stream.status).toBe(200);
      const s = stream;
      const placeOf = (key: string): string | undefined => {
        let state: string | undefined;
        for (const e of s.events) if (e.event === 'actors') for (const p of e.data as ActorPlace[]) if (p.key === key) state = p.state;
        return state;
      };
      await until('every actor in the first batch', () => ['network:lan', 'network:plant', 'endpoint:web/lan', 'endpoint:web/plant', 'port:field', 'device:device'].every((k) => placeOf(k) !== undefined));
      expect(placeOf('network:plant')).toMatch(/^ready/);

      drivers.links.setCarrier('eth2', false);
      const transitions = (): Transition[] => s.events.filter((e) => e.event === 'transition').map((e) => e.data as Transition);
      await until('plant degraded', () => transitions().some((t) => t.kind === 'network' && t.name === 'plant' && t.to === 'degraded'));
      await until('plant degraded in the actors', () => placeOf('network:plant')?.startsWith('degraded') === true);
      drivers.links.setCarrier('eth2', true);
      await until('plant ready again', () => transitions().some((t) => t.kind === 'network' && t.name === 'plant' && t.from === 'degraded' && t.to === 'ready'));
      await until('plant ready in the actors', () => placeOf('network:plant')?.startsWith('ready') === true);

      // a page that opens later gets the transitions so far
      const late = follow(`${base}api/stream?token=${encodeURIComponent(token)}`);
      try {
        await until('the history', () => late.events.some((e) => e.event === 'history'));
        const history = late.events.find((e) => e.event === 'history')?.data as Transition[];
        expect(history.filter((t) => t.name === 'plant').map((t) => `${t.from}->${t.to}`)).toEqual(['null->creating', 'creating->ready', 'ready->degraded', 'degraded->ready']);
      } finally {
        late.close();
      }
    } finally {
      stream?.close();
      stop.abort();
      expect(await daemon).toBe(0);
    }
    // the token goes with the daemon
    await expect(stat(join(stateDir, 'ui-token'))).rejects.toThrow(/ENOENT/);
    const out: string[] = [];
    expect(await main(['node', 'edgenet', 'ui-url', '--state-dir', stateDir], { stdout: (t) => out.push(t), stderr: (t) => out.push(t) })).toBe(2);
    expect(out.join('')).toContain('no daemon runs with --ui');
  });

  it('--ui-host and --inspect-ui-url: the live view on another address, the inspector page embedding a self-hosted UI, both with one token', async () => {
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify(config));
    const stateDir = join(dir, 'state');
    const stop = new AbortController();
    let ready: { uiUrl?: string; inspectorUrl?: string } | undefined;
    const daemon = runDaemon(
      {
        configPath: file,
        stateDir,
        logger: silent,
        signal: stop.signal,
        ui: { port: 0, host: '127.0.0.2' },
        inspect: { port: 0, uiUrl: 'http://127.0.0.1:9/my-inspector/' },
        onReady: (info) => (ready = info),
      },
      { createEdgenet: (opts) => createEdgenet({ ...opts, drivers: fakeDrivers() }), loadConfigFile },
    );
    try {
      await until('the daemon', () => ready !== undefined);
      const ui = new URL(String(ready?.uiUrl));
      const inspector = new URL(String(ready?.inspectorUrl));
      expect(ui.hostname).toBe('127.0.0.2');
      expect(inspector.hostname).toBe('127.0.0.1');
      expect(ui.searchParams.get('token')).toBe(inspector.searchParams.get('token'));
      // 127.0.0.2 is loopback too: the Host header must name it or another loopback name
      expect((await httpGet(ui.toString())).status).toBe(200);
      expect((await httpGet(ui.toString(), { host: 'localhost' })).status).toBe(200);
      expect((await httpGet(ui.toString(), { host: 'rebound.example' })).status).toBe(403);
      const page = await httpGet(inspector.toString());
      expect(page.body).toContain('src="http://127.0.0.1:9/my-inspector/"');
      // the live view links the inspector, with the token
      expect((await httpGet(ui.toString())).body).toContain(`href="${inspector.toString().replace(/&/g, '&amp;')}"`);
      const out: string[] = [];
      expect(await main(['node', 'edgenet', 'ui-url', '--inspector', '--state-dir', stateDir], { stdout: (t) => out.push(t), stderr: (t) => out.push(t) })).toBe(0);
      expect(out.join('')).toBe(`${inspector.toString()}\n`);
    } finally {
      stop.abort();
      expect(await daemon).toBe(0);
    }
  });

  it('a port in use is exit 3 before anything is applied', async () => {
    blocker = createServer();
    await new Promise<void>((r) => blocker?.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as AddressInfo).port;
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify(config));
    let created = false;
    const errors: string[] = [];
    const code = await runDaemon(
      { configPath: file, stateDir: join(dir, 'state'), logger: silent, ui: { port }, stderr: (t) => errors.push(t) },
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
    expect(errors.join('')).toContain(`127.0.0.1:${port} is in use`);
  });

  it('tracks where each actor is: nested states, gone when deleted or stopped, a replaced actor not removed by the old one', async () => {
    const places = new ActorPlaces(1);
    const batches: ActorPlace[][] = [];
    places.subscribe((b) => batches.push(b));
    const ni = (name: string) => ({ spec: { name }, problems: [] });
    const snap = (sessionId: string, value: unknown, context: unknown, status = 'active') =>
      ({ type: '@xstate.snapshot', actorRef: { sessionId }, snapshot: { value, status, context } }) as unknown as InspectionEvent;
    places.observe(snap('s1', { ready: 'steady' }, ni('lan')));
    places.observe(snap('s2', 'ready', { spec: { kind: 'port', name: 'up0', key: 'up0' }, carrier: true, retries: 0 }));
    places.observe(snap('s3', 'ready', { device: true, spec: {} }));
    expect(places.all()).toEqual([
      { key: 'network:lan', machine: 'networkInstance', state: 'ready.steady' },
      { key: 'port:up0', machine: 'endpoint', state: 'ready' },
      { key: 'device:device', machine: 'device', state: 'ready' },
    ]);
    // the same NI re-created (a new actor) before the old one's last snapshot
    places.observe(snap('s4', 'creating', ni('lan')));
    places.observe(snap('s1', 'deleted', ni('lan'), 'done'));
    expect(places.all().find((p) => p.key === 'network:lan')?.state).toBe('creating');
    places.observe(snap('s4', 'deleted', ni('lan'), 'done'));
    expect(places.all().map((p) => p.key)).toEqual(['port:up0', 'device:device']);
    await until('a batch', () => batches.length > 0);
    // coalesced: one entry per actor, its latest (lan: gone, without a state)
    expect(batches.flat().filter((p) => p.key === 'network:lan')).toEqual([{ key: 'network:lan', machine: 'networkInstance' }]);
    places.close();
  });

  it('draws each machine with its top-level states, nested states and moves', () => {
    for (const m of [networkInstanceMachine, endpointMachine, deviceMachine]) {
      const model = chartModel(m);
      const svg = chartSvg(model);
      for (const key of Object.keys(m.root.states)) expect(svg, `${m.id} ${key}`).toContain(`data-state="${key}"`);
    }
    const ni = chartModel(networkInstanceMachine);
    expect(ni.top.map((t) => t.key)).toEqual(['pending', 'creating', 'ready', 'degraded', 'deleting', 'deleted']);
    expect(chartSvg(ni)).toContain('data-state="ready.steady"');
    expect(ni.edges.find((e) => e.from === 'ready' && e.to === 'degraded')?.events).toContain('BRIDGE_GONE');
    expect(ni.edges.find((e) => e.from === 'creating' && e.to === 'ready')?.events).toEqual(['done createServices']);
    expect(statePath({ ready: 'steady' })).toBe('ready.steady');
    expect(statePath({ deleting: { working: {} } })).toBe('deleting.working');
    expect(statePath('pending')).toBe('pending');
  });
});
