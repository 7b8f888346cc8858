// The library entry (`import … from 'edgenet'`, `'edgenet/testing'`): what it exports, that importing it does
// nothing (no sockets, no timers, no files), and that an embedder's test can run the whole library on the fakes.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as edgenet from '../../src/index.ts';
import { createFakeDrivers } from '../../src/testing.ts';

const REPO = resolve(import.meta.dirname, '..', '..');

interface ChildRun {
  code: number | null;
  output: string;
  /** ms from spawning to exit */
  ms: number;
}

/**
 * Imports the entry by its package name (self-reference through package.json `exports`) in a fresh node whose
 * stdout/stderr are files, not pipes, so that anything left keeping the event loop alive is the import's doing.
 */
async function importInChild(specifiers: string[]): Promise<ChildRun> {
  const dir = await mkdtemp(join(tmpdir(), 'edgenet-entry-'));
  const outPath = join(dir, 'out');
  const out = openSync(outPath, 'w');
  const script = [
    `for (const s of ${JSON.stringify(specifiers)}) await import(s);`,
    // what keeps the event loop alive now (timers, sockets, watchers, child processes): must be nothing
    'console.log(JSON.stringify({ resources: process.getActiveResourcesInfo() }));',
  ].join('\n');
  try {
    const t0 = Date.now();
    const code = await new Promise<number | null>((resolvePromise, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO, stdio: ['ignore', out, out] });
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.once('error', reject);
      child.once('exit', (c) => {
        clearTimeout(killer);
        resolvePromise(c);
      });
    });
    return { code, output: await readFile(outPath, 'utf8'), ms: Date.now() - t0 };
  } finally {
    closeSync(out);
    await rm(dir, { recursive: true, force: true });
  }
}

describe('library entry', () => {
  it('exports the core, config, errors, EVE, machines and drivers by value', () => {
    for (const name of [
      'createEdgenet',
      'lastGoodConfig',
      'validateConfig',
      'parseConfigText',
      'loadConfigFile',
      'convertEveConfig',
      'validateEveConfig',
      'machineToMermaid',
      'createMetrics',
      'createKernelDrivers',
    ] as const) {
      expect(typeof edgenet[name], name).toBe('function');
    }
    expect(new edgenet.ConfigError([{ path: 'networks[0].name', message: 'bad' }])).toBeInstanceOf(Error);
    expect(new edgenet.KernelError('ensureBridge', 'enbr-lan', 'EEXIST').message).toBe('ensureBridge enbr-lan failed: EEXIST');
    expect(edgenet.systemMachine.id).toBe('edgenet');
    expect(edgenet.networkInstanceMachine.id).toBe('networkInstance');
    expect(edgenet.endpointMachine.id).toBe('endpoint');
    expect(edgenet.ACTOR_STATES).toEqual(['pending', 'creating', 'ready', 'degraded', 'deleting', 'deleted']);
    expect(edgenet.DEFAULT_STATE_DIR).toBe('/var/lib/edgenet');
    expect(edgenet.DEFAULT_RUNTIME_DIR).toBe('/run/edgenet');
  });

  it("importing 'edgenet' and 'edgenet/testing' has no side effects: nothing keeps the process alive, it exits at once", async () => {
    const r = await importInChild(['edgenet', 'edgenet/testing']);
    expect(r.code, r.output).toBe(0);
    expect(JSON.parse(r.output.trim()) as unknown).toEqual({ resources: [] });
    // the import itself takes well under a second; a timer or socket would hold the process much longer
    expect(r.ms).toBeLessThan(10_000);
  });

  it('createEdgenet() alone touches nothing: no state dir, no kernel, and stop() is immediate', async () => {
    const stateDir = join(tmpdir(), `edgenet-entry-${process.pid}-never`);
    const net = edgenet.createEdgenet({ stateDir });
    expect(net.status()).toMatchObject({ networks: [], endpoints: [], ports: [] });
    await net.stop();
    await expect(readdir(stateDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe("'edgenet/testing': the library on fake drivers", () => {
  let stateDir: string | undefined;
  afterEach(async () => {
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
    stateDir = undefined;
  });

  it('applies a config, reports transitions and status, and rejects bad input with ConfigError', async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'edgenet-entry-'));
    const drivers = createFakeDrivers();
    drivers.links.addExternal('eth1');
    drivers.links.addNetns('/run/netns/web');
    const net = edgenet.createEdgenet({ stateDir, drivers, auditIntervalMs: 0 });
    const seen: string[] = [];
    net.transitions$.subscribe((t) => seen.push(`${t.kind} ${t.name} ${t.to}`));
    const config: edgenet.ConfigInput = {
      ports: [{ name: 'uplink', ifname: 'eth1' }],
      networks: [{ name: 'lan', type: 'local', port: 'uplink', subnet: '10.50.0.0/24' }],
      apps: [{ name: 'web', interfaces: [{ network: 'lan', netns: '/run/netns/web' }] }],
    };
    const result = await net.apply(config);
    expect(result.created).toEqual(expect.arrayContaining(['network lan', 'endpoint web/lan', 'port uplink']));
    expect(seen).toEqual(expect.arrayContaining(['network lan ready', 'endpoint web/lan ready']));
    const status = net.status();
    expect(status.networks).toMatchObject([{ name: 'lan', state: 'ready', gateway: '10.50.0.1' }]);
    expect(status.endpoints[0]?.ip).toMatch(/^10\.50\.0\./);
    expect(drivers.firewall.rulesFor('lan')?.masqueradeOut).toBe('eth1');

    const bad = net.apply({ networks: [{ name: 'lan', type: 'switch', subnet: '10.0.0.0/24' }] });
    await expect(bad).rejects.toBeInstanceOf(edgenet.ConfigError);
    await expect(bad).rejects.toMatchObject({ issues: [{ path: 'networks[0]', message: expect.stringContaining('subnet') }] });
    expect(net.status().networks).toMatchObject([{ name: 'lan', type: 'local', state: 'ready' }]);
    await net.stop();
  });
});

describe('what each entry loads', () => {
  /** Every module a fresh node loads while importing `specifier` (ESM resolutions and CommonJS requires). */
  async function loadsOf(specifier: string): Promise<string[]> {
    const dir = await mkdtemp(join(tmpdir(), 'edgenet-loads-'));
    const file = join(dir, 'loads');
    try {
      const child = spawn(process.execPath, ['--import', join(REPO, 'test/fixtures/loads/record-loads.mjs'), '--input-type=module', '-e', `await import(${JSON.stringify(specifier)});`], {
        cwd: REPO,
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, EDGENET_RECORD_LOADS: file },
      });
      let err = '';
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      const code = await new Promise<number | null>((r) => child.once('exit', r));
      expect(code, err).toBe(0);
      return (await readFile(file, 'utf8')).split('\n').filter(Boolean);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const pkgOf = (loads: string[], name: string): string[] => loads.filter((l) => l.includes(`/node_modules/${name}/`));

  it("'edgenet' (the compiled core) loads none of fastify, commander, @statelyai/inspect, ws or tsx", async () => {
    const loads = await loadsOf('edgenet');
    expect(loads.some((l) => l.includes('/dist/src/index.js'))).toBe(true);
    for (const name of ['fastify', 'commander', '@statelyai/inspect', 'ws', 'tsx']) expect(pkgOf(loads, name), name).toEqual([]);
    expect(loads.filter((l) => l.endsWith('.ts'))).toEqual([]);
  });

  it('the compiled CLI starts without the config schema, the daemon or the inspector (edgenet --help, status stay fast)', async () => {
    const loads = await loadsOf(`${REPO}/dist/src/cli/main.js`);
    for (const name of ['zod', 'yaml', 'fastify', 'chokidar', 'xstate', '@statelyai/inspect']) expect(pkgOf(loads, name), name).toEqual([]);
    expect(pkgOf(loads, 'commander').length).toBeGreaterThan(0);
  });

  it('bin/edgenet.js starts from one bundled file: no package module, and of ours only those that declare classes', async () => {
    const loads = await loadsOf(`${REPO}/dist/src/cli/main.bundle.js`);
    expect(loads.filter((l) => l.includes('/node_modules/'))).toEqual([]);
    const ours = loads.filter((l) => l.includes(`${REPO}/dist/`)).map((l) => l.slice(l.indexOf('/dist/') + '/dist/'.length));
    // the API client and the errors declare classes; the client imports its event filter itself
    expect([...new Set(ours)].sort()).toEqual(['src/api/client.js', 'src/api/event-filter.js', 'src/cli/main.bundle.js', 'src/errors.js']);
  });

  it("'edgenet/daemon' loads fastify but not the inspector; 'edgenet/inspector' loads it", async () => {
    const daemon = await loadsOf('edgenet/daemon');
    expect(pkgOf(daemon, 'fastify').length).toBeGreaterThan(0);
    expect(pkgOf(daemon, '@statelyai/inspect')).toEqual([]);
    expect(pkgOf(daemon, 'commander')).toEqual([]);
    expect(pkgOf(await loadsOf('edgenet/inspector'), '@statelyai/inspect').length).toBeGreaterThan(0);
  });
});
