// The trace mode of bench/plus-one-veth.ts, run by it inside the device namespace: the library on the real kernel
// drivers, every driver call timed, the endpoint's transitions and the drivers' debug lines stamped, for each +1 veth
// push and its removal. Prints one timeline per push (ms since the push started).
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nslookupArgs, parseLease, parseLookup, udhcpcArgs } from '../src/cli/app-view.ts';
import { createEdgenet } from '../src/edgenet.ts';
import { createKernelDrivers } from '../src/drivers/kernel-drivers.ts';
import type { Drivers } from '../src/drivers/drivers.ts';
import type { EdgenetLogger } from '../src/util/logger.ts';
import { run } from './sandbox.ts';
import { median, round } from './stats.ts';
import { configOf, type Topology } from './topology.ts';

interface Shared {
  t: Topology;
  dir: string;
  apps: { app: string; ni: string; netns: string }[];
}

const [sharedPath, script] = process.argv.slice(2);
const s = JSON.parse(await readFile(sharedPath!, 'utf8')) as Shared;
let origin = 0;
let tracing = false;
const lines: string[] = [];
const stamp = (): string => (performance.now() - origin).toFixed(2).padStart(8);
const note = (what: string): void => {
  if (tracing) lines.push(`${stamp()}  ${what}`);
};

const recorder = (bindings: Record<string, unknown> = {}): EdgenetLogger => {
  const fn =
    (level: string) =>
    (a: object | string, b?: string): void => {
      if (!tracing) return;
      const msg = typeof a === 'string' ? a : (b ?? '');
      const obj = typeof a === 'string' ? {} : a;
      note(`log ${level} ${msg} ${JSON.stringify({ ...bindings, ...obj }).slice(0, 160)}`);
    };
  return { error: fn('error'), warn: fn('warn'), info: fn('info'), debug: fn('debug'), child: (b) => recorder({ ...bindings, ...b }), isLevelEnabled: () => true };
};

/** Every method of every driver, timed: `→ links.ensureVeth` at its start, `← … (ms)` at its end. */
function traced(drivers: Drivers): Drivers {
  const wrap = <T extends object>(name: string, target: T): T =>
    new Proxy(target, {
      get(obj, prop, recv) {
        const v = Reflect.get(obj, prop, recv) as unknown;
        if (typeof v !== 'function' || typeof prop !== 'string') return v;
        return (...args: unknown[]) => {
          const t0 = performance.now();
          const arg = JSON.stringify(args[0] ?? '')?.slice(0, 80) ?? '';
          note(`→ ${name}.${prop} ${arg}`);
          const out = (v as (...a: unknown[]) => unknown).apply(obj, args);
          if (out instanceof Promise) {
            return out.then(
              (r) => (note(`← ${name}.${prop} ${round(performance.now() - t0, 2)} ms`), r),
              (e: unknown) => {
                note(`← ${name}.${prop} FAILED ${round(performance.now() - t0, 2)} ms ${String(e)}`);
                throw e;
              },
            );
          }
          note(`← ${name}.${prop} (sync) ${round(performance.now() - t0, 2)} ms`);
          return out;
        };
      },
    });
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(drivers)) out[k] = v && typeof v === 'object' ? wrap(k, v as object) : v;
  return out as unknown as Drivers;
}

const stateDir = await mkdtemp(join(tmpdir(), 'edgenet-plus1-'));
await run('chmod', ['755', stateDir]);
const logger = recorder();
const drivers = traced(createKernelDrivers({ stateDir, logger }));
const net = createEdgenet({ stateDir, drivers, logger, limits: { endpoints: 20_000 } });
net.transitions$.subscribe((tr) => note(`transition ${tr.kind} ${tr.name} ${tr.from} → ${tr.to}${tr.reason ? ` (${tr.reason})` : ''}`));
const full = configOf(s.t);
try {
  let t0 = performance.now();
  await net.apply(full);
  console.error(`cold converge ${round(performance.now() - t0)} ms`);
  await new Promise((r) => setTimeout(r, 1500));
  const add: number[] = [];
  const remove: number[] = [];
  /** One push with every driver call stamped: the lines of this push only. */
  const traced = async (what: string, config: Parameters<typeof net.apply>[0]): Promise<number> => {
    lines.length = 0;
    tracing = true;
    origin = t0 = performance.now();
    note(`apply(${what}) called`);
    await net.apply(config);
    const ms = performance.now() - t0;
    note('apply resolved');
    tracing = false;
    return ms;
  };
  for (let k = 0; k < s.apps.length; k++) {
    const a = s.apps[k]!;
    const c = configOf(s.t);
    c.apps = [...(c.apps ?? []), { name: a.app, interfaces: [{ network: a.ni, netns: `/run/netns/${a.netns}` }] }];
    const ms = await traced('+1 veth', c);
    add.push(ms);
    console.error(`\n=== push ${k}: +1 veth ${a.app} on ${a.ni}: ${round(ms, 2)} ms\n${lines.join('\n')}`);
    const { ip, ifname } = net.status().endpoints.find((e) => e.app === a.app) ?? {};
    const gw = s.t.nis.find((n) => n.name === a.ni)!.gateway!;
    // the host side as the app starts asking (carrier, bridge port state): printed when it is not served
    const hostAtStart = ifname === undefined ? '' : (await run('ip', ['-d', 'link', 'show', ifname])).stdout;
    // what the device logs while the app asks (dnsmasq's DHCP lines): printed when it is not served
    lines.length = 0;
    tracing = true;
    const r = await run('ip', ['netns', 'exec', a.netns, 'busybox', ...udhcpcArgs('eth0', script!)], { timeoutMs: 20_000 });
    tracing = false;
    const got = parseLease(r.stdout)?.ip;
    const named = parseLookup((await run('ip', ['netns', 'exec', a.netns, 'busybox', ...nslookupArgs(`${a.app}.${a.ni}`, gw)], { timeoutMs: 10_000 })).stdout);
    console.error(`lease ${String(got)} (reserved ${String(ip)}), ${a.app}.${a.ni} → ${String(named)}`);
    if (got === undefined || got !== ip || named !== ip) {
      // what the device holds of the app, for the failure's report: its status, its anti-spoofing elements and drops
      const ep = net.status().endpoints.find((e) => e.app === a.app);
      const table = (await run('nft', ['list', 'table', 'bridge', 'edgenet'])).stdout;
      const mine = ep?.ifname === undefined ? [] : table.split('\n').filter((l) => l.includes(`"${ep.ifname}"`));
      const hostSide = ep?.ifname === undefined ? '' : (await run('ip', ['-d', 'link', 'show', ep.ifname])).stdout;
      const appSide = (await run('ip', ['netns', 'exec', a.netns, 'ip', '-d', 'addr', 'show'])).stdout;
      console.error(`not served: ${JSON.stringify(ep)}\nudhcpc: ${r.stdout}${r.stderr}\nnft (${String(ep?.ifname)}):\n${mine.join('\n')}\nhost side as the app began to ask:\n${hostAtStart}\nhost side:\n${hostSide}\napp side:\n${appSide}\nlogged while it asked:\n${lines.slice(-80).join('\n')}`);
      throw new Error('the added app is not served');
    }
    const rm1 = await traced('-1 veth', full);
    remove.push(rm1);
    console.error(`\n=== push ${k}: -1 veth ${a.app}: ${round(rm1, 2)} ms\n${lines.join('\n')}`);
    const gone = parseLookup((await run('busybox', nslookupArgs(`${a.app}.${a.ni}`, gw), { timeoutMs: 10_000 })).stdout);
    if (gone !== undefined) throw new Error(`${a.app}.${a.ni} still resolves to ${gone}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  console.error(`\n+1 veth (library on the kernel drivers, traced): median ${round(median(add), 2)} ms of ${add.map((x) => round(x, 1)).join(', ')}; -1: median ${round(median(remove), 2)} ms`);
  // the same for a hypervisor's tap (already there: only attached), the bench's "+1 tap" push
  const addTap: number[] = [];
  for (let k = 0; k < s.t.extra.length; k++) {
    const tp = s.t.extra[k]!;
    const ms = await traced('+1 tap', configOf(s.t, k + 1));
    addTap.push(ms);
    console.error(`\n=== push ${k}: +1 tap ${tp.app} on ${tp.ni}: ${round(ms, 2)} ms\n${lines.join('\n')}`);
  }
  if (addTap.length) console.error(`+1 tap (traced): median ${round(median(addTap), 2)} ms of ${addTap.map((x) => round(x, 1)).join(', ')}`);
} finally {
  await net.teardown().catch((e: unknown) => console.error(`teardown: ${String(e)}`));
  await net.stop().catch(() => undefined);
  await rm(stateDir, { recursive: true, force: true });
}
