// The library embedded in an agent process (issue 7, acceptance 1): the agent (fixtures/embed-agent.ts) imports
// 'edgenet', runs inside a device namespace with the real drivers, and prints transitions$ and status$; the test
// creates a local NI with a port and an app, flaps the port, deletes the NI, and reads the sequences.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { ActorState, ApplyResult, Transition } from '../../src/index.ts';
import { daemonTest } from '../helpers/daemon.ts';
import { describeKernel, eventually, type Netns } from '../helpers/netns.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const AGENT = join(REPO, 'test/kernel/fixtures/embed-agent.ts');

interface StateLine {
  networks: { name: string; state: ActorState; reason?: string }[];
  endpoints: { name: string; state: ActorState }[];
  ports: { name: string; state: ActorState; carrier: boolean }[];
}

interface AgentLine {
  ready?: true;
  transition?: Transition;
  status?: StateLine;
  applied?: ApplyResult;
  error?: { kind?: string; message: string };
  stopped?: true;
}

/** The agent process inside `ns`, spoken to in JSON lines. */
class Agent {
  readonly lines: AgentLine[] = [];
  stderr = '';
  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (l) => this.lines.push(JSON.parse(l) as AgentLine));
    child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    // a write to an agent that has exited fails with EPIPE; `next` reports the exit
    child.stdin.on('error', () => undefined);
  }

  static async start(ns: Netns, stateDir: string): Promise<Agent> {
    // nsenter enters only the network namespace: the agent shares the host's mount namespace, like a real agent
    const child = spawn('nsenter', [`--net=${ns.path}`, process.execPath, '--import', 'tsx', AGENT, stateDir], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
    const agent = new Agent(child);
    await agent.next('the agent to start', (l) => l.ready === true, 20_000);
    return agent;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  send(cmd: object): void {
    this.child.stdin.write(`${JSON.stringify(cmd)}\n`);
  }

  /** Waits for a line (from `from` on) that satisfies `match`; returns it with its index. */
  async next(what: string, match: (l: AgentLine) => boolean, timeoutMs = 30_000, from = 0): Promise<{ line: AgentLine; at: number }> {
    return eventually(
      `${what}\n${this.stderr.slice(-2000)}`,
      () => {
        if (this.exited && !this.lines.slice(from).some(match)) throw new Error(`agent exited (${this.child.exitCode ?? this.child.signalCode})`);
        const at = this.lines.findIndex((l, i) => i >= from && match(l));
        return at >= 0 ? { line: this.lines[at] as AgentLine, at } : undefined;
      },
      timeoutMs,
      20,
    );
  }

  async apply(config: object): Promise<ApplyResult> {
    const from = this.lines.length;
    this.send({ apply: config });
    const { line } = await this.next('apply to answer', (l) => l.applied !== undefined || l.error !== undefined, 60_000, from);
    if (line.error) throw new Error(`apply failed: ${line.error.message}`);
    return line.applied as ApplyResult;
  }

  /** Kills the agent by its pid (only if it is still running). */
  async kill(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGKILL');
    await done;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.send({ stop: true });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(timer);
  }

  transitions(from = 0): Transition[] {
    return this.lines.slice(from).flatMap((l) => (l.transition ? [l.transition] : []));
  }

  /** `from->to` of one object's transitions. */
  path(kind: Transition['kind'], name: string, from = 0): string[] {
    return this.transitions(from)
      .filter((t) => t.kind === kind && t.name === name)
      .map((t) => `${t.from ?? 'null'}->${t.to}`);
  }

  /** The distinct consecutive states status$ showed for one object (`absent` when it was not in the status). */
  statusStates(kind: 'networks' | 'endpoints' | 'ports', name: string, from = 0): string[] {
    const out: string[] = [];
    for (const l of this.lines.slice(from)) {
      if (!l.status) continue;
      const state = l.status[kind].find((x) => x.name === name)?.state ?? 'absent';
      if (out[out.length - 1] !== state) out.push(state);
    }
    return out;
  }
}

/** status$ may skip a state (two changes in one snapshot burst) but never shows one the transitions did not reach, nor out of order. */
function isSubsequence(shown: readonly string[], reached: readonly string[]): boolean {
  let i = 0;
  for (const s of shown) {
    while (i < reached.length && reached[i] !== s) i++;
    if (i === reached.length) return false;
    i++;
  }
  return true;
}

describeKernel('library embedded in an agent process (kernel)', () => {
  const t = daemonTest();
  let dev: Netns, outside: Netns, web: Netns;
  let dir: string;
  let agent: Agent | undefined;

  beforeEach(async () => {
    ({ dev, out: outside, web } = await t.namespaces(['dev', 'out', 'web'], { uplink: true }));
    dir = await mkdtemp(join(tmpdir(), 'edgenet-lib-'));
    // dnsmasq drops root and re-reads its hosts files from the state dir: the path must be searchable
    await chmod(dir, 0o755);
    agent = await Agent.start(dev, join(dir, 'state'));
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail' && agent) console.log(`agent stderr:\n${agent.stderr}\nagent lines:\n${agent.lines.map((l) => JSON.stringify(l)).join('\n')}`);
    await agent?.kill();
    agent = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  const ports = [{ name: 'up0', ifname: 'eth1' }];
  const withLan = () => ({
    ports,
    networks: [{ name: 'lan', type: 'local', port: 'up0', subnet: '10.50.0.0/24' }],
    apps: [{ name: 'web', interfaces: [{ network: 'lan', netns: web.path }] }],
  });

  it('sees create, a port flap and delete on transitions$ and status$', async () => {
    const a = agent as Agent;

    // create
    const created = await a.apply(withLan());
    expect(created.created).toEqual(expect.arrayContaining(['network lan', 'endpoint web/lan', 'port up0']));
    // an NI leaves `pending` by an eventless transition within its first step: its first snapshot is `creating`
    expect(a.path('network', 'lan')).toEqual(['null->creating', 'creating->ready']);
    // the endpoint waits in `pending` for its NI to be ready
    expect(a.path('endpoint', 'web/lan')).toEqual(['null->pending', 'pending->creating', 'creating->ready']);
    expect(a.path('port', 'up0').slice(-1)).toEqual(['creating->ready']);
    await eventually('web has eth0', async () => (await web.ip('-o', 'link', 'show')).includes('eth0'));

    // flap: pull the cable on the far side; the NI degrades and comes back, the endpoint does not move
    const beforeFlap = a.lines.length;
    await outside.ip('link', 'set', 'eth0', 'down');
    await a.next('lan degraded', (l) => l.transition?.name === 'lan' && l.transition.to === 'degraded', 5000, beforeFlap);
    // status$ is throttled (first and last of a burst of changes): it shows the settled state shortly after
    await a.next('status$: lan degraded, up0 without carrier', (l) => l.status?.networks[0]?.state === 'degraded' && l.status.ports[0]?.carrier === false, 2000, beforeFlap);
    const down = a.transitions(beforeFlap).find((t) => t.kind === 'network' && t.to === 'degraded');
    expect(down?.reason).toMatch(/port up0/);
    // the port's own transition is a line of its own: the NI's and status$ may come before it
    const portDown = await a.next('up0 degraded', (l) => l.transition?.kind === 'port' && l.transition.to === 'degraded', 5000, beforeFlap);
    expect(portDown.line.transition?.reason).toMatch(/lost carrier/);
    const beforeUp = a.lines.length;
    await outside.ip('link', 'set', 'eth0', 'up');
    await a.next('lan ready again', (l) => l.transition?.name === 'lan' && l.transition.to === 'ready', 5000, beforeUp);
    await a.next('status$: lan ready, up0 with carrier', (l) => l.status?.networks[0]?.state === 'ready' && l.status.ports[0]?.carrier === true, 2000, beforeUp);
    await a.next('up0 ready again', (l) => l.transition?.kind === 'port' && l.transition.to === 'ready', 5000, beforeUp);
    expect(a.path('network', 'lan', beforeFlap)).toEqual(['ready->degraded', 'degraded->ready']);
    expect(a.path('port', 'up0', beforeFlap)).toEqual(['ready->degraded', 'degraded->ready']);
    expect(a.path('endpoint', 'web/lan', beforeFlap)).toEqual([]);

    // delete: the NI and its app go; the port stays, unused
    const beforeDelete = a.lines.length;
    const deleted = await a.apply({ ports });
    expect(deleted.deleted).toEqual(expect.arrayContaining(['network lan', 'endpoint web/lan']));
    await a.next('lan deleted', (l) => l.transition?.name === 'lan' && l.transition.to === 'deleted', 10_000, beforeDelete);
    expect(a.path('network', 'lan', beforeDelete)).toEqual(['ready->deleting', 'deleting->deleted']);
    expect(a.path('endpoint', 'web/lan', beforeDelete)).toEqual(['ready->deleting', 'deleting->deleted']);
    expect(await dev.ip('-o', 'link', 'show')).not.toMatch(/enbr-lan|env[0-9a-f]{12}/);

    await a.next('status$: lan gone', (l) => l.status !== undefined && l.status.networks.length === 0 && l.status.endpoints.length === 0, 2000, beforeDelete);

    // status$ agrees: it showed only states the transitions reached, in their order (it may skip one within a burst)
    const reached = (kind: Transition['kind'], name: string): string[] => {
      const ts = a.transitions().filter((t) => t.kind === kind && t.name === name);
      return ['absent', ...ts.map((t) => t.to).flatMap((s) => (s === 'deleted' ? ['deleted', 'absent'] : [s]))];
    };
    const lanShown = a.statusStates('networks', 'lan');
    expect(isSubsequence(lanShown, reached('network', 'lan')), `${lanShown.join(' ')} vs ${reached('network', 'lan').join(' ')}`).toBe(true);
    expect(isSubsequence(['ready', 'degraded', 'ready', 'absent'], lanShown), lanShown.join(' ')).toBe(true);
    expect(lanShown[lanShown.length - 1]).toBe('absent');
    const webShown = a.statusStates('endpoints', 'web/lan');
    expect(isSubsequence(webShown, reached('endpoint', 'web/lan')), `${webShown.join(' ')} vs ${reached('endpoint', 'web/lan').join(' ')}`).toBe(true);
    expect(webShown).toContain('ready');
    expect(webShown[webShown.length - 1]).toBe('absent');
    const portShown = a.statusStates('ports', 'up0');
    expect(isSubsequence(portShown, reached('port', 'up0'))).toBe(true);
    const lastStatus = [...a.lines].reverse().find((l) => l.status)?.status;
    expect(lastStatus?.ports).toEqual([{ name: 'up0', state: 'ready', carrier: true }]);

    await a.stop();
    expect(a.lines.some((l) => l.stopped)).toBe(true);
  });
});
