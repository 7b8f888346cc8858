// `edgenet demo`: a throw-away topology in network namespaces, the real daemon inside it, and real traffic through it:
// a switch NI (L2, static addresses) and a local NI (L3: DHCP, DNS, NAT out of its port, nothing in).
// Nothing outside the namespaces it creates (prefix `endemo-<pid>`) and its temp dir is touched.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { createApiClient, socketPathFor } from '../api/client.ts';
import { nslookupArgs, parseLease, parseLookup, udhcpcArgs, UDHCPC_SCRIPT, type Lease } from './app-view.ts';
import type { ApiClient } from '../api/client.ts';
import type { ConfigInput } from '../config/config-schema.ts';
import type { ApplyResult, Transition } from '../edgenet-types.ts';
import { errorMessage } from '../errors.ts';
import { EXIT } from './main.ts';
import { packageRoot } from '../util/package-info.ts';
import type { CliIo } from './main.ts';
import { formatApplyResult, formatStatus, formatTransition } from './status-table.ts';

const BIN = join(packageRoot() ?? fileURLToPath(new URL('../..', import.meta.url)), 'bin/edgenet.js');
const DAEMON_READY_TIMEOUT_MS = 20_000;
const DAEMON_STOP_TIMEOUT_MS = 10_000;
const RESOLVER_STOP_TIMEOUT_MS = 2_000;

// switch NI "plant": the field segment and two apps with static addresses (a switch NI serves no DHCP)
const FIELD_IP = '10.9.0.100';
const PLANT_APP_IPS = { app1: '10.9.0.11', app2: '10.9.0.12' } as const;
const PLANT_PREFIX = 24;
// local NI "lan": the uplink to an outside host with a resolver, which has no route back to the NI's subnet
const UPLINK = { device: '192.168.77.1', outside: '192.168.77.2', prefix: 24 } as const;
const LAN = { subnet: '10.50.0.0/24', gateway: '10.50.0.1', webIp: '10.50.0.10', range: { start: '10.50.0.100', end: '10.50.0.199' } } as const;
const STATIC_HOST = { name: 'historian', ip: '10.50.0.250' } as const;
const OUTSIDE_NAME = { name: 'example.org', ip: '198.51.100.7' } as const;
/** Every check the demo makes: 3 pings on plant, 2 leases, 4 lookups, 3 traffic checks on lan. */
const PLANNED_CHECKS = 12;

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

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (hasExited(child)) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
}

/** Everything the demo created, so `cleanup` can remove it whatever step failed. */
class DemoSandbox {
  readonly prefix = `endemo-${process.pid}`;
  readonly ns = {
    dev: `${this.prefix}-dev`,
    field: `${this.prefix}-field`,
    app1: `${this.prefix}-app1`,
    app2: `${this.prefix}-app2`,
    internet: `${this.prefix}-internet`,
    web: `${this.prefix}-web`,
    db: `${this.prefix}-db`,
  };
  private readonly created: string[] = [];
  dir: string | undefined;
  daemon: ChildProcess | undefined;
  daemonExit: Promise<number | null> | undefined;
  /** the outside host's DNS server (a dnsmasq of ours), stopped by its pid */
  resolver: ChildProcess | undefined;

  async addNamespace(name: string): Promise<void> {
    await must('ip', ['netns', 'add', name]);
    this.created.push(name);
    await must('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  }

  /** SIGTERM to the daemon by pid, SIGKILL after a timeout; says how it ended. */
  async stopDaemon(): Promise<string> {
    const child = this.daemon;
    if (!child?.pid || !this.daemonExit) return 'not started';
    if (hasExited(child)) return `had already exited (${child.exitCode ?? child.signalCode})`;
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

  /** SIGTERM to the resolver by pid, SIGKILL if it lingers. */
  async stopResolver(): Promise<string> {
    const child = this.resolver;
    if (!child?.pid) return 'not started';
    if (hasExited(child)) return `had already exited (${child.exitCode ?? child.signalCode})`;
    const exited = exitOf(child);
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), RESOLVER_STOP_TIMEOUT_MS);
    });
    const result = await Promise.race([exited, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      child.kill('SIGKILL');
      await exited;
      return 'killed';
    }
    return 'stopped';
  }

  /** Removes the namespaces (their links, bridges and rules go with them) and the temp dir. */
  async cleanup(): Promise<string[]> {
    const notes: string[] = [];
    try {
      notes.push(`daemon ${await this.stopDaemon()}`);
    } catch (err) {
      notes.push(`stopping the daemon failed: ${errorMessage(err)}`);
    }
    try {
      notes.push(`resolver ${await this.stopResolver()}`);
    } catch (err) {
      notes.push(`stopping the resolver failed: ${errorMessage(err)}`);
    }
    for (const name of this.created.splice(0).reverse()) {
      // Anything still inside is ours (these namespaces were made by this demo a moment ago): the NI's dnsmasq,
      // which the daemon leaves running on SIGTERM (it keeps the data plane), or a tool cut short by Ctrl-C.
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

/** Counts the demo's checks and prints one aligned line per check. */
class CheckTally {
  passed = 0;
  made = 0;
  constructor(private readonly say: (line: string) => void) {}

  record(ok: boolean, what: string, detail: string): void {
    this.made++;
    if (ok) this.passed++;
    this.say(`   ${ok ? 'ok  ' : 'FAIL'}  ${what.padEnd(34)}  ${detail}`);
  }

  get allPassed(): boolean {
    return this.made === PLANNED_CHECKS && this.passed === PLANNED_CHECKS;
  }
}

async function pingTool(): Promise<{ cmd: string; args: readonly string[] }> {
  if ((await run('busybox', ['ping', '--help'])).stderr.includes('Usage: ping')) return { cmd: 'busybox', args: ['ping'] };
  return { cmd: 'ping', args: [] };
}

type PingTool = Awaited<ReturnType<typeof pingTool>>;

interface PingResult {
  ok: boolean;
  text: string;
}

/** `count` pings within `deadlineS` seconds; ok when at least one reply came back. */
// -W too: busybox waits -W (default 10 s) for a reply after the last of -c pings, whatever -w says
async function ping(ns: string, target: string, tool: PingTool, opts: { count?: number; deadlineS?: number } = {}): Promise<PingResult> {
  const count = String(opts.count ?? 3);
  const deadline = String(opts.deadlineS ?? 5);
  const r = await run('ip', ['netns', 'exec', ns, tool.cmd, ...tool.args, '-c', count, '-i', '0.2', '-w', deadline, '-W', deadline, '-q', target], 15_000);
  const out = `${r.stdout}\n${r.stderr}`;
  const counts = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(out);
  const rtt = /= [\d.]+\/([\d.]+)\//.exec(out);
  if (!counts) return { ok: false, text: out.trim().split('\n').pop() ?? `exit ${r.code}` };
  const text = `${counts[2]}/${counts[1]} replies${rtt ? `, avg ${rtt[1]} ms` : ''}`;
  return { ok: r.code === 0 && Number(counts[2]) > 0, text };
}

/** A DHCP lease as the app sees it (`busybox udhcpc` in its namespace), configured on its eth0; undefined without one. */
async function dhcpLease(ns: string, script: string): Promise<{ lease?: Lease; error: string }> {
  const r = await run('ip', ['netns', 'exec', ns, 'busybox', ...udhcpcArgs('eth0', script)], 20_000);
  const lease = parseLease(r.stdout);
  if (!lease) return { error: (r.stderr.trim() || r.stdout.trim()).split('\n').pop() || `udhcpc exit ${r.code}` };
  return { lease, error: '' };
}

/** The A record `busybox nslookup` finds for `name` at `server`, from inside `ns`; undefined when it does not resolve. */
async function lookup(ns: string, name: string, server: string): Promise<string | undefined> {
  const r = await run('ip', ['netns', 'exec', ns, 'busybox', ...nslookupArgs(name, server)], 10_000);
  return parseLookup(r.stdout);
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
      if (child && hasExited(child)) throw new Error(`the daemon exited (${child.exitCode ?? child.signalCode}) before serving its API`);
      if (Date.now() > deadline) throw new Error(`the daemon did not serve its API within ${DAEMON_READY_TIMEOUT_MS / 1000} s: ${errorMessage(err)}`);
    }
    await sleep(100, signal);
  }
}

/** Pushes `config` (like `edgenet apply`) while watching GET /v1/events, so the push's transitions can be shown. */
async function applyWatched(client: ApiClient, config: ConfigInput, signal: AbortSignal): Promise<{ result: ApplyResult; transitions: Transition[] }> {
  const transitions: Transition[] = [];
  const watching = new AbortController();
  const stream = client.events((t) => transitions.push(t), watching.signal);
  try {
    await sleep(100, signal);
    const result = await client.putConfig(toYaml(config), 'application/yaml');
    await sleep(100, signal);
    return { result, transitions };
  } finally {
    watching.abort();
    await stream;
  }
}

async function waitForAppInterface(ns: string, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + 5_000;
  while ((await run('ip', ['-n', ns, 'link', 'show', 'eth0'])).code !== 0) {
    if (Date.now() > deadline) throw new Error(`eth0 did not appear in ${ns}`);
    await sleep(100, signal);
  }
}

export async function runDemo(io: CliIo): Promise<number> {
  const say = (line = ''): void => io.stdout(`${line}\n`);
  const indent = (text: string, by = '   '): string => text.split('\n').map((l) => (l ? `${by}${l}` : '')).join('\n');

  if (process.getuid?.() !== 0) {
    io.stderr('edgenet demo needs root: it creates network namespaces, veths and bridges (inside those namespaces only).\n' +
      'Run it as root, e.g. `sudo npm run demo`.\n');
    return EXIT.rejected;
  }
  for (const [tool, args] of [['ip', ['-V']], ['nsenter', ['--version']], ['busybox', ['true']], ['dnsmasq', ['--version']]] as const) {
    if ((await run(tool, args)).code !== 0) {
      io.stderr(`edgenet demo needs \`${tool}\`: run \`npm run setup\` first (installs iproute2, util-linux, busybox, dnsmasq-base).\n`);
      return EXIT.rejected;
    }
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
  const checks = new CheckTally(say);
  let logFile: string | undefined;
  let completed = false;

  /** Prints a push's result and the transitions it caused. */
  const showApply = ({ result, transitions }: { result: ApplyResult; transitions: Transition[] }): void => {
    say(indent(formatApplyResult(result)));
    say('   transitions seen on GET /v1/events:');
    say(transitions.length ? indent(transitions.map(formatTransition).join('\n'), '     ') : '     (none)');
  };

  try {
    say(`edgenet demo: two network instances in throw-away namespaces ${box.prefix}-*`);
    say();
    say('   device (edgenet daemon)');
    say(`   ├─ port field  eth1 ── field host ${FIELD_IP}`);
    say(`   ├─ port uplink eth2 ${UPLINK.device} ── internet host ${UPLINK.outside} (DNS resolver; no route back to ${LAN.subnet})`);
    say(`   ├─ NI plant  switch, port field:  app1 ${PLANT_APP_IPS.app1}, app2 ${PLANT_APP_IPS.app2} (static)`);
    say(`   └─ NI lan    local ${LAN.subnet}, port uplink (NAT), DHCP + DNS:  web ${LAN.webIp} (static ip), db (allocated)`);
    say();

    // 1. Topology: the device with its two ports, the hosts behind them, and empty app namespaces.
    say('1. building the topology');
    box.dir = await mkdtemp(join(tmpdir(), `${box.prefix}-`));
    // dnsmasq drops root and re-reads its hosts files from the state dir: the path must be searchable
    await chmod(box.dir, 0o755);
    for (const name of Object.values(ns)) await box.addNamespace(name);
    await must('ip', ['-n', ns.dev, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.field]);
    await must('ip', ['-n', ns.dev, 'link', 'set', 'eth1', 'up']);
    await must('ip', ['-n', ns.field, 'addr', 'add', `${FIELD_IP}/${PLANT_PREFIX}`, 'dev', 'eth0']);
    await must('ip', ['-n', ns.field, 'link', 'set', 'eth0', 'up']);
    await must('ip', ['-n', ns.dev, 'link', 'add', 'eth2', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.internet]);
    await must('ip', ['-n', ns.dev, 'addr', 'add', `${UPLINK.device}/${UPLINK.prefix}`, 'dev', 'eth2']);
    await must('ip', ['-n', ns.dev, 'link', 'set', 'eth2', 'up']);
    await must('ip', ['-n', ns.internet, 'addr', 'add', `${UPLINK.outside}/${UPLINK.prefix}`, 'dev', 'eth0']);
    await must('ip', ['-n', ns.internet, 'link', 'set', 'eth0', 'up']);
    const resolverLog = openSync(join(box.dir, 'resolver.log'), 'a');
    try {
      box.resolver = spawn('nsenter', [`--net=/run/netns/${ns.internet}`, 'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv',
        '--no-hosts', '--bind-interfaces', `--listen-address=${UPLINK.outside}`, `--address=/${OUTSIDE_NAME.name}/${OUTSIDE_NAME.ip}`,
        '--pid-file=', '--user=root', '--log-facility=-'], { stdio: ['ignore', resolverLog, resolverLog] });
    } finally {
      closeSync(resolverLog);
    }
    box.resolver.once('error', () => undefined); // seen as an exit by `exitOf`/`hasExited`
    say(`   ${ns.dev}: port eth1 to ${ns.field} (${FIELD_IP}), port eth2 ${UPLINK.device} to ${ns.internet} (${UPLINK.outside})`);
    say(`   ${ns.internet}: no route to ${LAN.subnet}; dnsmasq (pid ${box.resolver.pid}) answers ${OUTSIDE_NAME.name} = ${OUTSIDE_NAME.ip}`);
    say(`   ${[ns.app1, ns.app2, ns.web, ns.db].join(', ')}: empty (edgenet creates their interfaces)`);
    signal.throwIfAborted();

    // 2. The daemon, inside the device namespace, starting with only the device's port inventory.
    const stateDir = join(box.dir, 'state');
    const deviceConfig = join(box.dir, 'device.yaml');
    logFile = join(box.dir, 'daemon.log');
    const ports: ConfigInput['ports'] = [
      { name: 'field', ifname: 'eth1' },
      { name: 'uplink', ifname: 'eth2' },
    ];
    await writeFile(deviceConfig, toYaml({ ports }));

    say();
    say(`2. starting the daemon in ${ns.dev}: edgenet run -c ${deviceConfig} --allow-api-push --state-dir ${stateDir}`);
    const logFd = openSync(logFile, 'a');
    try {
      // nsenter enters only the network namespace: the daemon shares our mount namespace, so its inotify watch on
      // /run/netns sees app namespaces come and go (`ip netns exec` would give it a private mount namespace)
      box.daemon = spawn('nsenter', [`--net=/run/netns/${ns.dev}`, process.execPath, BIN, 'run', '-c', deviceConfig, '--allow-api-push', '--state-dir', stateDir], {
        stdio: ['ignore', logFd, logFd],
      });
    } finally {
      closeSync(logFd);
    }
    const child = box.daemon;
    box.daemonExit = exitOf(child);
    const client = createApiClient(socketPathFor(stateDir));
    const t0 = Date.now();
    await waitForDaemon(client, box, signal);
    say(`   pid ${child.pid}, API on ${client.socketPath} after ${((Date.now() - t0) / 1000).toFixed(1)} s (log: ${logFile})`);

    // 3. The controller's first push: the switch NI and its two apps.
    const plant: ConfigInput = {
      ports,
      networks: [{ name: 'plant', type: 'switch', port: 'field' }],
      apps: (['app1', 'app2'] as const).map((app) => ({
        name: app,
        interfaces: [{ network: 'plant', netns: `/run/netns/${ns[app]}`, ifname: 'eth0' }],
      })),
    };
    say();
    say('3. switch NI "plant": edgenet apply');
    say(indent(toYaml(plant).trimEnd(), '   │ '));
    showApply(await applyWatched(client, plant, signal));

    // 4. A switch NI serves no DHCP: the apps get static addresses, as a workload would configure them.
    say();
    say('4. plant: static addresses in the apps, pings through the bridge');
    for (const app of ['app1', 'app2'] as const) {
      await waitForAppInterface(ns[app], signal);
      await must('ip', ['-n', ns[app], 'addr', 'add', `${PLANT_APP_IPS[app]}/${PLANT_PREFIX}`, 'dev', 'eth0']);
      await must('ip', ['-n', ns[app], 'link', 'set', 'eth0', 'up']);
    }
    const tool = await pingTool();
    for (const c of [
      { from: 'app1', ns: ns.app1, to: 'app2', ip: PLANT_APP_IPS.app2 },
      { from: 'field', ns: ns.field, to: 'app1', ip: PLANT_APP_IPS.app1 },
      { from: 'app2', ns: ns.app2, to: 'field', ip: FIELD_IP },
    ]) {
      signal.throwIfAborted();
      const r = await ping(c.ns, c.ip, tool);
      signal.throwIfAborted(); // Ctrl-C also reached ping: its result means nothing
      checks.record(r.ok, `ping ${c.from} → ${c.to} (${c.ip})`, r.text);
    }

    // 5. The second push adds a local NI; plant and its apps are unchanged, so they receive nothing.
    const lanParts = {
      networks: [
        {
          name: 'lan',
          type: 'local',
          port: 'uplink',
          subnet: LAN.subnet,
          dhcpRange: { ...LAN.range },
          dns: { forwarders: [UPLINK.outside], hosts: [{ ...STATIC_HOST }] },
        },
      ],
      apps: [
        { name: 'web', interfaces: [{ network: 'lan', netns: `/run/netns/${ns.web}`, ip: LAN.webIp }] },
        { name: 'db', interfaces: [{ network: 'lan', netns: `/run/netns/${ns.db}` }] },
      ],
    } satisfies Pick<ConfigInput, 'networks' | 'apps'>;
    const both: ConfigInput = {
      ports,
      networks: [...(plant.networks ?? []), ...lanParts.networks],
      apps: [...(plant.apps ?? []), ...lanParts.apps],
    };
    say();
    say('5. local NI "lan": edgenet apply (the running config plus:)');
    say(indent(toYaml(lanParts).trimEnd(), '   │ '));
    showApply(await applyWatched(client, both, signal));
    const status = await client.status();
    const dbIp = status.endpoints.find((e) => e.app === 'db' && e.network === 'lan')?.ip;

    // 6. DHCP from the NI's dnsmasq: web gets its static ip, db the address reserved for it from the range.
    say();
    say('6. lan: DHCP leases (busybox udhcpc in each app)');
    const script = join(box.dir, 'udhcpc.sh');
    await writeFile(script, UDHCPC_SCRIPT, { mode: 0o755 });
    for (const [app, expected, why] of [
      ['web', LAN.webIp, 'its static ip'],
      ['db', dbIp, 'its reservation'],
    ] as const) {
      signal.throwIfAborted();
      await waitForAppInterface(ns[app], signal);
      const { lease, error } = await dhcpLease(ns[app], script);
      signal.throwIfAborted();
      const ok = lease !== undefined && expected !== undefined && lease.ip === expected && lease.router === LAN.gateway;
      const detail = lease
        ? `${lease.ip}/${lease.mask} router ${lease.router} dns ${lease.dns}${lease.ip === expected ? ` (${why})` : ` (expected ${expected ?? '?'})`}`
        : error;
      checks.record(ok, `${app} gets a lease`, detail);
    }

    // 7. DNS at the gateway: app names (before and after leases alike), a static entry, and a forwarded name.
    say();
    say(`7. lan: DNS at the gateway (busybox nslookup -type=a NAME ${LAN.gateway} in web)`);
    for (const [name, expected, what] of [
      ['db', dbIp, 'app name'],
      ['db.lan', dbIp, 'app.ni name'],
      [STATIC_HOST.name, STATIC_HOST.ip, 'static entry'],
      [OUTSIDE_NAME.name, OUTSIDE_NAME.ip, 'forwarded'],
    ] as const) {
      signal.throwIfAborted();
      const got = await lookup(ns.web, name, LAN.gateway);
      signal.throwIfAborted();
      const ok = got !== undefined && got === expected;
      checks.record(ok, `${name} (${what})`, got === undefined ? `no answer (expected ${expected ?? '?'})` : ok ? got : `${got} (expected ${expected ?? '?'})`);
    }

    // 8. Traffic: inside the NI; out through NAT (the outside host has no route back); nothing in, even with a route.
    say();
    say('8. lan: traffic inside, out through NAT, and nothing in');
    {
      signal.throwIfAborted();
      const r = await ping(ns.web, dbIp ?? '0.0.0.0', tool);
      signal.throwIfAborted();
      checks.record(r.ok, `ping web → db (${dbIp ?? '?'})`, r.text);
    }
    {
      const r = await ping(ns.web, UPLINK.outside, tool);
      signal.throwIfAborted();
      checks.record(r.ok, `ping web → internet (${UPLINK.outside})`, `${r.text} (NAT: no route back)`);
    }
    {
      await must('ip', ['-n', ns.internet, 'route', 'add', LAN.subnet, 'via', UPLINK.device]);
      const r = await ping(ns.internet, LAN.webIp, tool, { count: 2, deadlineS: 2 });
      signal.throwIfAborted();
      checks.record(!r.ok, `ping internet → web (${LAN.webIp})`, `${r.text} (${r.ok ? 'it got in!' : 'expected'}: route added, nothing gets in)`);
    }

    // 9. Status as `edgenet status` prints it: both NIs, their endpoints, ports and leases.
    say();
    say('9. edgenet status');
    say(indent(formatStatus(await client.status())));
    completed = true;
  } catch (err) {
    if (signal.aborted) io.stderr('demo interrupted\n');
    else io.stderr(`demo failed: ${errorMessage(err)}\n`);
  } finally {
    if (!signal.aborted && logFile && !(completed && checks.allPassed)) {
      say();
      say(`   daemon log (last lines of ${logFile}):`);
      say(indent(tail(logFile, 20), '     '));
    }
    say();
    say('10. cleaning up');
    const notes = await box.cleanup();
    for (const n of notes) say(`   ${n}`);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    say();
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const ended = signal.aborted ? ' (interrupted)' : completed ? '' : ' (stopped early)';
    say(`demo: ${checks.passed}/${PLANNED_CHECKS} checks passed in ${secs} s${ended}`);
  }
  if (signal.aborted) return EXIT.failure;
  return completed && checks.allPassed ? EXIT.ok : EXIT.failure;
}
