// The daemon as a service, on a fake core: who writes the config (409 for a push that differs from the -c file,
// --allow-api-push, 400 first), SIGHUP re-reads the file (also with --no-watch), READY/STOPPING to the supervisor,
// /healthz /readyz /v1/version, status --check and version, the state layout (split dirs, migration of the old
// single dir), and a fatal start error on stderr.
import { INSTANCE_ID_FILE } from '../../src/reconcile/instance-lock.ts';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError, createApiClient } from '../../src/api/client.ts';
import { readinessOf } from '../../src/api/health.ts';
import { main, EXIT } from '../../src/cli/main.ts';
import { loadConfigFile } from '../../src/config/config-load.ts';
import { runDaemon, type DaemonDeps, type DaemonOptions } from '../../src/daemon/daemon.ts';
import { ConfigError } from '../../src/errors.ts';
import { packageVersion } from '../../src/util/package-info.ts';
import type { Notifier } from '../../src/daemon/sd-notify.ts';
import { migrateStateLayout, PERSISTENT_FILES, resolveLayout } from '../../src/daemon/state-layout.ts';
import { LAST_GOOD_CONFIG } from '../../src/daemon/state-dir.ts';
import { RESERVATIONS_FILE } from '../../src/services/ipam.ts';
import { journalPath } from '../../src/util/journaled-file.ts';
import { emptyStatus, FakeEdgenet } from './api-fake-edgenet.ts';

const silent = pino({ level: 'silent' });
const PLANT = 'networks:\n  - { name: plant, type: switch }\n';
const LAN = 'networks:\n  - { name: lan, type: local, subnet: 10.1.0.0/24 }\n';

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

class RecordingNotifier implements Notifier {
  readonly sent: string[] = [];
  async ready(status?: string): Promise<void> {
    this.sent.push(`READY${status ? ` ${status}` : ''}`);
  }
  async stopping(): Promise<void> {
    this.sent.push('STOPPING');
  }
  async status(text: string): Promise<void> {
    this.sent.push(`STATUS ${text}`);
  }
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['node', 'edgenet', ...args], { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

describe('edgenet run as a service (fake core)', () => {
  let dir: string;
  let net: FakeEdgenet;
  let deps: DaemonDeps;
  let file: string;
  let stop: AbortController;
  let daemon: Promise<number> | undefined;
  let notifier: RecordingNotifier;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-service-'));
    net = new FakeEdgenet();
    deps = { createEdgenet: () => net, loadConfigFile };
    file = join(dir, 'config.yaml');
    await writeFile(file, PLANT);
    stop = new AbortController();
    notifier = new RecordingNotifier();
  });
  afterEach(async () => {
    stop.abort();
    await daemon;
    daemon = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  async function start(opts: Partial<DaemonOptions> = {}): Promise<string> {
    let socket: string | undefined;
    daemon = runDaemon({ configPath: file, stateDir: join(dir, 'state'), logger: silent, signal: stop.signal, notifier, onReady: (i) => (socket = i.socketPath), ...opts }, deps);
    await until('the API', () => socket !== undefined);
    return socket as string;
  }

  it('with -c, refuses a valid push that differs from the file (409 naming it); a bad push is a 400; the same config is accepted', async () => {
    const api = createApiClient(await start());
    const refused = await api.putConfig(LAN).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 409, message: expect.stringContaining(file) });
    expect(net.running?.networks.map((n) => n.name)).toEqual(['plant']);
    // validation first: a bad push is a 400 with its issues, not a 409
    const bad = await api.putConfig('networks:\n  - { name: Bad, type: switch }\n').catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ConfigError);
    expect((bad as ConfigError).issues[0]?.path).toBe('networks[0].name');
    // the file's own config (as JSON, other key order) is the no-op it is
    await expect(api.putConfig('{"networks":[{"type":"switch","name":"plant"}]}', 'application/json')).resolves.toMatchObject({ created: [] });
    expect((await api.status()).source).toMatchObject({ kind: 'file', file });
    // the CLI: refused is exit 1 with the daemon's message
    await writeFile(join(dir, 'lan.yaml'), LAN);
    const r = await cli(['apply', '-f', join(dir, 'lan.yaml'), '--socket', api.socketPath]);
    expect(r.code).toBe(EXIT.rejected);
    expect(r.err).toContain('409');
    expect(r.err).toContain('--allow-api-push');
  });

  it('with --allow-api-push the push runs (status source: api) until the file changes again', async () => {
    const api = createApiClient(await start({ allowApiPush: true }));
    await api.putConfig(LAN);
    expect(net.running?.networks.map((n) => n.name)).toEqual(['lan']);
    expect((await api.status()).source).toMatchObject({ kind: 'api' });
    await writeFile(file, 'networks:\n  - { name: field, type: switch }\n');
    await until('the file re-applied', () => net.running?.networks[0]?.name === 'field');
    expect((await api.status()).source).toMatchObject({ kind: 'file', file });
  });

  it('without -c the API is the only writer (resumed last good config is the source)', async () => {
    const stateDir = join(dir, 'state');
    await mkdir(stateDir, { recursive: true });
    const lastGood = join(stateDir, 'config.json');
    await writeFile(lastGood, JSON.stringify({ networks: [{ name: 'plant', type: 'switch' }] }));
    let socket: string | undefined;
    daemon = runDaemon({ stateDir, logger: silent, signal: stop.signal, notifier, onReady: (i) => (socket = i.socketPath) }, deps);
    await until('the API', () => socket !== undefined);
    const api = createApiClient(socket as string);
    expect((await api.status()).source).toMatchObject({ kind: 'last-good', file: lastGood });
    await api.putConfig(LAN);
    expect((await api.status()).source).toMatchObject({ kind: 'api' });
  });

  it('SIGHUP re-reads and applies the file with --no-watch; the daemon and its socket stay', async () => {
    const socket = await start({ watch: false });
    await writeFile(file, LAN);
    await new Promise((r) => setTimeout(r, 500));
    expect(net.running?.networks.map((n) => n.name), 'no watcher').toEqual(['plant']);
    process.emit('SIGHUP', 'SIGHUP');
    await until('the reload', () => net.running?.networks[0]?.name === 'lan');
    expect(existsSync(socket)).toBe(true);
    expect((await createApiClient(socket).status()).source).toMatchObject({ kind: 'file' });
    // a broken file on SIGHUP: logged, the running config stays
    await writeFile(file, 'networks: [\n');
    process.emit('SIGHUP', 'SIGHUP');
    await new Promise((r) => setTimeout(r, 200));
    expect(net.running?.networks[0]?.name).toBe('lan');
  });

  it('tells the supervisor READY after the first apply, then STOPPING on stop', async () => {
    let appliedAtReady = 0;
    notifier.ready = async (status?: string) => {
      appliedAtReady = net.applied.length;
      notifier.sent.push(`READY ${status ?? ''}`);
    };
    await start();
    await until('READY', () => notifier.sent.length > 0);
    expect(appliedAtReady).toBe(1);
    expect(notifier.sent[0]).toMatch(/^READY running: /);
    stop.abort();
    expect(await daemon).toBe(0);
    expect(notifier.sent).toEqual([expect.stringMatching(/^READY/), 'STOPPING']);
  });

  it('serves /healthz, /readyz and /v1/version; status --check and version answer from them', async () => {
    const socket = await start();
    const api = createApiClient(socket);
    expect(await api.health()).toEqual({ code: 200, body: { alive: true, actors: 'running' } });
    expect(await api.ready()).toEqual({ code: 200, body: { ready: true } });
    expect(await api.version()).toMatchObject({ version: packageVersion(), pid: process.pid });
    expect(await cli(['status', '--check', '--socket', socket])).toMatchObject({ code: EXIT.ok });
    expect((await cli(['version', '--socket', socket])).out).toBe(`edgenet ${packageVersion()}\ndaemon ${packageVersion()}\n`);

    // something degraded: still settled (ready 200), but status --check says 4 and names it
    net.statusSubject.next({ ...emptyStatus(), networks: [{ name: 'lan', type: 'local', state: 'degraded', bridge: 'enbr-lan', reason: 'port up0 lost carrier' }] });
    expect((await api.ready()).code).toBe(200);
    const degraded = await cli(['status', '--check', '--socket', socket]);
    expect(degraded.code).toBe(EXIT.notReady);
    expect(degraded.code).toBe(4);
    expect(degraded.err).toContain('not ready: network lan degraded (port up0 lost carrier)');

    // an apply still converging: 503 with what is unsettled, and 4
    net.settledNow = false;
    net.statusSubject.next({ ...emptyStatus(), networks: [{ name: 'lan', type: 'local', state: 'creating', bridge: 'enbr-lan' }] });
    expect(await api.ready()).toEqual({ code: 503, body: { ready: false, unsettled: [{ kind: 'network', name: 'lan', state: 'creating' }] } });
    expect((await cli(['status', '--check', '--socket', socket])).code).toBe(4);

    stop.abort();
    expect(await daemon).toBe(0);
    // no daemon: 2, and version says so
    expect((await cli(['status', '--check', '--socket', socket])).code).toBe(EXIT.unreachable);
    expect(await cli(['version', '--socket', socket])).toMatchObject({ code: 0, out: `edgenet ${packageVersion()}\ndaemon not running\n` });
  });

  it('a fatal start error is printed for humans on stderr too', async () => {
    await writeFile(file, 'networks:\n  - { name: plant, type: switch, port: ghost }\n');
    let err = '';
    const code = await runDaemon({ configPath: file, stateDir: join(dir, 'state'), logger: silent, notifier, stderr: (t) => (err += t) }, deps);
    expect(code).toBe(1);
    expect(err).toMatch(/^edgenet: config rejected: /);
    expect(err).toContain('networks[0].port');
    expect(notifier.sent).toEqual([]);
    let none = '';
    expect(await runDaemon({ stateDir: join(dir, 'empty'), logger: silent, notifier, stderr: (t) => (none += t) }, deps)).toBe(1);
    expect(none).toContain('no config to run');
  });

  it('splits persistent state from runtime files: the socket in --runtime-dir, the last good config in --state-dir', async () => {
    const runtimeDir = join(dir, 'run');
    const stateDir = join(dir, 'lib');
    const socket = await start({ stateDir, runtimeDir });
    expect(socket).toBe(join(runtimeDir, 'api.sock'));
    expect(existsSync(socket)).toBe(true);
    expect(existsSync(join(stateDir, 'api.sock'))).toBe(false);
    expect((await cli(['status', '--check', '--runtime-dir', runtimeDir])).code).toBe(0);
    expect((await cli(['status', '--check', '--state-dir', stateDir])).code, 'the socket is not in the state dir').toBe(EXIT.unreachable);
  });
});

describe('state layout', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-layout-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names the persistent files as state-dir.ts, ipam.ts and instance-lock.ts write them', () => {
    expect(PERSISTENT_FILES).toEqual([LAST_GOOD_CONFIG, journalPath(LAST_GOOD_CONFIG), RESERVATIONS_FILE, journalPath(RESERVATIONS_FILE), INSTANCE_ID_FILE]);
  });

  it.each([
    [{}, { stateDir: '/var/lib/edgenet', runtimeDir: '/run/edgenet', socketPath: '/run/edgenet/api.sock' }],
    [{ stateDir: '/tmp/d' }, { stateDir: '/tmp/d', runtimeDir: '/tmp/d', socketPath: '/tmp/d/api.sock' }],
    [{ runtimeDir: '/tmp/r' }, { stateDir: '/var/lib/edgenet', runtimeDir: '/tmp/r', socketPath: '/tmp/r/api.sock' }],
    [{ stateDir: '/tmp/d', runtimeDir: '/tmp/r', socketPath: '/tmp/s.sock' }, { stateDir: '/tmp/d', runtimeDir: '/tmp/r', socketPath: '/tmp/s.sock' }],
  ])('resolveLayout(%j)', (given, expected) => {
    expect(resolveLayout(given)).toEqual(expected);
  });

  it('migrates an old single state dir once: the persistent files move, the runtime files stay, the new state wins', async () => {
    const runtimeDir = join(dir, 'run');
    const stateDir = join(dir, 'lib');
    await mkdir(join(runtimeDir, 'lan'), { recursive: true });
    await writeFile(join(runtimeDir, 'config.json'), '{"networks":[]}\n');
    await writeFile(join(runtimeDir, 'reservations.json'), '{"lan":{}}\n');
    await writeFile(join(runtimeDir, 'lan', 'dnsmasq.conf'), 'x\n');
    const layout = resolveLayout({ stateDir, runtimeDir });
    expect(await migrateStateLayout(layout)).toEqual(['config.json', 'reservations.json']);
    expect(await readFile(join(stateDir, 'config.json'), 'utf8')).toBe('{"networks":[]}\n');
    expect(await readFile(join(stateDir, 'reservations.json'), 'utf8')).toBe('{"lan":{}}\n');
    expect(existsSync(join(runtimeDir, 'config.json'))).toBe(false);
    expect(existsSync(join(runtimeDir, 'lan', 'dnsmasq.conf'))).toBe(true);
    expect(await migrateStateLayout(layout), 'once').toEqual([]);
    // a state dir that already has its files wins: the runtime copy is left alone
    await writeFile(join(runtimeDir, 'config.json'), '{"old":true}\n');
    expect(await migrateStateLayout(layout)).toEqual([]);
    expect(await readFile(join(stateDir, 'config.json'), 'utf8')).toBe('{"networks":[]}\n');
    expect(await migrateStateLayout(resolveLayout({ stateDir })), 'single dir: nothing to do').toEqual([]);
  });
});

describe('readinessOf', () => {
  it('is 200 when settled even with something degraded, 503 with the unsettled objects otherwise', () => {
    const status = { ...emptyStatus(), endpoints: [{ app: 'vm', network: 'plant', kind: 'tap' as const, state: 'pending' as const, ifname: 'vif7', reason: 'waiting for tap vif7' }] };
    expect(readinessOf(status, true).code).toBe(200);
    expect(readinessOf(status, false)).toEqual({ code: 503, body: { ready: false, unsettled: [{ kind: 'endpoint', name: 'vm/plant', state: 'pending', reason: 'waiting for tap vif7' }] } });
    expect(readinessOf(emptyStatus())).toEqual({ code: 200, body: { ready: true } });
  });
});

describe('the systemd unit in the README', () => {
  it('is systemd/edgenet.service verbatim', async () => {
    const repo = join(import.meta.dirname, '..', '..');
    const readme = await readFile(join(repo, 'README.md'), 'utf8');
    const unit = await readFile(join(repo, 'systemd/edgenet.service'), 'utf8');
    const marker = readme.indexOf('<!-- systemd/edgenet.service:');
    expect(marker, 'the <!-- systemd/edgenet.service … --> marker in the README').toBeGreaterThan(0);
    const open = readme.indexOf('```ini\n', marker) + '```ini\n'.length;
    expect(readme.slice(open, readme.indexOf('```\n', open)), 'README unit differs from systemd/edgenet.service: paste the file into the Service section').toBe(unit);
  });
});
