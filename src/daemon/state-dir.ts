import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { JournalCorruptError, JournaledFile, journalPath, readJournaled } from '../util/journaled-file.ts';
import type { ConfigLimits } from '../config/config-limits.ts';
import { validateConfig } from '../config/config-load.ts';
import type { Config } from '../config/config-schema.ts';
import { ConfigError } from '../errors.ts';

// The state dir holds what must survive a restart: the last good config (a snapshot and the journal of what pushes
// changed since: util/journaled-file.ts), IPAM, dnsmasq files.

export const LAST_GOOD_CONFIG = 'config.json';
/** the last good config's journal, beside it */
export const LAST_GOOD_CONFIG_JOURNAL = journalPath(LAST_GOOD_CONFIG);

/**
 * The last good config's text, as the file holds it (with its final newline): what is compared to skip an unchanged
 * write. The same string is written (a copy with the newline put after it would be a second 2 MB string per push at
 * 10 000 apps: the journal flattens the one it is given, and the push cache slices the one it keeps).
 */
export function lastGoodText(config: Config): string {
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** The last good config's file, for one writer (its journal kept open between writes: close() it). */
export function openLastGoodConfig(stateDir: string): Promise<JournaledFile> {
  return JournaledFile.open(join(stateDir, LAST_GOOD_CONFIG), 0o600);
}

/** The last good config's text as written last (snapshot and journal), or undefined when there is none. */
export async function readLastGoodConfigText(stateDir: string): Promise<string | undefined> {
  const path = join(stateDir, LAST_GOOD_CONFIG);
  try {
    return await readJournaled(path);
  } catch (err) {
    if (err instanceof JournalCorruptError) throw new ConfigError([{ path: '', message: `last good config's ${err.message}` }], path);
    throw err;
  }
}

/** The last good config, or undefined when there is none. A corrupt file is an error naming the file. */
export async function readLastGoodConfig(stateDir: string, limits?: Partial<ConfigLimits>): Promise<Config | undefined> {
  const path = join(stateDir, LAST_GOOD_CONFIG);
  const text = await readLastGoodConfigText(stateDir);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([{ path: '', message: `last good config is corrupt (${(err as Error).message}); fix or remove it` }], path);
  }
  return validateConfig(parsed, path, limits ? { limits } : {});
}

/** After a teardown: everything of the state dir but the last good config and its journal (and a live daemon's socket). */
export async function removeRuntimeState(stateDir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(stateDir);
  } catch {
    return;
  }
  for (const name of entries) {
    if (name === LAST_GOOD_CONFIG || name === LAST_GOOD_CONFIG_JOURNAL || name === 'api.sock') continue;
    await rm(join(stateDir, name), { recursive: true, force: true });
  }
}
