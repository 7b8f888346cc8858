// `edgenet down` in another network namespace refuses: the runtime dir records the namespace it belongs to.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { assertSameNetns, netnsInode, recordNetns } from '../../src/reconcile/netns-record.ts';

it('a runtime dir recorded in this namespace passes; one recorded in another is refused, naming both', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgenet-netns-'));
  try {
    await assertSameNetns(dir); // nothing recorded: nothing to compare
    await recordNetns(dir);
    await assertSameNetns(dir);
    await writeFile(join(dir, 'netns'), `${netnsInode() + 1}\n`);
    await expect(assertSameNetns(dir)).rejects.toThrow(new RegExp(`network namespace inode ${netnsInode() + 1}, not this one \\(${netnsInode()}\\): refusing`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
