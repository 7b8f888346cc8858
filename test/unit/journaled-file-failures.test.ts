import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// writeFileAtomic as the real one, except that a write may be told to fail after its rename (an EIO at the
// directory's fsync: the new bytes are in place, the caller hears an error)
const failAfterRename = vi.hoisted(() => ({ path: undefined as string | undefined }));
vi.mock('../../src/util/atomic-file.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/util/atomic-file.ts')>();
  return {
    ...real,
    writeFileAtomic: async (...args: Parameters<typeof real.writeFileAtomic>) => {
      await real.writeFileAtomic(...args);
      if (args[0] === failAfterRename.path) {
        failAfterRename.path = undefined;
        throw Object.assign(new Error(`EIO: fsync of the directory of ${args[0]}`), { code: 'EIO' });
      }
    },
  };
});

const { JournaledFile, readJournaled } = await import('../../src/util/journaled-file.ts');

describe('JournaledFile when a write fails', () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-journal-fail-'));
    path = join(dir, 'state.json');
  });
  afterEach(async () => {
    failAfterRename.path = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('a snapshot that failed after its rename is not taken for the old one: the next write of the old bytes lands', async () => {
    const f = await JournaledFile.open(path);
    await f.write('A\n');
    await f.write('A and a change\n');
    failAfterRename.path = path;
    await expect(f.compact('B\n')).rejects.toThrow(/EIO/);
    // on disk now: snapshot B (the rename happened), the old journal naming A (not read)
    expect(await readJournaled(path)).toBe('B\n');
    await f.write('A\n');
    expect(await readJournaled(path)).toBe('A\n');
    await f.close();
    expect(await readJournaled(path)).toBe('A\n');
  });

  it('close() waits for the writes asked for before it and refuses those after it (no handle reopened)', async () => {
    const f = await JournaledFile.open(path);
    await f.write('one\n');
    const during = f.write('one two\n');
    const closing = f.close();
    await expect(f.write('one two three\n')).rejects.toThrow(/after close/);
    await during;
    await closing;
    // the write asked for before close() is what stays, folded into the snapshot
    expect(await readJournaled(path)).toBe('one two\n');
    await expect(f.compact('x\n')).rejects.toThrow(/after close/);
    await f.close();
    expect((f as unknown as { fh: unknown }).fh).toBeUndefined();
  });
});
