// `--format eve` in the CLI, the API and the daemon loop (fake core): conversion, findings, EVE paths in errors.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { EXIT, main } from '../../src/cli/main.ts';
import type { CliIo } from '../../src/cli/main.ts';
import { startApiServer } from '../../src/api/server.ts';
import type { ApiServer } from '../../src/api/server.ts';
import { createApiClient } from '../../src/api/client.ts';
import { loadConfigFile } from '../../src/config/config-load.ts';
import { runDaemon } from '../../src/daemon/daemon.ts';
import { ConfigError } from '../../src/errors.ts';
import { findingsOf } from '../../src/eve/eve-load.ts';
import { errorsOf } from '../../src/eve/eve-object-errors.ts';
import { FakeEdgenet } from './api-fake-edgenet.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const eveFixture = join(repo, 'test/fixtures/eve/edge-dev-config.json');

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: (t) => void (out += t), stderr: (t) => void (err += t) };
  const code = await main(['node', 'edgenet', ...args], io);
  return { code, out, err };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgenet-eve-cli-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function badEve(): Promise<string> {
  const doc = JSON.parse(await readFile(eveFixture, 'utf8')) as { apps: { interfaces: { networkId: string }[] }[] };
  const adapter = doc.apps[0]?.interfaces[1];
  if (adapter) adapter.networkId = 'f00dfeed-0000-4000-8000-000000000000';
  const file = join(dir, 'bad-eve.json');
  await writeFile(file, JSON.stringify(doc));
  return file;
}

describe('edgenet validate --format eve', () => {
  it('prints the findings and the interfaces the hypervisor must create, then ok (format given or detected)', async () => {
    for (const args of [['--format', 'eve'], []]) {
      const r = await cli(['validate', '-f', eveFixture, ...args]);
      expect(r.code).toBe(EXIT.ok);
      expect(r.out).toContain('info port eth1: no networks[] entry with id "6a0e1f7c-0000-4000-8000-000000000001": the port has no static DNS servers (systemAdapterList[0].networkUUID)\n');
      expect(r.out).toContain('info network spare: activate is false (or absent): network instance not created (networkInstances[3].activate)\n');
      expect(r.out).toContain('tap nbu6f1c2a9bx0: app web-hmi interfaces[0] (eth0) on network plant-lan, mac 02:16:3e:00:00:10, ip 10.50.0.10\n');
      expect(r.out.endsWith('ok\n')).toBe(true);
    }
  });

  it('lists an adapter on an unknown network instance as refused alone, with its EVE path (exit 0: the rest is valid)', async () => {
    const r = await cli(['validate', '-f', await badEve()]);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(/^error adapter web-hmi \(apps\[0\]\.interfaces\[1\]\): apps\[0\]\.interfaces\[1\]\.networkId: unknown network instance "f00dfeed-/m);
    expect(r.out.endsWith('ok\n')).toBe(true);
  });

  it('exits 1 for text that is not JSON with --format eve, and for an unknown format', async () => {
    const file = join(dir, 'x.yaml');
    await writeFile(file, 'networks: []\n');
    const r = await cli(['validate', '-f', file, '--format', 'eve']);
    expect(r.code).toBe(EXIT.rejected);
    expect(r.err).toMatch(/an EdgeDevConfig must be JSON/);
    expect((await cli(['validate', '-f', file, '--format', 'xml'])).code).toBe(EXIT.rejected);
  });
});

describe('EVE documents through the API', () => {
  let net: FakeEdgenet;
  let server: ApiServer | undefined;
  let sock: string;
  beforeEach(async () => {
    net = new FakeEdgenet();
    sock = join(dir, 'api.sock');
    server = await startApiServer({ net, socketPath: sock });
  });
  afterEach(async () => {
    await server?.close();
  });

  it('applies the converted config and answers the findings and names with the result', async () => {
    const r = await cli(['apply', '-f', eveFixture, '--format', 'eve', '--socket', sock]);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('info port eth1: no networks[] entry with id');
    expect(net.running?.networks.map((n) => n.name)).toEqual(['plant-lan', 'fieldbus', 'lab-isolated']);
    expect(net.running?.apps[0]?.interfaces[0]).toMatchObject({ tap: 'nbu6f1c2a9bx0', ip: '10.50.0.10' });

    const json = await cli(['apply', '-f', eveFixture, '--json', '--socket', sock]);
    const result = JSON.parse(json.out) as { findings: unknown[]; eve: { taps: { ifname: string }[] } };
    expect(result.findings.length).toBeGreaterThan(0);
    expect(result.eve.taps.map((t) => t.ifname)).toEqual(['nbu6f1c2a9bx0', 'nbu6f1c2a9bx1', 'nbu7e2d3bacx0']);
  });

  it('takes tap names given alongside (CLI --tap-names, API ?tapNames=)', async () => {
    const taps = join(dir, 'taps.json');
    await writeFile(taps, JSON.stringify({ '6f1c2a9b-5d3e-4f60-8a71-92b3c4d5e6f7/eth0': 'vif1.0' }));
    expect((await cli(['apply', '-f', eveFixture, '--tap-names', taps, '--socket', sock])).code).toBe(EXIT.ok);
    expect(net.running?.apps[0]?.interfaces[0]?.tap).toBe('vif1.0');
  });

  it('refuses a malformed EVE document with EVE paths and leaves the running config alone', async () => {
    const api = createApiClient(sock);
    await api.putConfig(await readFile(eveFixture, 'utf8'), 'application/json');
    const before = net.running;
    // an adapter on an unknown NI is refused alone: the answer lists it, the rest is applied
    const partial = await api.putConfig(await readFile(await badEve(), 'utf8'), 'application/json');
    expect(errorsOf(partial)).toEqual([expect.objectContaining({ kind: 'adapter', path: 'apps[0].interfaces[1]', reason: expect.stringMatching(/unknown network instance "f00dfeed-/) })]);
    expect(net.lastApplyOptions).toEqual({ partial: true });
    await api.putConfig(await readFile(eveFixture, 'utf8'), 'application/json');
    const same = net.running;
    expect(same).toEqual(before);

    const notList = await api.putConfig('{"networkInstances": 3}', 'application/json').catch((e: unknown) => e);
    expect((notList as ConfigError).issues).toEqual([{ path: 'networkInstances', message: 'must be a list of NetworkInstanceConfig, got 3' }]);
    const notJson = await api.putConfig('{"networkInstances": [', 'application/json', { format: 'eve' }).catch((e: unknown) => e);
    expect((notJson as ConfigError).message).toMatch(/not valid JSON/);
    const badFormat = await api.putConfig('{}', 'application/json', { format: 'xml' as 'eve' }).catch((e: unknown) => e);
    expect((badFormat as ConfigError).message).toMatch(/\?format= must be "eve" or "edgenet"/);
    expect(net.running).toBe(same);
  });

  it('leaves edgenet documents as they were (no findings in the answer)', async () => {
    const result = await createApiClient(sock).putConfig('networks:\n  - { name: plant, type: switch }\n', 'application/yaml');
    expect(result).toEqual({ created: ['network plant'], updated: [], deleted: [], unchanged: 0 });
    expect(findingsOf(result)).toEqual([]);
  });
});

describe('edgenet run with an EVE document', () => {
  it('converts the file, detected or with format eve, and re-converts it on change', async () => {
    const net = new FakeEdgenet();
    const file = join(dir, 'device.json');
    await writeFile(file, await readFile(eveFixture, 'utf8'));
    const stop = new AbortController();
    let ready = false;
    const daemon = runDaemon(
      { configPath: file, stateDir: join(dir, 'state'), format: 'eve', logger: pino({ level: 'silent' }), signal: stop.signal, onReady: () => (ready = true) },
      { createEdgenet: () => net, loadConfigFile },
    );
    const until = async (check: () => boolean): Promise<void> => {
      const end = Date.now() + 5000;
      while (!check()) {
        if (Date.now() > end) throw new Error('timed out');
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await until(() => ready);
    expect(net.running?.networks.map((n) => n.name)).toEqual(['plant-lan', 'fieldbus', 'lab-isolated']);
    const doc = JSON.parse(await readFile(eveFixture, 'utf8')) as { networkInstances: { activate: boolean }[] };
    for (const ni of doc.networkInstances) ni.activate = true;
    await writeFile(file, JSON.stringify(doc));
    await until(() => net.running?.networks.some((n) => n.name === 'spare') === true);
    stop.abort();
    expect(await daemon).toBe(0);
  });
});
