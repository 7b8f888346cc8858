// The CLI conventions of issue 19 (acceptance 4): -o json|yaml|wide and --no-headers, validate --json, -f - on every
// verb that reads a config, events filters / ISO times / event ids with resume, quiet EPIPE, completion scripts,
// the apply summary line and its progress on a terminal, strict JSON for .json files.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { EXIT, main, type CliIo } from '../../src/cli/main.ts';
import { startApiServer, type ApiServer } from '../../src/api/server.ts';
import { createApiClient } from '../../src/api/client.ts';
import type { Status, Transition } from '../../src/edgenet-types.ts';
import { emptyStatus, FakeEdgenet } from './api-fake-edgenet.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const fixture = (name: string): string => join(repo, 'test/fixtures/config', name);
const BIN = join(repo, 'bin/edgenet.js');

interface Captured {
  code: number;
  out: string;
  err: string;
}

async function cli(args: string[], extra: Partial<CliIo> = {}): Promise<Captured> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: (t) => void (out += t), stderr: (t) => void (err += t), ...extra };
  const code = await main(['node', 'edgenet', ...args], io);
  return { code, out, err };
}

/** `-f -` with this text on stdin, counting how often stdin is read. */
function stdinOf(text: string): { readStdin: () => Promise<string>; reads: () => number } {
  let n = 0;
  return {
    readStdin: async () => {
      n++;
      return text;
    },
    reads: () => n,
  };
}

const transition = (t: Partial<Transition> & Pick<Transition, 'kind' | 'name' | 'to'>): Transition => ({ from: null, at: '2026-12-01T12:00:00.000Z', ...t });

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgenet-cliconv-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sample: Status = {
  ...emptyStatus(),
  networks: [{ name: 'lan', type: 'local', state: 'ready', bridge: 'enbr-lan', subnet: '10.50.0.0/24', gateway: '10.50.0.1', port: 'uplink', dnsmasqPid: 321, leases: [] }],
  endpoints: [{ app: 'web', network: 'lan', kind: 'veth', state: 'ready', ifname: 'env1', appIfname: 'eth0', netns: '/run/netns/web', ip: '10.50.0.10' }],
  ports: [{ name: 'uplink', ifname: 'eth1', state: 'ready', carrier: true, network: 'lan' }],
};

describe('validate: --json / -o json|yaml and -f -', () => {
  it('--json says valid with the source and format; exit 0', async () => {
    const r = await cli(['validate', '-f', fixture('design-example.yaml'), '--json']);
    expect(r.code).toBe(EXIT.ok);
    expect(JSON.parse(r.out)).toEqual({ valid: true, source: fixture('design-example.yaml'), format: 'edgenet', issues: [] });
    const yaml = await cli(['validate', '-f', fixture('design-example.yaml'), '-o', 'yaml']);
    expect(parseYaml(yaml.out)).toEqual({ valid: true, source: fixture('design-example.yaml'), format: 'edgenet', issues: [] });
  });

  it('--json of a bad file lists the issues with their paths on stdout; exit 1, nothing on stderr', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'networks:\n  - { name: plant, type: switch, port: nope }\n');
    const r = await cli(['validate', '-f', file, '--json']);
    expect(r.code).toBe(EXIT.rejected);
    expect(r.err).toBe('');
    const verdict = JSON.parse(r.out) as { valid: boolean; source: string; issues: { path: string; message: string }[] };
    expect(verdict.valid).toBe(false);
    expect(verdict.source).toBe(file);
    expect(verdict.issues.map((i) => i.path)).toContain('networks[0].port');
  });

  it('-f - reads the config from stdin once (YAML and JSON), naming it stdin in errors', async () => {
    const yaml = stdinOf('networks:\n  - { name: plant, type: switch }\n');
    expect(await cli(['validate', '-f', '-'], { readStdin: yaml.readStdin })).toEqual({ code: EXIT.ok, out: 'ok\n', err: '' });
    expect(yaml.reads()).toBe(1);
    const json = stdinOf('{"networks":[{"name":"plant","type":"switch"}]}');
    expect((await cli(['validate', '-f', '-', '--json'], { readStdin: json.readStdin })).out).toContain('"valid": true');
    const bad = stdinOf('networks:\n  - { name: plant, type: bogus }\n');
    const r = await cli(['validate', '-f', '-'], { readStdin: bad.readStdin });
    expect(r.code).toBe(EXIT.rejected);
    expect(r.err).toContain('(stdin)');
  });

  it('-f - works through a real pipe into the compiled CLI', () => {
    const r = spawnSync(process.execPath, [BIN, 'validate', '-f', '-'], { input: 'networks:\n  - { name: plant, type: switch }\n', encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ok\n');
    expect(r.status).toBe(0);
  });
});

describe('strict JSON for .json files', () => {
  it('a trailing comma in a .json file is an error naming line and column, not a YAML fallback', async () => {
    const file = join(dir, 'trailing.json');
    await writeFile(file, '{\n  "networks": [\n    { "name": "plant", "type": "switch" },\n  ]\n}\n');
    const r = await cli(['validate', '-f', file]);
    expect(r.code).toBe(EXIT.rejected);
    expect(r.err).toContain('not valid JSON: a trailing comma (JSON allows none) at line 3 col 42');
    // the same text in a .yaml file is YAML (flow sequences allow the comma)
    const asYaml = join(dir, 'trailing.yaml');
    await writeFile(asYaml, '{\n  "networks": [\n    { "name": "plant", "type": "switch" },\n  ]\n}\n');
    expect((await cli(['validate', '-f', asYaml])).code).toBe(EXIT.ok);
  });

  it('a .json file with YAML in it is refused', async () => {
    const file = join(dir, 'yaml-in.json');
    await writeFile(file, 'networks:\n  - { name: plant, type: switch }\n');
    const r = await cli(['validate', '-f', file]);
    expect(r.code).toBe(EXIT.rejected);
    expect(r.err).toMatch(/not valid JSON/);
  });
});

describe('verbs against a daemon', () => {
  let stateDir: string;
  let net: FakeEdgenet;
  let server: ApiServer;
  let sock: string;

  beforeEach(async () => {
    stateDir = await mkdtemp(join(dir, 'state-'));
    net = new FakeEdgenet();
    sock = join(stateDir, 'api.sock');
    server = await startApiServer({ net, socketPath: sock });
  });
  afterEach(async () => {
    await server.close();
  });

  it('status -o json|yaml gives the Status document, -o wide more columns, --no-headers rows only', async () => {
    net.statusSubject.next(sample);
    expect(JSON.parse((await cli(['status', '-o', 'json', '--socket', sock])).out)).toEqual(sample);
    expect(parseYaml((await cli(['status', '-o', 'yaml', '--socket', sock])).out)).toEqual(sample);
    const wide = await cli(['status', '-o', 'wide', '--socket', sock]);
    expect(wide.out).toMatch(/DNSMASQ/);
    expect(wide.out).toMatch(/lan\s+local\s+ready\s+enbr-lan\s+10\.50\.0\.0\/24\s+10\.50\.0\.1\s+uplink\s+-\s+-\s+321\s+0/);
    expect(wide.out).toMatch(/web\s+lan\s+veth\s+ready\s+env1 \(eth0 in app\)\s+-\s+10\.50\.0\.10\s+\/run\/netns\/web/);
    const bare = await cli(['status', '--no-headers', '--socket', sock]);
    expect(bare.out.split('\n').filter((l) => l !== '').map((l) => l.split(/\s+/)[0])).toEqual(['network', 'endpoint', 'port']);
    expect(bare.out).not.toMatch(/NAME|NETWORKS/);
    expect((await cli(['status', '-o', 'xml', '--socket', sock])).code).toBe(EXIT.rejected);
  });

  it('apply prints a summary line; -o json|yaml the whole result; -o wide each object; -f - from stdin', async () => {
    const r = await cli(['apply', '-f', fixture('design-example.yaml'), '--socket', sock]);
    expect(r).toEqual({ code: EXIT.ok, out: 'created 2: 2 networks\nunchanged 0\n', err: '' });
    const input = stdinOf('networks:\n  - { name: plant, type: switch }\n');
    const viaStdin = await cli(['apply', '-f', '-', '-o', 'json', '--socket', sock], { readStdin: input.readStdin });
    expect(JSON.parse(viaStdin.out)).toEqual({ created: [], updated: [], deleted: ['network lan'], unchanged: 1 });
    expect(input.reads()).toBe(1);
    const yaml = await cli(['apply', '-f', fixture('design-example.yaml'), '-o', 'yaml', '--socket', sock]);
    expect(parseYaml(yaml.out)).toEqual({ created: ['network lan'], updated: [], deleted: [], unchanged: 1 });
    await cli(['apply', '-f', '-', '--socket', sock], { readStdin: stdinOf('networks: []\n').readStdin });
    const wide = await cli(['apply', '-f', fixture('design-example.yaml'), '-o', 'wide', '--socket', sock]);
    expect(wide.out).toBe('created 2: 2 networks\nunchanged 0\n  created network lan\n  created network plant\n');
    const bad = await cli(['apply', '-f', '-', '--socket', sock], { readStdin: stdinOf('networks: [{ name: x, type: bogus }]\n').readStdin });
    expect(bad.code).toBe(EXIT.rejected);
    expect(bad.err).toContain('(stdin)');
  });

  it('apply on a terminal shows progress once more than a few dozen actors settle, and erases it', async () => {
    net.delayMs = 400;
    let err = '';
    const running = cli(['apply', '-f', fixture('design-example.yaml'), '--socket', sock], { progress: true, stderr: (t) => void (err += t) });
    // wait for the progress stream to be open, then settle 40 endpoints
    await until('the event stream', () => server.eventStreams === 1);
    for (let i = 0; i < 40; i++) net.transitions.next(transition({ kind: 'endpoint', name: `a${i}/lan`, from: 'creating', to: i === 0 ? 'degraded' : 'ready' }));
    const r = await running;
    expect(r.out).toBe('created 2: 2 networks\nunchanged 0\n');
    expect(err).toMatch(/\r\x1b\[Kapplying: \d+ settled \(\d+ ready, 1 degraded, 0 removed\)/);
    expect(err.endsWith('\r\x1b[K')).toBe(true);
    // a small push draws nothing
    err = '';
    net.delayMs = 0;
    await cli(['apply', '-f', fixture('design-example.yaml'), '--socket', sock], { progress: true, stderr: (t) => void (err += t) });
    expect(err).toBe('');
  });

  it('events --kind/--name/--to filter, print ISO times; -o json lines carry the event id', async () => {
    const stop = new AbortController();
    const running = cli(['events', '--kind', 'endpoint,port', '--name', 'web/*', '--to', 'degraded', '-o', 'json', '--socket', sock], { signal: stop.signal });
    await until('the subscriber', () => server.eventStreams === 1);
    net.transitions.next(transition({ kind: 'network', name: 'web/x', to: 'degraded' }));
    net.transitions.next(transition({ kind: 'endpoint', name: 'db/lan', to: 'degraded' }));
    net.transitions.next(transition({ kind: 'endpoint', name: 'web/lan', to: 'ready' }));
    net.transitions.next(transition({ kind: 'endpoint', name: 'web/lan', from: 'ready', to: 'degraded', reason: 'tap gone' }));
    await new Promise((r) => setTimeout(r, 100));
    stop.abort();
    const r = await running;
    expect(r.code).toBe(EXIT.ok);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as Transition & { id: string });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ kind: 'endpoint', name: 'web/lan', from: 'ready', to: 'degraded', reason: 'tap gone', at: '2026-12-01T12:00:00.000Z' });
    expect(lines[0]?.id).toMatch(/^[0-9a-z]+-4$/);

    const bad = await cli(['events', '--kind', 'widget', '--socket', sock]);
    expect(bad.code).toBe(EXIT.rejected);
    expect(bad.err).toMatch(/unknown kind "widget"/);
  });

  it('events resume after a Last-Event-ID: what came after it is replayed first, then live', async () => {
    const seen: { t: Transition; id?: string }[] = [];
    const first = new AbortController();
    const api = createApiClient(sock);
    const stream = api.events((t, id) => seen.push({ t, ...(id !== undefined && { id }) }), first.signal);
    await until('the subscriber', () => server.eventStreams === 1);
    net.transitions.next(transition({ kind: 'port', name: 'p1', to: 'ready' }));
    await until('one event', () => seen.length === 1);
    first.abort();
    await stream;
    await until('the first stream to close', () => server.eventStreams === 0);
    // while disconnected
    net.transitions.next(transition({ kind: 'port', name: 'p2', to: 'ready' }));
    net.transitions.next(transition({ kind: 'port', name: 'p3', to: 'degraded' }));
    const lastId = seen[0]?.id ?? '';
    const stop = new AbortController();
    const running = cli(['events', '--last-event-id', lastId, '--socket', sock], { signal: stop.signal });
    await until('the second subscriber', () => server.eventStreams === 1);
    net.transitions.next(transition({ kind: 'port', name: 'p4', to: 'ready' }));
    await new Promise((r) => setTimeout(r, 100));
    stop.abort();
    const r = await running;
    expect(r.out.trim().split('\n').map((l) => l.split(/\s+/)[2])).toEqual(['p2', 'p3', 'p4']);
    expect(r.out).toMatch(/^2026-12-01T12:00:00\.000Z\s+port\s+p2\s+\(new\) → ready$/m);

    // an id of another daemon run: everything kept is replayed (the stream says so in a comment)
    const other: string[] = [];
    const s2 = new AbortController();
    const again = api.events((t) => other.push(t.name), s2.signal, { lastEventId: 'zzz-1' });
    await until('the replay', () => other.length === 4);
    s2.abort();
    await again;
    expect(other).toEqual(['p1', 'p2', 'p3', 'p4']);
  });
});

describe('EPIPE', () => {
  let stateDir: string;
  let server: ApiServer;
  beforeEach(async () => {
    stateDir = await mkdtemp(join(dir, 'epipe-'));
    const net = new FakeEdgenet();
    net.statusSubject.next({
      ...emptyStatus(),
      endpoints: Array.from({ length: 5000 }, (_, i) => ({ app: `app${i}`, network: 'lan', kind: 'veth' as const, state: 'ready' as const, ifname: `env${i}`, ip: `10.0.${Math.floor(i / 250)}.${i % 250}` })),
    });
    server = await startApiServer({ net, socketPath: join(stateDir, 'api.sock') });
  });
  afterEach(async () => {
    await server.close();
  });

  it('`edgenet status | head -1` ends quietly: exit 0, nothing on stderr', async () => {
    const child = spawn(process.execPath, [BIN, 'status', '--state-dir', stateDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    // read the first chunk, then close the pipe as head does
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(err).toBe('');
    expect(code).toBe(0);
  });
});

describe('completion', () => {
  it('bash: completes verbs, a verb\'s options and an option\'s values (run in bash)', async () => {
    const script = (await cli(['completion', 'bash'])).out;
    expect(script).toContain('complete -F _edgenet edgenet');
    const complete = (words: string[]): string[] => {
      const r = spawnSync('bash', ['-c', `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _edgenet; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      return r.stdout.split('\n').filter((l) => l !== '');
    };
    expect(complete(['edgenet', 'st'])).toEqual(['status']);
    expect(complete(['edgenet', ''])).toEqual(expect.arrayContaining(['run', 'apply', 'validate', 'status', 'events', 'down', 'completion']));
    expect(complete(['edgenet', 'status', '--no-h'])).toEqual(['--no-headers']);
    expect(complete(['edgenet', 'status', '-o', ''])).toEqual(['json', 'yaml', 'wide']);
    expect(complete(['edgenet', 'events', '--to', 'de'])).toEqual(['degraded', 'deleting', 'deleted']);
    expect(complete(['edgenet', 'completion', ''])).toEqual(expect.arrayContaining(['bash', 'zsh', 'fish']));
  });

  it('zsh and fish: every verb and its options (zsh -n / fish -n check the syntax where installed)', async () => {
    const zsh = (await cli(['completion', 'zsh'])).out;
    const fish = (await cli(['completion', 'fish'])).out;
    expect(zsh.startsWith('#compdef edgenet\n')).toBe(true);
    for (const verb of ['run', 'apply', 'validate', 'status', 'events', 'down', 'completion']) {
      expect(zsh).toContain(`'${verb}:`);
      expect(fish).toContain(`-a ${verb} -d`);
    }
    expect(zsh).toContain("'(-o --output)'{-o,--output}'[json or yaml]:output:(json yaml wide)'");
    expect(fish).toContain("complete -c edgenet -n '__fish_seen_subcommand_from status' -s o -l output -x -a 'json yaml wide'");
    expect(fish).toContain("complete -c edgenet -n '__fish_seen_subcommand_from apply' -s f -l file -r -F");
    for (const [shell, text] of [['zsh', zsh], ['fish', fish]] as const) {
      const has = spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;
      if (!has) continue;
      const r = spawnSync(shell, ['-n'], { input: text, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
    const bad = await cli(['completion', 'tcsh']);
    expect(bad.code).toBe(EXIT.rejected);
  });
});

describe('compiled CLI', () => {
  it('completion bash from bin/edgenet.js matches main()', async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [BIN, 'completion', 'bash'], (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    expect(out).toBe((await cli(['completion', 'bash'])).out);
  });
});
