// One instance per network namespace: an abstract unix socket named after the namespace's inode; the second taker
// is refused with the holder's pid and state dir; the lock goes with its holder; the instance id persists.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireInstanceLock, askHolder, instanceIdOf, InstanceLockError, lockName, type InstanceLock } from '../../src/reconcile/instance-lock.ts';
import { netnsInode } from '../../src/reconcile/netns-record.ts';

const dirs: string[] = [];
const tmp = async (): Promise<string> => {
  const d = await mkdtemp(join(tmpdir(), 'edgenet-lock-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('instance lock', () => {
  it('refuses a second instance in the same namespace, naming the holder; free again once released', async () => {
    const a = await tmp();
    const b = await tmp();
    const first = await acquireInstanceLock({ stateDir: a, runtimeDir: a });
    let second: InstanceLock | undefined;
    try {
      expect(first.inode).toBe(netnsInode());
      const err = await acquireInstanceLock({ stateDir: b, runtimeDir: b }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InstanceLockError);
      expect((err as InstanceLockError).holder).toEqual({ pid: process.pid, stateDir: a, runtimeDir: a, instanceId: first.instanceId });
      expect(String(err)).toContain(`another edgenet instance runs in this network namespace (inode ${netnsInode()}): pid ${process.pid}, state dir ${a}`);
      // the refused one wrote nothing: no instance id in its state dir
      await expect(stat(join(b, 'instance-id'))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await first.release();
    }
    await first.release(); // twice is fine
    second = await acquireInstanceLock({ stateDir: b, runtimeDir: b });
    await second.release();
  });

  it('waits for a holder of the same runtime dir when asked (a daemon stopping after its teardown)', async () => {
    const a = await tmp();
    const first = await acquireInstanceLock({ stateDir: a, runtimeDir: a });
    setTimeout(() => void first.release(), 300);
    const t0 = Date.now();
    const again = await acquireInstanceLock({ stateDir: a, runtimeDir: a, waitForSameMs: 5000 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    await again.release();
  });

  it('answers who holds it on its abstract socket, and nothing answers once released', async () => {
    const a = await tmp();
    const lock = await acquireInstanceLock({ stateDir: a, runtimeDir: join(a, 'run') });
    expect(await askHolder(lockName(lock.inode))).toMatchObject({ pid: process.pid, stateDir: a, runtimeDir: join(a, 'run') });
    await lock.release();
    expect(await askHolder(lockName(lock.inode))).toBe('gone');
  });

  it('keeps the instance id in the state dir (0600) across locks; a corrupt one is replaced', async () => {
    const a = await tmp();
    const one = await acquireInstanceLock({ stateDir: a, runtimeDir: a });
    await one.release();
    const two = await acquireInstanceLock({ stateDir: a, runtimeDir: a });
    await two.release();
    expect(one.instanceId).toMatch(/^[0-9a-f]{8}$/);
    expect(two.instanceId).toBe(one.instanceId);
    expect((await readFile(join(a, 'instance-id'), 'utf8')).trim()).toBe(one.instanceId);
    expect((await stat(join(a, 'instance-id'))).mode & 0o777).toBe(0o600);
    const c = await tmp();
    expect(await instanceIdOf(c, { create: false })).toBeUndefined();
    const made = await instanceIdOf(c);
    expect(await instanceIdOf(c, { create: false })).toBe(made);
  });
});
