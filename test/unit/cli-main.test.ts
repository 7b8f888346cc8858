import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT, main } from '../../src/cli/main.ts';
import type { CliIo } from '../../src/cli/main.ts';
import { startApiServer } from '../../src/api/server.ts';
import type { ApiServer } from '../../src/api/server.ts';
import type { Transition } from '../../src/edgenet-types.ts';
import { FakeEdgenet } from './api-fake-edgenet.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const fixture = (name: string): string => join(repo, 'test/fixtures/config', name);

interface Captured {
  code: number;
  out: string;
  err: string;
}

async function cli(args: string[], signal?: AbortSignal): Promise<Captured> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: (t) => void (out += t), stderr: (t) => void (err += t), ...(signal ? { signal } : {}) };
  const code = await main(['node', 'edgenet', ...args], io);
  return { code, out, err };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgenet-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('edgenet validate (offline)', () => {
  it('prints ok for a good file (YAML and JSON)', async () => {
    expect(await cli(['validate', '-f', fixture('design-example.yaml')])).toEqual({ code: EXIT.ok, out: 'ok\n', err: '' });
    expect((await cli(['validate', '-f', fixture('design-example.json')])).code).toBe(EXIT.ok);
  });

  it('prints the issues with their path and exits 1 for a bad file', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'networks:\n  - { name: plant, type: switch, port: nope }\n');
    const r = await cli(['validate', '-f', file]);
    expect(r.code).toBe(EXIT.rejected);
    expect(r.out).toBe('');
    expect(r.err).toContain(file);
    expect(r.err).toMatch(/networks\[0\]\.port/);
  });

  it('exits 1 for a file that does not exist', async () => {
    const r = await cli(['validate', '-f', join(dir, 'missing.yaml')]);
    expect(r.code).toBe(EXIT.rejected);
    expect(r.err).toMatch(/cannot read/);
  });
});

describe('edgenet verbs against a daemon', () => {
  let stateDir: string;
  let net: FakeEdgenet;
  let server: ApiServer;

  beforeEach(async () => {
    stateDir = await mkdtemp(join(dir, 'state-'));
    net = new FakeEdgenet();
    server = await startApiServer({ net, socketPath: join(stateDir, 'api.sock') });
  });
  afterEach(async () => {
    await server.close();
  });

  it('apply prints what changed', async () => {
    const r = await cli(['apply', '-f', fixture('design-example.yaml'), '--state-dir', stateDir]);
    expect(r).toMatchObject({ code: EXIT.ok, err: '' });
    expect(r.out).toBe('created 2: 2 networks\nunchanged 0\n');
    const again = await cli(['apply', '-f', fixture('design-example.json'), '--state-dir', stateDir]);
    expect(again.out).toBe('nothing changed (2 unchanged)\n');
    const json = await cli(['apply', '-f', fixture('design-example.json'), '--json', '--socket', join(stateDir, 'api.sock')]);
    expect(JSON.parse(json.out)).toEqual({ created: [], updated: [], deleted: [], unchanged: 2 });
  });

  it('apply of bad input exits 1 with the error and leaves the running config alone', async () => {
    await cli(['apply', '-f', fixture('design-example.yaml'), '--state-dir', stateDir]);
    const before = structuredClone(net.running);
    const file = join(dir, 'bad-type.yaml');
    await writeFile(file, 'networks:\n  - { name: x, type: bogus }\n');
    const r = await cli(['apply', '-f', file, '--state-dir', stateDir]);
    expect(r.code).toBe(EXIT.rejected);
    expect(r.err).toContain(`invalid config (${file})`);
    expect(r.err).toMatch(/networks/);
    expect(net.running).toEqual(before);
    const broken = join(dir, 'broken.yaml');
    await writeFile(broken, 'networks: [\n');
    const b = await cli(['apply', '-f', broken, '--state-dir', stateDir]);
    expect(b.code).toBe(EXIT.rejected);
    expect(b.err).toMatch(/not valid YAML/);
  });

  it('status prints a table, and --json exactly the Status JSON', async () => {
    const status = net.status();
    status.networks.push({ name: 'plant', type: 'switch', state: 'degraded', bridge: 'enbr-plant', port: 'field', reason: 'port field has no carrier' });
    status.ports.push({ name: 'field', ifname: 'eth1', state: 'degraded', carrier: false, network: 'plant' });
    const table = await cli(['status', '--state-dir', stateDir]);
    expect(table.code).toBe(EXIT.ok);
    expect(table.out).toMatch(/NETWORKS\n\s+NAME\s+TYPE\s+STATE/);
    expect(table.out).toMatch(/plant\s+switch\s+degraded\s+enbr-plant.*port field has no carrier/);
    expect(table.out).toMatch(/field\s+eth1\s+degraded\s+down\s+plant/);
    const json = await cli(['status', '--json', '--state-dir', stateDir]);
    expect(JSON.parse(json.out)).toEqual(status);
  });

  it('events prints one line per transition until interrupted', async () => {
    const stop = new AbortController();
    const running = cli(['events', '--state-dir', stateDir], stop.signal);
    const t: Transition = { kind: 'endpoint', name: 'app1/plant', from: 'pending', to: 'ready', at: '2025-03-04T05:06:07.089Z', reason: 'veth up' };
    await new Promise((r) => setTimeout(r, 100));
    net.transitions.next(t);
    await new Promise((r) => setTimeout(r, 50));
    stop.abort();
    const r = await running;
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(/^2025-03-04T05:06:07\.089Z\s+endpoint\s+app1\/plant\s+pending → ready\s+\(veth up\)\n$/);
  });

  it('events exits 2 when the daemon goes away', async () => {
    const running = cli(['events', '--state-dir', stateDir]);
    await new Promise((r) => setTimeout(r, 100));
    await server.close();
    const r = await running;
    expect(r.code).toBe(EXIT.unreachable);
    expect(r.err).toMatch(/closed the event stream/);
  });
});

describe('edgenet without a daemon', () => {
  it('apply, status and events exit 2 naming the socket', async () => {
    const stateDir = join(dir, 'no-daemon');
    for (const args of [['apply', '-f', fixture('design-example.yaml')], ['status'], ['events']]) {
      const r = await cli([...args, '--state-dir', stateDir]);
      expect(r.code).toBe(EXIT.unreachable);
      expect(r.err).toContain(`cannot reach edgenet daemon at ${join(stateDir, 'api.sock')}`);
      expect(r.err).toContain('is `edgenet run` running?');
    }
  });

  it('apply of an unreadable file exits 1', async () => {
    const r = await cli(['apply', '-f', join(dir, 'nope.yaml'), '--state-dir', dir]);
    expect(r.code).toBe(EXIT.rejected);
    expect(r.err).toMatch(/cannot read/);
  });
});

describe('edgenet usage', () => {
  it('--help exits 0 and lists the verbs', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(EXIT.ok);
    for (const verb of ['run', 'apply', 'validate', 'status', 'events', 'demo']) expect(r.out).toContain(verb);
  });

  it('an unknown verb or a missing option exits 1', async () => {
    expect((await cli(['frobnicate'])).code).toBe(EXIT.rejected);
    const r = await cli(['apply']);
    expect(r.code).toBe(EXIT.rejected);
    expect(r.err).toMatch(/--file/);
  });

  it('bin/edgenet.js --help works as a process', async () => {
    const r = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(process.execPath, [join(repo, 'bin/edgenet.js'), '--help'], { timeout: 30_000 }, (err, stdout) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout });
      });
    });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Usage: edgenet/);
    expect(r.out).toContain('status');
  });
});
