import { readdir, readFile, rm } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { join } from 'node:path';
import type { ConfigLimits } from '../config/config-limits.ts';
import { validateConfig } from '../config/config-load.ts';
import type { Config } from '../config/config-schema.ts';
import { ConfigError } from '../errors.ts';

// The state dir holds what must survive a restart: the last good config (written atomically), IPAM, dnsmasq files.

export const LAST_GOOD_CONFIG = 'config.json';


export async function writeLastGoodConfig(stateDir: string, config: Config): Promise<void> {
  await writeLastGoodConfigText(stateDir, lastGoodText(config));
}

/** The last good config's text (without the final newline): what is compared to skip an unchanged write. */
export function lastGoodText(config: Config): string {
  return JSON.stringify(config, null, 2);
}

/** `text`: lastGoodText() of the config, or the same text made another way (push-cache.ts). */
export async function writeLastGoodConfigText(stateDir: string, text: string): Promise<void> {
  await writeFileAtomic(join(stateDir, LAST_GOOD_CONFIG), `${text}\n`, 0o600);
}

/** The last good config, or undefined when there is none. A corrupt file is an error naming the file. */
export async function readLastGoodConfig(stateDir: string, limits?: Partial<ConfigLimits>): Promise<Config | undefined> {
  const path = join(stateDir, LAST_GOOD_CONFIG);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([{ path: '', message: `last good config is corrupt (${(err as Error).message}); fix or remove it` }], path);
  }
  return validateConfig(parsed, path, limits ? { limits } : {});
}

/** After a teardown: everything of the state dir but the last good config (and a live daemon's socket). */
export async function removeRuntimeState(stateDir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(stateDir);
  } catch {
    return;
  }
  for (const name of entries) {
    if (name === LAST_GOOD_CONFIG || name === 'api.sock') continue;
    await rm(join(stateDir, name), { recursive: true, force: true });
  }
}
