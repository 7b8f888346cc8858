import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { JournaledFile, readJournaled } from '../../src/util/journaled-file.ts';
import { Ipam, RESERVATIONS_FILE } from '../../src/services/ipam.ts';

// every write of the reservations file (a journal line or a snapshot), counted; the real write still happens
const writes = { n: 0, fail: 0 };
const realWriteParts = JournaledFile.prototype.writeParts;
vi.spyOn(JournaledFile.prototype, 'writeParts').mockImplementation(async function (this: JournaledFile, parts: readonly string[]) {
  writes.n++;
  if (writes.fail > 0) {
    writes.fail--;
    throw new Error('disk full');
  }
  return realWriteParts.call(this, parts);
});

const range = { start: '10.50.0.100', end: '10.50.0.200' };

describe('Ipam.save: saves asked for during a write share one write after it', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-ipam-save-'));
    writes.n = 0;
    writes.fail = 0;
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const onDisk = async (): Promise<Record<string, { released: boolean }>> =>
    (JSON.parse((await readJournaled(join(dir, RESERVATIONS_FILE))) ?? '{}') as { networks: Record<string, Record<string, { released: boolean }>> }).networks['lan'] ?? {};

  it('N releases saved at once: 2 writes, and each save resolves with its own change on disk', async () => {
    const ipam = await Ipam.open(dir);
    const keys = Array.from({ length: 50 }, (_, i) => `a${i}/lan`);
    for (const k of keys) ipam.reserve('lan', k, { range, taken: [] });
    await ipam.save();
    expect(writes.n).toBe(1);
    const done = keys.map(async (k) => {
      ipam.release('lan', k);
      await ipam.save();
      // what this save promised is on disk when it resolves
      expect((await onDisk())[k]?.released).toBe(true);
    });
    await Promise.all(done);
    expect(writes.n).toBe(3);
    expect(Object.values(await onDisk()).every((e) => e.released)).toBe(true);
    // nothing changed since: no write
    await ipam.save();
    expect(writes.n).toBe(3);
  });

  it('a failed write: its caller gets the error, and what it held is written by the next save', async () => {
    const ipam = await Ipam.open(dir);
    ipam.reserve('lan', 'a/lan', { range, taken: [] });
    writes.fail = 1;
    const first = ipam.save();
    ipam.reserve('lan', 'b/lan', { range, taken: [] });
    const second = ipam.save();
    await expect(first).rejects.toThrow('disk full');
    await second;
    expect(Object.keys(await onDisk()).sort()).toEqual(['a/lan', 'b/lan']);
    expect(writes.n).toBe(2);
  });
});

describe('Ipam text: made of per-NI texts, only changed NIs serialised again', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-ipam-text-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is JSON.stringify of the whole document after every change (random reserve/release/forget), and what save writes', async () => {
    const ipam = await Ipam.open(dir);
    let seed = 3;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const nis = ['lan', 'dmz', '10', 'iot'];
    ipam.reserve('lan', 'first/lan', { range, taken: [] });
    for (let step = 0; step < 400; step++) {
      const ni = nis[rand(nis.length)]!;
      const key = `app${rand(40)}/${ni}`;
      const op = rand(10);
      if (op < 6) ipam.reserve(ni, key, { range, taken: [], ...(op === 0 && { static: `10.50.0.${100 + rand(50)}` }) });
      else if (op < 9) ipam.release(ni, key);
      else ipam.forgetNetwork(ni);
      // what the old save wrote: the whole document, serialised at once
      const whole = JSON.stringify((ipam as unknown as { doc: unknown }).doc, null, 2);
      expect(ipam.text(), `step ${step}`).toBe(whole);
      if (step % 20 === 0) {
        await ipam.save();
        expect(await readJournaled(join(dir, RESERVATIONS_FILE)), `step ${step}`).toBe(`${whole}\n`);
      }
    }
  });
});
