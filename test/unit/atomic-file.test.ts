// Atomic writes: content replaced whole; no fsync on tmpfs or for runtime state (`durable: false`).
import { mkdtemp, readFile, readdir, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { onTmpfs, writeFileAtomic } from '../../src/util/atomic-file.ts';

describe('writeFileAtomic', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('replaces the content whole, leaves no temp file, sets the mode; durable or not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgenet-atomic-'));
    dirs.push(dir);
    const path = join(dir, 'f');
    await writeFileAtomic(path, 'one\n', 0o600);
    await writeFileAtomic(path, 'two\n', 0o640, { durable: false });
    expect(await readFile(path, 'utf8')).toBe('two\n');
    expect(await readdir(dir)).toEqual(['f']);
  });

  it('a write that fails leaves the old content and no temp file behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgenet-atomic-'));
    dirs.push(dir);
    const path = join(dir, 'f');
    await writeFileAtomic(path, 'one\n');
    // data the file handle refuses: the write throws after the temp file was opened
    await expect(writeFileAtomic(path, 42 as unknown as string)).rejects.toThrow();
    // a rename refused (the target a directory with something in it)
    const target = join(dir, 'd');
    await writeFileAtomic(join(target, 'x'), 'x\n');
    await expect(writeFileAtomic(target, 'two\n')).rejects.toThrow();
    expect(await readFile(path, 'utf8')).toBe('one\n');
    expect((await readdir(dir)).sort()).toEqual(['d', 'f']);
  });

  it('makes the directory, and makes it again when it was removed since', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgenet-atomic-'));
    dirs.push(dir);
    const path = join(dir, 'sub', 'deeper', 'f');
    await writeFileAtomic(path, 'one\n');
    await rm(join(dir, 'sub'), { recursive: true });
    await writeFileAtomic(path, 'two\n');
    expect(await readFile(path, 'utf8')).toBe('two\n');
  });

  it('knows tmpfs from statfs (a disk is durable, /dev/shm is not)', async () => {
    const here = (await statfs(tmpdir())).type === 0x01021994;
    expect(await onTmpfs(tmpdir())).toBe(here);
    const shm = await statfs('/dev/shm').then((s) => s.type === 0x01021994, () => undefined);
    if (shm !== undefined) expect(await onTmpfs('/dev/shm')).toBe(shm);
    expect(await onTmpfs('/nonexistent-edgenet-dir')).toBe(false);
  });
});
