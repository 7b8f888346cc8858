// `edgenet run` without -c (resume the last good config), POST /v1/teardown, and the offline teardown of
// `edgenet down` on fake drivers.
import { createFakeRouteDriver } from '../../src/drivers/routes-fake.ts';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiClient } from '../../src/api/client.ts';
import { loadConfigFile } from '../../src/config/config-load.ts';
import { runDaemon, type DaemonDeps } from '../../src/daemon/daemon.ts';
import { createFakeDhcpDns } from '../../src/drivers/dhcpdns-fake.ts';
import { createFakeFirewall } from '../../src/drivers/firewall-fake.ts';
import { createFakeLinkDriver } from '../../src/drivers/links-fake.ts';
import { createEdgenet } from '../../src/edgenet.ts';
import { teardownOffline } from '../../src/reconcile/teardown.ts';
import { fakeEdgenet } from '../helpers/fake-edgenet.ts';
import { FakeEdgenet } from './api-fake-edgenet.ts';
import { readJournaled } from '../../src/util/journaled-file.ts';

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: pino({ level: 'info' }, { write: (s: string) => void lines.push(s) }), lines };
}

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const GOOD = { networks: [{ name: 'plant', type: 'switch' }] };

describe('edgenet run without -c, and teardown through the API', () => {
  let dir: string;
  let stateDir: string;
  let net: FakeEdgenet;
  let deps: DaemonDeps;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-resume-'));
    stateDir = join(dir, 'state');
    net = new FakeEdgenet();
    deps = { createEdgenet: () => net, loadConfigFile };
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('resumes the last good config of the state dir', async () => {
    await mkdir(stateDir);
    await writeFile(join(stateDir, 'config.json'), JSON.stringify(GOOD));
    const stop = new AbortController();
    let ready = false;
    const { logger, lines } = capture();
    const daemon = runDaemon({ stateDir, logger, signal: stop.signal, onReady: () => (ready = true) }, deps);
    await until('the API', () => ready);
    expect(net.running?.networks.map((n) => n.name)).toEqual(['plant']);
    expect(lines.join('')).toContain('resumed last good config');
    stop.abort();
    expect(await daemon).toBe(0);
  });

  it('checks the file and the last good config against its own caps (--max-endpoints above the default)', async () => {
    // 5001 app interfaces: one more than the default cap, spread over bridges that hold them
    const networks = Array.from({ length: 6 }, (_, i) => ({ name: `s${i}`, type: 'switch' }));
    const apps = Array.from({ length: 5001 }, (_, i) => ({ name: `a${i}`, interfaces: [{ network: `s${i % 6}`, tap: `tap${i}` }] }));
    const big = JSON.stringify({ networks, apps });
    const configPath = join(dir, 'big.json');
    await writeFile(configPath, big);
    for (const how of ['file', 'last good config'] as const) {
      if (how === 'last good config') {
        await mkdir(stateDir, { recursive: true });
        await writeFile(join(stateDir, 'config.json'), big);
      }
      const stop = new AbortController();
      let ready = false;
      const { logger } = capture();
      const daemon = runDaemon({ stateDir, logger, signal: stop.signal, limits: { endpoints: 6000 }, onReady: () => (ready = true), ...(how === 'file' && { configPath }) }, deps);
      await until(`the API (${how})`, () => ready);
      expect(net.running?.apps.length, how).toBe(5001);
      stop.abort();
      expect(await daemon).toBe(0);
      net = new FakeEdgenet();
      deps = { createEdgenet: () => net, loadConfigFile };
    }
  });

  it('exits 1 naming the file when the last good config is truncated, before creating anything', async () => {
    await mkdir(stateDir);
    const file = join(stateDir, 'config.json');
    await writeFile(file, JSON.stringify(GOOD).slice(0, 20));
    let created = false;
    const { logger, lines } = capture();
    const code = await runDaemon({ stateDir, logger }, { ...deps, createEdgenet: () => ((created = true), net) });
    expect(code).toBe(1);
    expect(created).toBe(false);
    const err = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).find((l) => l.level === 50);
    expect(err?.msg).toContain(file);
    expect(err?.msg).toMatch(/corrupt/);
  });

  it('exits 1 when there is neither -c nor a last good config', async () => {
    const { logger, lines } = capture();
    expect(await runDaemon({ stateDir, logger }, deps)).toBe(1);
    expect(lines.join('')).toMatch(/no config to run: pass -c/);
    expect(net.applied).toEqual([]);
  });

  it('with -c, a corrupt last good config is reported and replaced, not trusted', async () => {
    await mkdir(stateDir);
    await writeFile(join(stateDir, 'config.json'), '{"networks": [');
    const file = join(dir, 'config.yaml');
    await writeFile(file, 'networks:\n  - { name: lan, type: local, subnet: 10.1.0.0/24 }\n');
    const stop = new AbortController();
    let ready = false;
    const { logger, lines } = capture();
    const daemon = runDaemon({ configPath: file, stateDir, logger, signal: stop.signal, onReady: () => (ready = true) }, deps);
    await until('the API', () => ready);
    expect(net.running?.networks.map((n) => n.name)).toEqual(['lan']);
    expect(lines.find((l) => l.includes('"level":40'))).toMatch(/corrupt.*will be replaced/);
    stop.abort();
    expect(await daemon).toBe(0);
  });

  it('POST /v1/teardown tears down, answers, then the daemon stops; the last good config stays as it was', async () => {
    const file = join(dir, 'config.yaml');
    await writeFile(file, 'networks:\n  - { name: plant, type: switch }\n');
    await mkdir(stateDir);
    await writeFile(join(stateDir, 'config.json'), JSON.stringify(GOOD));
    let socket = '';
    const daemon = runDaemon({ configPath: file, stateDir, logger: pino({ level: 'silent' }), onReady: (i) => (socket = i.socketPath) }, deps);
    await until('the API', () => socket !== '');
    await createApiClient(socket).teardown();
    expect(await daemon).toBe(0);
    expect(net.running).toBeUndefined();
    expect(net.stopped).toBe(true);
    expect(JSON.parse(await readFile(join(stateDir, 'config.json'), 'utf8'))).toEqual(GOOD);
  });
});

describe('offline teardown (edgenet down) on fake drivers', () => {
  it('removes marked links, the table, dnsmasq and runtime state; keeps foreign links and the last good config', async () => {
    const sys = await fakeEdgenet();
    sys.links.addNetns('/run/netns/web');
    sys.links.addExternal('eth1');
    sys.links.addExternal('br-foreign', { kind: 'bridge' });
    await sys.net.apply({
      ports: [{ name: 'up0', ifname: 'eth1' }],
      networks: [
        { name: 'lan', type: 'local', port: 'up0', subnet: '10.50.0.0/24' },
        { name: 'plant', type: 'switch' },
      ],
      apps: [{ name: 'web', interfaces: [{ network: 'lan', netns: '/run/netns/web' }] }],
    });
    await mkdir(join(sys.stateDir, 'lan'), { recursive: true });
    await writeFile(join(sys.stateDir, 'lan', 'dnsmasq.conf'), '');
    expect((await sys.links.list()).filter((l) => l.alias?.startsWith('edgenet:'))).toHaveLength(3);

    const removed = await teardownOffline({ stateDir: sys.stateDir, drivers: { links: sys.links, firewall: sys.firewall, dhcpdns: sys.dhcpdns, routes: sys.routes } });
    expect(removed).toEqual(expect.arrayContaining(['bridge enbr-lan', 'bridge enbr-plant', 'rules of lan', 'dnsmasq of lan', 'table inet edgenet']));
    const left = await sys.links.list();
    expect(left.filter((l) => l.alias?.startsWith('edgenet:'))).toEqual([]);
    expect(left.map((l) => l.ifname).sort()).toEqual(['br-foreign', 'eth1']);
    expect(left.find((l) => l.ifname === 'eth1')?.master).toBeUndefined();
    expect((await sys.firewall.dump()).present).toBe(false);
    expect(sys.dhcpdns.networks()).toEqual([]);
    expect((await readdir(sys.stateDir)).sort()).toEqual(['config.json', 'config.json.journal']);
  });
});

describe('stop() and the last good config', () => {
  it('a push asked for before stop() lands in the file; one after it is refused; a second stop() waits for the first', async () => {
    const sys = await fakeEdgenet();
    await sys.net.apply(GOOD);
    const before = sys.net.apply({ networks: [{ name: 'plant', type: 'switch' }, { name: 'lab', type: 'switch' }] });
    const stopping = sys.net.stop();
    await expect(sys.net.apply({ networks: [] })).rejects.toThrow(/stopping/);
    const again = sys.net.stop();
    await before;
    await Promise.all([stopping, again]);
    // folded in by the stop: the file alone reads as the last push before it
    const names = (JSON.parse(await readFile(join(sys.stateDir, 'config.json'), 'utf8')) as { networks: { name: string }[] }).networks.map((n) => n.name);
    expect(names).toEqual(['plant', 'lab']);
    expect(await readJournaled(join(sys.stateDir, 'config.json'))).toBe(await readFile(join(sys.stateDir, 'config.json'), 'utf8'));
  });
});

describe('reservations of orphans', () => {
  it('an NI dropped while down is forgotten and an app dropped while down is released, at the first apply', async () => {
    const sys = await fakeEdgenet();
    for (const ns of ['web', 'db', 'lone']) sys.links.addNetns(`/run/netns/${ns}`);
    const lan = { name: 'lan', type: 'local', subnet: '10.50.0.0/24' };
    await sys.net.apply({
      networks: [lan, { name: 'iso', type: 'local', subnet: '10.60.0.0/24' }],
      apps: [
        { name: 'web', interfaces: [{ network: 'lan', netns: '/run/netns/web' }] },
        { name: 'db', interfaces: [{ network: 'lan', netns: '/run/netns/db' }] },
        { name: 'lone', interfaces: [{ network: 'iso', netns: '/run/netns/lone' }] },
      ],
    });
    await sys.net.stop();
    const before = JSON.parse((await readJournaled(join(sys.stateDir, 'reservations.json'))) ?? '') as { networks: Record<string, Record<string, { released: boolean }>> };
    expect(Object.keys(before.networks).sort()).toEqual(['iso', 'lan']);

    // edgenet restarts on a config without iso, lone and db
    const links = createFakeLinkDriver();
    links.addNetns('/run/netns/web');
    const again = createEdgenet({ stateDir: sys.stateDir, drivers: { links, firewall: createFakeFirewall(), dhcpdns: createFakeDhcpDns(), routes: createFakeRouteDriver() }, auditIntervalMs: 0 });
    await again.apply({ networks: [lan], apps: [{ name: 'web', interfaces: [{ network: 'lan', netns: '/run/netns/web' }] }] });
    await again.stop();
    const after = JSON.parse((await readJournaled(join(sys.stateDir, 'reservations.json'))) ?? '') as typeof before;
    expect(Object.keys(after.networks)).toEqual(['lan']);
    expect(after.networks.lan?.['web/lan']?.released).toBe(false);
    expect(after.networks.lan?.['db/lan']?.released).toBe(true);
  });
});
