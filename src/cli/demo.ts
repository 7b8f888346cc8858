// `edgenet demo`: a throw-away topology in network namespaces, the real daemon inside it, and real pings through it.
// Nothing outside the namespaces it creates (prefix `endemo-<pid>`) and its temp dir is touched.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { createApiClient, socketPathFor } from '../api/client.ts';
import type { ApiClient } from '../api/client.ts';
import type { ConfigInput } from '../config/config-schema.ts';
import type { Transition } from '../edgenet-types.ts';
import { errorMessage } from '../errors.ts';
import { EXIT } from './main.ts';
import type { CliIo } from './main.ts';
import { formatApplyResult, formatStatus, formatTransition } from './status-table.ts';

const BIN = fileURLToPath(new URL('../../bin/edgenet.js', import.meta.url));
const SUBNET_PREFIX = 24;
const FIELD_IP = '10.9.0.100';
const APP_IPS = { app1: '10.9.0.11', app2: '10.9.0.12' } as const;
const DAEMON_READY_TIMEOUT_MS = 20_000;
const DAEMON_STOP_TIMEOUT_MS = 10_000;

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, [...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

async function must(cmd: string, args: readonly string[]): Promise<string> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error('interrupted'));
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new Error('interrupted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Everything the demo created, so `cleanup` can remove it whatever step failed. */
class DemoSandbox {
  readonly prefix = `endemo-${process.pid}`;
  readonly ns = { dev: `${this.prefix}-dev`, app1: `${this.prefix}-app1`, app2: `${this.prefix}-app2`, field: `${this.prefix}-field` };
  private readonly created: string[] = [];
  dir: string | undefined;
  daemon: ChildProcess | undefined;
  daemonExit: Promise<number | null> | undefined;

  async addNamespace(name: string): Promise<void> {
    await must('ip', ['netns', 'add', name]);
    this.created.push(name);
    await must('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  }

  /** SIGTERM to the daemon by pid, SIGKILL after a timeout; resolves with its exit code (null if killed). */
  async stopDaemon(): Promise<string> {
    const child = this.daemon;
    if (!child?.pid || !this.daemonExit) return 'not started';
    if (child.exitCode !== null || child.signalCode !== null) return `had already exited (${child.exitCode ?? child.signalCode})`;
    try {
      process.kill(child.pid, 'SIGTERM');
    } catch {
      /* exited between the check and the kill */
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), DAEMON_STOP_TIMEOUT_MS);
    });
    const result = await Promise.race([this.daemonExit, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      process.kill(child.pid, 'SIGKILL');
      await this.daemonExit;
      return `did not stop within ${DAEMON_STOP_TIMEOUT_MS / 1000} s: killed`;
    }
    return result === null ? `ended by ${child.signalCode ?? 'a signal'}` : `stopped (SIGTERM, exit ${result})`;
  }

  /** Removes the namespaces (their links, bridges and rules go with them) and the temp dir. */
  async cleanup(): Promise<string[]> {
    const notes: string[] = [];
    try {
      notes.push(`daemon ${await this.stopDaemon()}`);
    } catch (err) {
      notes.push(`stopping the daemon failed: ${errorMessage(err)}`);
    }
    for (const name of this.created.splice(0).reverse()) {
      // Anything still inside is ours (these namespaces were made by this demo a moment ago).
      const pids = (await run('ip', ['netns', 'pids', name])).stdout.split(/\s+/).filter(Boolean).map(Number);
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      const del = await run('ip', ['netns', 'del', name]);
      if (del.code !== 0) notes.push(`could not remove namespace ${name}: ${del.stderr.trim()}`);
    }
    notes.push('namespaces removed');
    if (this.dir) {
      await rm(this.dir, { recursive: true, force: true });
      notes.push(`${this.dir} removed`);
      this.dir = undefined;
    }
    return notes;
  }
}

async function pingTool(): Promise<{ cmd: string; args: readonly string[] }> {
  if ((await run('busybox', ['ping', '--help'])).stderr.includes('Usage: ping')) return { cmd: 'busybox', args: ['ping'] };
  return { cmd: 'ping', args: [] };
}

interface PingResult {
  ok: boolean;
  text: string;
}

async function ping(ns: string, target: string, tool: { cmd: string; args: readonly string[] }): Promise<PingResult> {
  const r = await run('ip', ['netns', 'exec', ns, tool.cmd, ...tool.args, '-c', '3', '-i', '0.2', '-w', '5', '-q', target], 15_000);
  const out = `${r.stdout}\n${r.stderr}`;
  const counts = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(out);
  const rtt = /= [\d.]+\/([\d.]+)\//.exec(out);
  if (!counts) return { ok: false, text: out.trim().split('\n').pop() ?? `exit ${r.code}` };
  const text = `${counts[2]}/${counts[1]} replies${rtt ? `, avg ${rtt[1]} ms` : ''}`;
  return { ok: r.code === 0 && Number(counts[2]) > 0, text };
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function waitForDaemon(client: ApiClient, box: DemoSandbox, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + DAEMON_READY_TIMEOUT_MS;
  for (;;) {
    try {
      await client.status();
      return;
    } catch (err) {
      const child = box.daemon;
      if (child && (child.exitCode !== null || child.signalCode !== null)) {
        throw new Error(`the daemon exited (${child.exitCode ?? child.signalCode}) before serving its API`);
      }
      if (Date.now() > deadline) throw new Error(`the daemon did not serve its API within ${DAEMON_READY_TIMEOUT_MS / 1000} s: ${errorMessage(err)}`);
    }
    await sleep(100, signal);
  }
}

export async function runDemo(io: CliIo): Promise<number> {
  const say = (line = ''): void => io.stdout(`${line}\n`);
  const indent = (text: string, by = '   '): string => text.split('\n').map((l) => (l ? `${by}${l}` : '')).join('\n');

  if (process.getuid?.() !== 0) {
    io.stderr('edgenet demo needs root: it creates network namespaces, veths and a bridge (inside those namespaces only).\n' +
      'Run it as root, e.g. `sudo npm run demo`.\n');
    return EXIT.rejected;
  }
  if ((await run('ip', ['-V'])).code !== 0) {
    io.stderr('edgenet demo needs the `ip` command (iproute2): run `npm run setup` first.\n');
    return EXIT.rejected;
  }

  const started = Date.now();
  const box = new DemoSandbox();
  const { ns } = box;
  const interrupt = new AbortController();
  const onSignal = (): void => {
    if (!interrupt.signal.aborted) io.stderr('\ninterrupted: cleaning up...\n');
    interrupt.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const { signal } = interrupt;
  let logFile: string | undefined;
  let passed = false;

  try {
    say(`edgenet demo: a switch network instance "plant" joining two apps and a field host (namespaces ${box.prefix}-*)`);
    say();
    say(`   field host ${FIELD_IP} ──(veth)── eth1 ┐`);
    say(`                                           ├─ bridge of NI "plant" ── app1 ${APP_IPS.app1}`);
    say(`               device namespace (edgenet) ┘                         └─ app2 ${APP_IPS.app2}`);
    say();

    // 1. Topology: the device with its port eth1, a field host behind it, and two empty app namespaces.
    say('1. building the topology');
    for (const name of [ns.dev, ns.field, ns.app1, ns.app2]) await box.addNamespace(name);
    await must('ip', ['-n', ns.dev, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.field]);
    await must('ip', ['-n', ns.dev, 'link', 'set', 'eth1', 'up']);
    await must('ip', ['-n', ns.field, 'addr', 'add', `${FIELD_IP}/${SUBNET_PREFIX}`, 'dev', 'eth0']);
    await must('ip', ['-n', ns.field, 'link', 'set', 'eth0', 'up']);
    say(`   ${ns.dev}: port eth1 (veth to ${ns.field}, which has ${FIELD_IP}/${SUBNET_PREFIX})`);
    say(`   ${ns.app1}, ${ns.app2}: empty (edgenet creates their interfaces)`);
    signal.throwIfAborted();

    // 2. The daemon, inside the device namespace, starting with only the device's port inventory.
    box.dir = await mkdtemp(join(tmpdir(), `${box.prefix}-`));
    const stateDir = join(box.dir, 'state');
    const deviceConfig = join(box.dir, 'device.yaml');
    const plantConfig = join(box.dir, 'plant.yaml');
    logFile = join(box.dir, 'daemon.log');
    const ports: ConfigInput['ports'] = [{ name: 'field', ifname: 'eth1' }];
    const plant: ConfigInput = {
      ports,
      networks: [{ name: 'plant', type: 'switch', port: 'field' }],
      apps: (['app1', 'app2'] as const).map((app) => ({
        name: app,
        interfaces: [{ network: 'plant', netns: `/run/netns/${ns[app]}`, ifname: 'eth0' }],
      })),
    };
    await writeFile(deviceConfig, toYaml({ ports }));
    await writeFile(plantConfig, toYaml(plant));

    say();
    say(`2. starting the daemon in ${ns.dev}: edgenet run -c ${deviceConfig} --state-dir ${stateDir}`);
    const logFd = openSync(logFile, 'a');
    try {
      box.daemon = spawn('ip', ['netns', 'exec', ns.dev, process.execPath, BIN, 'run', '-c', deviceConfig, '--state-dir', stateDir], {
        stdio: ['ignore', logFd, logFd],
      });
    } finally {
      closeSync(logFd);
    }
    const child = box.daemon;
    box.daemonExit = new Promise((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', () => resolve(null));
    });
    const client = createApiClient(socketPathFor(stateDir));
    const t0 = Date.now();
    await waitForDaemon(client, box, signal);
    say(`   pid ${child.pid}, API on ${client.socketPath} after ${((Date.now() - t0) / 1000).toFixed(1)} s (log: ${logFile})`);

    // 3. The controller's push: the switch NI and the two apps, watched through the event stream.
    say();
    say(`3. edgenet apply -f ${plantConfig}`);
    say(indent(toYaml(plant).trimEnd(), '   │ '));
    const transitions: Transition[] = [];
    const watching = new AbortController();
    const stream = client.events((t) => transitions.push(t), watching.signal);
    await sleep(100, signal);
    const result = await client.putConfig(readFileSync(plantConfig, 'utf8'), 'application/yaml');
    await sleep(100, signal);
    watching.abort();
    await stream;
    say(indent(formatApplyResult(result)));
    say('   transitions seen on GET /v1/events:');
    say(transitions.length ? indent(transitions.map(formatTransition).join('\n'), '     ') : '     (none)');

    // 4. Status as `edgenet status` prints it.
    say();
    say('4. edgenet status');
    say(indent(formatStatus(await client.status())));

    // 5. A switch NI serves no DHCP: the apps get static addresses, as a workload would configure them.
    say();
    say('5. addresses inside the apps (a switch NI has no DHCP)');
    for (const app of ['app1', 'app2'] as const) {
      const deadline = Date.now() + 5_000;
      while ((await run('ip', ['-n', ns[app], 'link', 'show', 'eth0'])).code !== 0) {
        if (Date.now() > deadline) throw new Error(`eth0 did not appear in ${ns[app]}`);
        await sleep(100, signal);
      }
      await must('ip', ['-n', ns[app], 'addr', 'add', `${APP_IPS[app]}/${SUBNET_PREFIX}`, 'dev', 'eth0']);
      await must('ip', ['-n', ns[app], 'link', 'set', 'eth0', 'up']);
      say(`   ${app}: eth0 ${APP_IPS[app]}/${SUBNET_PREFIX}`);
    }

    // 6. Real traffic through the bridge, both between apps and from the port's side.
    say();
    say('6. pings through NI "plant"');
    const tool = await pingTool();
    const checks = [
      { from: 'app1', ns: ns.app1, to: 'app2', ip: APP_IPS.app2 },
      { from: 'field', ns: ns.field, to: 'app1', ip: APP_IPS.app1 },
      { from: 'app2', ns: ns.app2, to: 'field', ip: FIELD_IP },
    ];
    let ok = 0;
    for (const c of checks) {
      signal.throwIfAborted();
      const r = await ping(c.ns, c.ip, tool);
      signal.throwIfAborted(); // Ctrl-C also reached ping: its result means nothing
      if (r.ok) ok++;
      say(`   ${r.ok ? 'ok  ' : 'FAIL'}  ${`${c.from} → ${c.to} (${c.ip})`.padEnd(26)}  ${r.text}`);
    }
    passed = ok === checks.length;
    if (!passed) {
      say();
      say(`   daemon log (last lines of ${logFile}):`);
      say(indent(tail(logFile, 20), '     '));
    }
    say();
    say(passed ? `all ${checks.length} pings succeeded` : `${checks.length - ok} of ${checks.length} pings failed`);
  } catch (err) {
    if (signal.aborted) io.stderr('demo interrupted\n');
    else {
      io.stderr(`demo failed: ${errorMessage(err)}\n`);
      if (logFile) io.stderr(`daemon log (last lines):\n${indent(tail(logFile, 20), '  ')}\n`);
    }
    passed = false;
  } finally {
    say();
    say('7. cleaning up');
    const notes = await box.cleanup();
    for (const n of notes) say(`   ${n}`);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    say();
    say(`demo ${passed ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  if (signal.aborted) return EXIT.failure;
  return passed ? EXIT.ok : EXIT.failure;
}
