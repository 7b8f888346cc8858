// `edgenet down` without the daemon (or after it): everything edgenet owns is found by its marks alone — links by
// their alias, rules in table inet edgenet, dnsmasq by the pid files of the state dir checked against /proc — and
// removed, with the state dir's runtime files. Unmarked objects are never touched.
import { existsSync } from 'node:fs';
import { lstat, readdir, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { EdgenetLogger as Logger } from '../util/logger.ts';
import { dnsmasqPaths } from '../drivers/dhcpdns-dnsmasq.ts';
import type { Drivers } from '../drivers/drivers.ts';
import { createKernelDrivers } from '../drivers/kernel-drivers.ts';
import { createNftAddressLearner } from '../drivers/address-learner-nft.ts';
import { assertSameNetns } from './netns-record.ts';
import { acquireInstanceLock, type InstanceLock } from './instance-lock.ts';
import { NOTHING, sweepOrphans } from './orphans.ts';
import { L3Moves, inOurBridge } from '../services/l3-moves.ts';
import { LAST_GOOD_CONFIG, LAST_GOOD_CONFIG_JOURNAL, removeRuntimeState } from '../daemon/state-dir.ts';
import { resolveLayout } from '../daemon/state-layout.ts';

export interface OfflineTeardownOptions {
  /** persistent state dir (default /var/lib/edgenet; alone, it holds the runtime files too) */
  stateDir?: string;
  /** runtime dir: dnsmasq's pid files, the socket (default: stateDir when given, else /run/edgenet) */
  runtimeDir?: string;
  /** default `<runtimeDir>/api.sock`: removed when nobody answers on it (a killed daemon's) */
  socketPath?: string;
  logger?: Logger;
  /** default: the real drivers, in this process's network namespace */
  drivers?: Drivers;
}

const NI_DIR_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** `edgenet down` refuses, before asking the daemon or touching anything, outside the namespace the instance recorded. */
export async function assertDownHere(runtimeDir: string): Promise<void> {
  await assertSameNetns(runtimeDir);
}

/** Removes every marked object and the runtime state (not the last good config); returns what went, in words. */
export async function teardownOffline(opts: OfflineTeardownOptions): Promise<string[]> {
  const { stateDir, runtimeDir, socketPath } = resolveLayout({ stateDir: opts.stateDir, runtimeDir: opts.runtimeDir, socketPath: opts.socketPath });
  // the pid files and marks of another namespace's instance mean nothing here: refuse before touching anything
  if (!opts.drivers) await assertSameNetns(runtimeDir);
  // another instance running in this namespace owns the table and its rules: refuse (one that shares our runtime
  // dir is the daemon stopping after its own teardown: wait for it)
  let lock: InstanceLock | undefined;
  if (!opts.drivers) lock = await acquireInstanceLock({ stateDir, runtimeDir, waitForSameMs: 15_000, createInstanceId: false });
  const drivers = opts.drivers ?? createKernelDrivers({ stateDir, runtimeDir, ...(opts.logger ? { logger: opts.logger } : {}), ...(lock && { instanceId: lock.instanceId }) });
  const removed: string[] = [];
  try {
    // ports whose own addresses and routes are on a switch NI's bridge get them back before the bridge goes
    const back = await new L3Moves(runtimeDir, drivers.routes, opts.logger).restoreUnless(() => false, inOurBridge(drivers.links));
    removed.push(...back.map((ifname) => `addresses and routes of ${ifname} moved back onto it`));
    removed.push(...(await sweepOrphans(drivers, NOTHING, opts.logger)));
    // a dnsmasq whose conf file went missing is still found by its pid file (remove() checks /proc before signalling)
    for (const ni of await pidFileDirs(runtimeDir)) {
      await drivers.dhcpdns.remove(ni);
      removed.push(`dnsmasq of ${ni}`);
    }
    if ((await drivers.firewall.dump()).present) {
      await drivers.firewall.removeAll();
      removed.push('table inet edgenet');
    }
    // the switch NIs' address learning (EVE info): only with the real drivers, never a test's fakes
    if (!opts.drivers) await createNftAddressLearner().remove();
  } finally {
    await drivers.dhcpdns.close();
    await drivers.links.close();
    await drivers.bridgePorts?.close();
    await lock?.release();
  }
  for (const dir of stateDir === runtimeDir ? [stateDir] : [stateDir, runtimeDir]) {
    const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f !== LAST_GOOD_CONFIG && f !== LAST_GOOD_CONFIG_JOURNAL && join(dir, f) !== socketPath);
    await removeRuntimeState(dir);
    removed.push(...files.map((f) => `state ${join(dir, f)}`));
  }
  if (await removeStaleSocket(socketPath)) removed.push(`stale socket ${socketPath}`);
  if (removed.length) opts.logger?.info({ removed }, 'torn down');
  return removed;
}

/** NI directories of the state dir that hold a dnsmasq pid file. */
async function pidFileDirs(stateDir: string): Promise<string[]> {
  const entries = await readdir(stateDir).catch(() => [] as string[]);
  const has = (name: string): boolean => {
    const paths = dnsmasqPaths(stateDir, name);
    return existsSync(paths.pid) || existsSync(paths.applied) || existsSync(join(paths.dir, 'dnsmasq.pid'));
  };
  return entries.filter((name) => NI_DIR_RE.test(name) && has(name)).sort();
}

/** True when a daemon accepts connections on the socket. */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

/** Waits (bounded) until nobody answers on the socket any more: a daemon asked to stop has stopped. */
export async function waitForSocketGone(path: string, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await socketAnswers(path)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** A socket nobody answers on (left by a killed daemon) is removed; anything else at the path is left alone. */
async function removeStaleSocket(path: string): Promise<boolean> {
  try {
    if (!(await lstat(path)).isSocket()) return false;
  } catch {
    return false;
  }
  if (await socketAnswers(path)) return false;
  await unlink(path).catch(() => undefined);
  return true;
}
