// `edgenet run`: the daemon loop with a fake core (apply the file, serve the API, re-apply on change, stop on signal).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { runDaemon } from '../../src/daemon/daemon.ts';
import type { DaemonDeps } from '../../src/daemon/daemon.ts';
import { createApiClient } from '../../src/api/client.ts';
import { loadConfigFile } from '../../src/config/config-load.ts';
import { FakeEdgenet } from './api-fake-edgenet.ts';

const silent = pino({ level: 'silent' });

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('edgenet run (daemon loop)', () => {
  let dir: string;
  let net: FakeEdgenet;
  let deps: DaemonDeps;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-run-'));
    net = new FakeEdgenet();
    deps = { createEdgenet: () => net, loadConfigFile };
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('applies the file, serves the API (0600), re-applies on change, and stops on request keeping the data plane', async () => {
    const file = join(dir, 'config.yaml');
    await writeFile(file, 'networks:\n  - { name: plant, type: switch }\n');
    const stop = new AbortController();
    let ready = false;
    const stateDir = join(dir, 'state');
    const daemon = runDaemon({ configPath: file, stateDir, logger: silent, signal: stop.signal, onReady: () => (ready = true) }, deps);
    await until('the API', () => ready);
    const sock = join(stateDir, 'api.sock');
    expect(((await stat(sock)).mode & 0o777)).toBe(0o600);
    expect(net.running?.networks.map((n) => n.name)).toEqual(['plant']);
    expect((await createApiClient(sock).status()).networks).toEqual([]);

    await writeFile(file, 'networks:\n  - { name: lan, type: local, subnet: 10.1.0.0/24 }\n');
    await until('the re-apply', () => net.running?.networks[0]?.name === 'lan');

    // A broken edit is logged and ignored: the running config stays.
    await writeFile(file, 'networks: [\n');
    await new Promise((r) => setTimeout(r, 600));
    expect(net.running?.networks[0]?.name).toBe('lan');

    stop.abort();
    expect(await daemon).toBe(0);
    expect(net.stopped).toBe(true);
    expect(net.running).toBeDefined(); // stop, not teardown
    expect(existsSync(sock)).toBe(false);
  });

  it('exits 1 without serving when the file is invalid', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'networks:\n  - { name: plant, type: switch, port: ghost }\n');
    let ready = false;
    const listeners = process.listenerCount('SIGTERM');
    const code = await runDaemon({ configPath: file, stateDir: join(dir, 'state'), logger: silent, onReady: () => (ready = true) }, deps);
    expect(code).toBe(1);
    expect(ready).toBe(false);
    expect(net.stopped).toBe(true);
    expect(process.listenerCount('SIGTERM')).toBe(listeners);
  });

  it('stops on SIGTERM', async () => {
    const file = join(dir, 'config.yaml');
    await writeFile(file, '{}\n');
    let ready = false;
    const daemon = runDaemon({ configPath: file, stateDir: join(dir, 'state'), logger: silent, onReady: () => (ready = true) }, deps);
    await until('the API', () => ready);
    process.kill(process.pid, 'SIGTERM');
    expect(await daemon).toBe(0);
    expect(net.stopped).toBe(true);
  });
});
