import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';

/** statfs(2) f_type of tmpfs (linux/magic.h) */
const TMPFS_MAGIC = 0x01021994;
/** directories made (or found) by writeFileAtomic */
const madeDirs = new Set<string>();
/** per directory: is it on tmpfs (asked once) */
const volatileDirs = new Map<string, Promise<boolean>>();

/** Is `dir` on tmpfs (runtime state: gone at reboot anyway, so an fsync buys nothing)? */
export function onTmpfs(dir: string): Promise<boolean> {
  let known = volatileDirs.get(dir);
  if (!known) {
    known = statfs(dir).then(
      (s) => s.type === TMPFS_MAGIC,
      () => false,
    );
    volatileDirs.set(dir, known);
  }
  return known;
}

/**
 * Writes a file so that a crash leaves the old content or the new, never half of either: a temp file beside it
 * (a unique name: concurrent writers never share one), fsync, rename over the target, fsync of the directory.
 * On tmpfs the rename alone is atomic and there is no disk to sync: no fsync. `durable: false` skips the fsyncs
 * anywhere: for runtime state that means nothing after a reboot (dnsmasq's files, rendered again from the config
 * at start) — a crash of edgenet still leaves the old content or the new (the page cache outlives the process).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644, opts: { durable?: boolean } = {}): Promise<void> {
  const dir = dirname(path);
  // the directory is made once (a push writes a few files: no mkdir each time); gone since, it is made again
  if (!madeDirs.has(dir)) {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    madeDirs.add(dir);
  }
  const durable = opts.durable !== false && !(await onTmpfs(dir));
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'w', mode).catch(async (err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dir, { recursive: true, mode: 0o755 });
    return open(tmp, 'w', mode);
  });
  try {
    try {
      await fh.writeFile(data);
      await fh.chmod(mode); // the umask must not narrow it (dnsmasq reads some of these files as nobody)
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    // a full disk, an EIO: the temp file does not stay behind
    await rm(tmp, { force: true });
    throw e;
  }
  if (!durable) return;
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
