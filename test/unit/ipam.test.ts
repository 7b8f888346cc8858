import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Ipam, IpamError, RESERVATIONS_FILE } from '../../src/services/ipam.ts';
import { journalPath, readJournaled } from '../../src/util/journaled-file.ts';

const range = { start: '10.50.0.100', end: '10.50.0.104' };
const gw = '10.50.0.1';

describe('Ipam', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-ipam-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives the static address when set, else the lowest free address of the range', async () => {
    const ipam = await Ipam.open(dir);
    expect(ipam.reserve('lan', 'web/lan', { range, static: '10.50.0.10', taken: [gw] })).toBe('10.50.0.10');
    expect(ipam.reserve('lan', 'db/lan', { range, taken: [gw, '10.50.0.100'] })).toBe('10.50.0.101');
    expect(ipam.reserve('lan', 'cache/lan', { range, taken: [gw, '10.50.0.100'] })).toBe('10.50.0.102');
    expect(ipam.get('lan', 'db/lan')).toBe('10.50.0.101');
    expect(ipam.reservations('lan')).toEqual({ 'web/lan': '10.50.0.10', 'db/lan': '10.50.0.101', 'cache/lan': '10.50.0.102' });
  });

  it('is stable: the same key gets the same address again, across save and reopen', async () => {
    const ipam = await Ipam.open(dir);
    const a = ipam.reserve('lan', 'a/lan', { range, taken: [gw] });
    const b = ipam.reserve('lan', 'b/lan', { range, taken: [gw] });
    expect(ipam.reserve('lan', 'a/lan', { range, taken: [gw] })).toBe(a);
    await ipam.save();
    const again = await Ipam.open(dir);
    expect(again.get('lan', 'a/lan')).toBe(a);
    expect(again.reserve('lan', 'b/lan', { range, taken: [gw] })).toBe(b);
    // NIs are independent
    expect(again.reserve('other', 'a/other', { range, taken: [gw] })).toBe('10.50.0.100');
  });

  it('a released key gets its address back when it returns, and others avoid it while there is room', async () => {
    const ipam = await Ipam.open(dir);
    expect(ipam.reserve('lan', 'a/lan', { range, taken: [] })).toBe('10.50.0.100');
    expect(ipam.reserve('lan', 'b/lan', { range, taken: [] })).toBe('10.50.0.101');
    ipam.release('lan', 'a/lan');
    expect(ipam.get('lan', 'a/lan')).toBeUndefined();
    // c does not take a's old address while the range has others
    expect(ipam.reserve('lan', 'c/lan', { range, taken: [] })).toBe('10.50.0.102');
    await ipam.save();
    const reopened = await Ipam.open(dir);
    expect(reopened.reserve('lan', 'a/lan', { range, taken: [] })).toBe('10.50.0.100');
  });

  it('reuses hinted addresses only when the range has nothing else, and then the hint is gone', async () => {
    const ipam = await Ipam.open(dir);
    const keys = ['a', 'b', 'c', 'd', 'e'].map((k) => `${k}/lan`);
    for (const k of keys) ipam.reserve('lan', k, { range, taken: [] });
    ipam.release('lan', 'a/lan');
    ipam.release('lan', 'b/lan');
    expect(ipam.reserve('lan', 'f/lan', { range, taken: [] })).toBe('10.50.0.100');
    expect(ipam.reserve('lan', 'g/lan', { range, taken: [] })).toBe('10.50.0.101');
    expect(() => ipam.reserve('lan', 'h/lan', { range, taken: [] })).toThrow(/no free address in 10\.50\.0\.100-10\.50\.0\.104 for h\/lan/);
    // a's hint went to f: a returns to whatever is free (nothing here)
    expect(() => ipam.reserve('lan', 'a/lan', { range, taken: [] })).toThrow(IpamError);
  });

  it('moves a reservation that became taken or fell out of the range', async () => {
    const ipam = await Ipam.open(dir);
    expect(ipam.reserve('lan', 'a/lan', { range, taken: [] })).toBe('10.50.0.100');
    // another app got 10.50.0.100 as its static address
    expect(ipam.reserve('lan', 'a/lan', { range, taken: ['10.50.0.100'] })).toBe('10.50.0.101');
    // the range moved
    expect(ipam.reserve('lan', 'a/lan', { range: { start: '10.50.0.200', end: '10.50.0.201' }, taken: [] })).toBe('10.50.0.200');
    // static set, then removed again: back to the range
    expect(ipam.reserve('lan', 'a/lan', { range, static: '10.50.0.9', taken: [] })).toBe('10.50.0.9');
    expect(ipam.reserve('lan', 'a/lan', { range, taken: [] })).toBe('10.50.0.100');
  });

  it('a static address wins over another key holding it; that key moves on its next reserve', async () => {
    const ipam = await Ipam.open(dir);
    expect(ipam.reserve('lan', 'a/lan', { range, taken: [] })).toBe('10.50.0.100');
    expect(ipam.reserve('lan', 'b/lan', { range, static: '10.50.0.100', taken: [] })).toBe('10.50.0.100');
    expect(ipam.get('lan', 'a/lan')).toBeUndefined();
    expect(ipam.reserve('lan', 'a/lan', { range, taken: ['10.50.0.100'] })).toBe('10.50.0.101');
    await ipam.save();
    await expect(Ipam.open(dir)).resolves.toBeInstanceOf(Ipam);
  });

  it('release and forget are idempotent; save writes only when something changed', async () => {
    const ipam = await Ipam.open(dir);
    ipam.release('lan', 'nobody/lan');
    ipam.forgetNetwork('nothing');
    await ipam.save();
    expect(await readdir(dir)).toEqual([]);
    ipam.reserve('lan', 'a/lan', { range, taken: [] });
    await ipam.save();
    expect((await readdir(dir)).sort()).toEqual([RESERVATIONS_FILE, journalPath(RESERVATIONS_FILE)]);
    ipam.forgetNetwork('lan');
    await ipam.save();
    expect(JSON.parse((await readJournaled(join(dir, RESERVATIONS_FILE))) ?? '')).toEqual({ version: 1, networks: {} });
    await ipam.close();
  });

  /** a/lan and b/lan reserved, each saved on its own, then closed */
  const twoSavesClosed = async (): Promise<void> => {
    const ipam = await Ipam.open(dir);
    ipam.reserve('lan', 'a/lan', { range, taken: [] });
    await ipam.save();
    ipam.reserve('lan', 'b/lan', { range, taken: [] });
    await ipam.save();
    await ipam.close();
  };

  it('leaves no temp files behind and writes readable JSON', async () => {
    await twoSavesClosed();
    expect((await readdir(dir)).sort()).toEqual([RESERVATIONS_FILE, journalPath(RESERVATIONS_FILE)]);
    // closed: the journal is folded into the file, which reads alone
    const doc = JSON.parse(await readFile(join(dir, RESERVATIONS_FILE), 'utf8'));
    expect(doc.networks.lan['b/lan']).toEqual({ ip: '10.50.0.101', static: false, released: false });
  });

  it.each([
    ['not JSON', '{"version": 1, "networks": {', /not JSON|JSON|Unexpected|Expected/],
    ['wrong version', '{"version": 7, "networks": {}}', /unknown version 7/],
    ['bad address', '{"version": 1, "networks": {"lan": {"a/lan": {"ip": "10.0.0.300", "static": false, "released": false}}}}', /networks\.lan\["a\/lan"\]\.ip is not an IPv4 address/],
    [
      'one address twice',
      '{"version": 1, "networks": {"lan": {"a/lan": {"ip": "10.0.0.3", "static": false, "released": false}, "b/lan": {"ip": "10.0.0.3", "static": false, "released": false}}}}',
      /10\.0\.0\.3 is reserved for both "a\/lan" and "b\/lan"/,
    ],
  ])('a corrupt file (%s) is an error naming the file', async (_what, text, why) => {
    const path = join(dir, RESERVATIONS_FILE);
    await writeFile(path, text);
    const err = await Ipam.open(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(IpamError);
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toMatch(why);
  });

  it('a journal that cannot be read back is an error naming it; a reopened Ipam has the last save', async () => {
    await twoSavesClosed();
    const again = await Ipam.open(dir);
    expect(again.reservations('lan')).toEqual({ 'a/lan': '10.50.0.100', 'b/lan': '10.50.0.101' });
    await again.close();
    await appendFile(join(dir, journalPath(RESERVATIONS_FILE)), '[1,1\n[0,0,""]\n');
    const err = await Ipam.open(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(IpamError);
    expect((err as Error).message).toContain(join(dir, journalPath(RESERVATIONS_FILE)));
    expect((err as Error).message).toMatch(/line \d+/);
  });

  it('rejects bad addresses with a clear error', async () => {
    const ipam = await Ipam.open(dir);
    expect(() => ipam.reserve('lan', 'a/lan', { range: { start: 'x', end: '10.0.0.1' }, taken: [] })).toThrow(/lan range start: not an IPv4 address: "x"/);
    expect(() => ipam.reserve('lan', 'a/lan', { range: { start: '10.0.0.9', end: '10.0.0.1' }, taken: [] })).toThrow(/is empty/);
    expect(() => ipam.reserve('lan', 'a/lan', { range, static: '1.2.3', taken: [] })).toThrow(/a\/lan static address/);
  });
});
