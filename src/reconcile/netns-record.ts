import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.ts';

// The network namespace an instance runs in, recorded in its runtime dir at start: `edgenet down` run elsewhere
// (another namespace, where the pid files and marks mean nothing) refuses and changes nothing.

export const NETNS_RECORD = 'netns';

/** Inode of this process's network namespace. */
export function netnsInode(): number {
  return statSync('/proc/self/ns/net').ino;
}

export async function recordNetns(runtimeDir: string): Promise<void> {
  await writeFileAtomic(join(runtimeDir, NETNS_RECORD), `${netnsInode()}\n`, 0o600);
}

/** Throws when the runtime dir was recorded by an instance in another network namespace. */
export async function assertSameNetns(runtimeDir: string): Promise<void> {
  const text = await readFile(join(runtimeDir, NETNS_RECORD), 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const recorded = Number(text.trim());
  const here = netnsInode();
  if (recorded !== here) {
    throw new Error(
      `${join(runtimeDir, NETNS_RECORD)}: this state belongs to network namespace inode ${recorded}, not this one (${here}): refusing to tear down (run edgenet down in that namespace, e.g. with nsenter --net=...)`,
    );
  }
}
