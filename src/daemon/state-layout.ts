// Where edgenet keeps what: the persistent state dir (survives a reboot: the last good config, the IP reservations)
// and the runtime dir (gone at a reboot, tmpfs: the API socket, dnsmasq's conf/hosts/lease/pid files). As a service:
// /var/lib/edgenet (systemd's StateDirectory=) and /run/edgenet (RuntimeDirectory=). `--state-dir D` alone keeps
// both under D (self-contained: tests, the demo, an embedding agent); `--runtime-dir R` splits the runtime part out.
import { readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.ts';
import type { EdgenetLogger } from '../util/logger.ts';

export const DEFAULT_STATE_DIR = '/var/lib/edgenet';
export const DEFAULT_RUNTIME_DIR = '/run/edgenet';
export const API_SOCKET = 'api.sock';

/**
 * The files of the persistent state dir (everything else edgenet writes is runtime state): state-dir.ts's
 * LAST_GOOD_CONFIG, ipam.ts's RESERVATIONS_FILE (each with its journal: journaled-file.ts) and instance-lock.ts's INSTANCE_ID_FILE, named here without importing those modules, so the CLI's
 * start-up (which resolves the socket path) loads no config schema (test/unit/daemon-service.test.ts checks both).
 */
export const PERSISTENT_FILES: readonly string[] = ['config.json', 'config.json.journal', 'reservations.json', 'reservations.json.journal', 'instance-id'];

export interface StateLayout {
  /** persistent: last good config, reservations */
  stateDir: string;
  /** runtime: API socket, dnsmasq's files; equal to stateDir when the layout is a single dir */
  runtimeDir: string;
  socketPath: string;
}

export interface LayoutOptions {
  stateDir?: string | undefined;
  runtimeDir?: string | undefined;
  socketPath?: string | undefined;
}

/** Both defaults when nothing is given; `stateDir` alone holds both parts; `runtimeDir` splits the runtime part out. */
export function resolveLayout(opts: LayoutOptions = {}): StateLayout {
  const stateDir = resolve(opts.stateDir ?? DEFAULT_STATE_DIR);
  const runtimeDir = resolve(opts.runtimeDir ?? (opts.stateDir !== undefined ? opts.stateDir : DEFAULT_RUNTIME_DIR));
  const socketPath = resolve(opts.socketPath ?? join(runtimeDir, API_SOCKET));
  return { stateDir, runtimeDir, socketPath };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * An old single state dir (edgenet ≤ 0.1 kept everything in /run/edgenet) is read once and migrated: the
 * persistent files found in the runtime dir move to the state dir, when the state dir does not have them yet (it
 * wins otherwise, and the runtime copy is left alone). Copied atomically, then removed from the runtime dir (the
 * two are usually on different filesystems). Returns the files moved; nothing to do in a single-dir layout.
 */
export async function migrateStateLayout(layout: StateLayout, log?: EdgenetLogger): Promise<string[]> {
  if (layout.stateDir === layout.runtimeDir) return [];
  const moved: string[] = [];
  for (const name of PERSISTENT_FILES) {
    const from = join(layout.runtimeDir, name);
    const to = join(layout.stateDir, name);
    if (!(await exists(from)) || (await exists(to))) continue;
    const text = await readFile(from, 'utf8');
    await writeFileAtomic(to, text, 0o600);
    await rm(from, { force: true });
    moved.push(name);
  }
  if (moved.length) log?.info({ from: layout.runtimeDir, to: layout.stateDir, files: moved }, `state migrated from the old single state dir ${layout.runtimeDir} to ${layout.stateDir}`);
  return moved;
}

