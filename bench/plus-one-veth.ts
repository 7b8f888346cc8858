// A +1 veth app on a local NI (DHCP/DNS, NAT), measured alone: `node bin/run-ts.js bench/plus-one-veth.ts`.
// Builds the bench's device (BENCH_TAPS taps, default 1000, over 10 local + 40 switch NIs) in namespaces
// `enbench-<pid>-*`, converges it, then adds (and removes again) BENCH_PUSHES veth apps, one push each, each into
// a namespace of its own. After every add the app gets its DHCP lease (the reserved address) and its name resolves;
// after every remove the name no longer resolves. Everything is removed again (also on failure and on Ctrl-C).
//
// Two modes (BENCH_MODE): `daemon` (default) pushes to the real daemon over its API and reports its own apply()
// timing; `trace` runs the library in this script (under nsenter in the device namespace) on the real kernel
// drivers, each driver call timed, the endpoint's transitions and the drivers' debug lines stamped: where the
// push's time goes. Figures on the shared 2-core VM are noisy.
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { nslookupArgs, parseLease, parseLookup, udhcpcArgs, UDHCPC_SCRIPT } from '../src/cli/app-view.ts';
import { BenchDaemon } from './daemon.ts';
import { run, Sandbox, sleep } from './sandbox.ts';
import { median, round } from './stats.ts';
import { buildSurroundings, configOf, planTopology, type Topology } from './topology.ts';

const REPO = resolve(import.meta.dirname, '..');
const envInt = (name: string, dflt: number): number => (process.env[name] ? Number(process.env[name]) : dflt);
const TAPS = envInt('BENCH_TAPS', 1000);
const PUSHES = envInt('BENCH_PUSHES', 5);
const MODE = process.env.BENCH_MODE ?? 'daemon';
const log = (msg: string): void => console.error(`[+1 veth ${new Date().toISOString().slice(11, 23)}] ${msg}`);

interface Shared {
  t: Topology;
  dir: string;
  apps: { app: string; ni: string; netns: string }[];
}

function withVeth(s: Shared, k: number): ReturnType<typeof configOf> {
  const c = configOf(s.t);
  const a = s.apps[k]!;
  c.apps = [...(c.apps ?? []), { name: a.app, interfaces: [{ network: a.ni, netns: `/run/netns/${a.netns}` }] }];
  return c;
}

async function lease(ns: string, script: string): Promise<string | undefined> {
  const r = await run('ip', ['netns', 'exec', ns, 'busybox', ...udhcpcArgs('eth0', script)], { timeoutMs: 20_000 });
  return parseLease(r.stdout)?.ip;
}

async function resolveName(ns: string, name: string, server: string): Promise<string | undefined> {
  const r = await run('ip', ['netns', 'exec', ns, 'busybox', ...nslookupArgs(name, server)], { timeoutMs: 10_000 });
  return parseLookup(r.stdout);
}

/** The app's view after an add: its lease is the reserved address, and another app resolves its name to it. */
async function checkAdded(s: Shared, k: number, script: string, expected: string | undefined): Promise<void> {
  const a = s.apps[k]!;
  const gw = s.t.nis.find((n) => n.name === a.ni)!.gateway!;
  const ip = await lease(a.netns, script);
  if (!ip || (expected !== undefined && ip !== expected)) throw new Error(`${a.app}: lease ${String(ip)}, reserved ${String(expected)}`);
  const named = await resolveName(a.netns, `${a.app}.${a.ni}`, gw);
  if (named !== ip) throw new Error(`${a.app}.${a.ni} resolves to ${String(named)}, not ${ip}`);
}

async function main(): Promise<void> {
  const sandbox = new Sandbox();
  try {
    const dir = await sandbox.dir('plus1');
    const t = planTopology({ localNis: 10, switchNis: 40, taps: TAPS, extraTaps: MODE === 'trace' ? PUSHES : 0 });
    const ns = { dev: await sandbox.netns('dev'), vm: await sandbox.netns('vm'), outside: await sandbox.netns('out') };
    await buildSurroundings(t, dir, ns);
    const locals = t.nis.filter((n) => n.type === 'local');
    const apps: Shared['apps'] = [];
    for (let k = 0; k < PUSHES; k++) apps.push({ app: `v${k}`, ni: locals[k % locals.length]!.name, netns: await sandbox.netns(`app${k}`) });
    const s: Shared = { t, dir, apps };
    const script = join(dir, 'udhcpc.sh');
    await writeFile(script, UDHCPC_SCRIPT, { mode: 0o755 });
    log(`${TAPS} taps, ${t.nis.length} NIs; ${PUSHES} veth apps; mode ${MODE}; namespaces ${sandbox.prefix}-*`);
    if (MODE === 'trace') {
      const shared = join(dir, 'shared.json');
      await writeFile(shared, JSON.stringify(s));
      const child = sandbox.spawnIn(ns.dev, [process.execPath, join(REPO, 'bin/run-ts.js'), join(REPO, 'bench/plus-one-trace.ts'), shared, script], {
        cwd: REPO,
        stdio: 'inherit',
      });
      const code = await new Promise<number | null>((r) => child.once('exit', r));
      if (code !== 0) throw new Error(`trace exited ${String(code)}`);
      return;
    }
    const stateDir = join(dir, 'state');
    const empty = join(dir, 'empty.json');
    await writeFile(empty, '{}\n');
    const logPath = join(dir, 'daemon.log');
    const d = BenchDaemon.spawn(sandbox, { ns: ns.dev, configPath: empty, stateDir, logPath });
    try {
      await d.waitApi();
      const full = JSON.stringify(configOf(t));
      let t0 = performance.now();
      await d.api.putConfig(full, 'application/json');
      log(`cold converge ${round(performance.now() - t0)} ms`);
      // the converge's tail (sweep, status, audits) is over before the first push
      await sleep(3000);
      const add: number[] = [];
      const addWall: number[] = [];
      const remove: number[] = [];
      for (let k = 0; k < PUSHES; k++) {
        const b = await d.applyTiming();
        t0 = performance.now();
        await d.api.putConfig(JSON.stringify(withVeth(s, k)), 'application/json');
        addWall.push(performance.now() - t0);
        add.push(((await d.applyTiming()).sumS - b.sumS) * 1000);
        const st = await d.status();
        const ip = st.endpoints.find((e) => e.app === apps[k]!.app)?.ip;
        await checkAdded(s, k, script, ip);
        const b2 = await d.applyTiming();
        await d.api.putConfig(full, 'application/json');
        remove.push(((await d.applyTiming()).sumS - b2.sumS) * 1000);
        const a = apps[k]!;
        const gw = t.nis.find((n) => n.name === a.ni)!.gateway!;
        // the removed app's name is gone from its NI's dnsmasq (asked from the device namespace, beside the bridge)
        const after = await run('ip', ['netns', 'exec', ns.dev, 'busybox', ...nslookupArgs(`${a.app}.${a.ni}`, gw)], { timeoutMs: 10_000 });
        if (parseLookup(after.stdout) !== undefined) throw new Error(`${a.app}.${a.ni} still resolves after its removal`);
        log(`push ${k}: +1 veth ${round(add[k]!, 2)} ms in the daemon (${round(addWall[k]!, 2)} ms over the API), -1 ${round(remove[k]!, 2)} ms; lease ${String(ip)} and name checked`);
        await sleep(500);
      }
      log(`+1 veth app: median ${round(median(add), 2)} ms in the daemon (${round(median(addWall), 2)} ms over the API); -1: ${round(median(remove), 2)} ms`);
    } finally {
      await d.stop().catch(() => undefined);
    }
  } finally {
    await sandbox.cleanup();
  }
}

// the trace mode's child runs plus-one-trace.ts; this file is the entry
if (process.argv[1]?.endsWith('plus-one-veth.ts')) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
