// DHCP and DNS as an app sees them: busybox udhcpc and nslookup inside the app's namespace.
import { rmSync } from 'node:fs';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { nslookupArgs, parseLease, parseLookup, parseLookupAll, udhcpcArgs, UDHCPC_SCRIPT, type Lease } from '../../src/cli/app-view.ts';
import type { Netns } from './netns.ts';

export type { Lease };

let scriptDir: string | undefined;
let scriptPath: string | undefined;
// per test file (forked workers are ended without an 'exit' event, so process hooks leave the dir behind)
afterAll(() => {
  if (scriptDir) rmSync(scriptDir, { recursive: true, force: true });
  scriptDir = scriptPath = undefined;
});

async function udhcpcScript(): Promise<string> {
  if (scriptPath) return scriptPath;
  const dir = await mkdtemp(join(tmpdir(), 'edgenet-udhcpc-'));
  scriptDir = dir;
  scriptPath = join(dir, 'script.sh');
  await writeFile(scriptPath, UDHCPC_SCRIPT);
  await chmod(scriptPath, 0o755);
  return scriptPath;
}

/** Gets a lease on `ifname` inside `ns` and configures it; throws when no lease is obtained. */
export async function dhcpLease(ns: Netns, ifname = 'eth0'): Promise<Lease> {
  const r = await ns.exec('busybox', udhcpcArgs(ifname, await udhcpcScript()), { timeoutMs: 20_000 });
  const lease = parseLease(r.stdout);
  if (!lease) throw new Error(`no DHCP lease in ${ns.name} on ${ifname}: ${r.stdout} ${r.stderr}`);
  return lease;
}

/** Resolves `name` with busybox nslookup against `server`; undefined when it does not resolve. */
export async function lookup(ns: Netns, name: string, server: string): Promise<string | undefined> {
  const r = await ns.exec('busybox', nslookupArgs(name, server), { timeoutMs: 10_000 });
  return parseLookup(r.stdout);
}

/** Every address nslookup answers for `name` (empty when it does not resolve). */
export async function lookupAll(ns: Netns, name: string, server: string): Promise<string[]> {
  const r = await ns.exec('busybox', nslookupArgs(name, server), { timeoutMs: 10_000 });
  return parseLookupAll(r.stdout);
}
