import { appendFile, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { changeRecord, partsRecord, JOURNAL_MAX_RECORDS, JournalCorruptError, JournaledFile, journalPath, readJournaled, rewriteJournaled } from '../../src/util/journaled-file.ts';
import { rng } from '../helpers/config-edits.ts';

describe('JournaledFile: a snapshot and the journal of what changed since', () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-journal-'));
    path = join(dir, 'state.json');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const lines = async (): Promise<string[]> => (await readFile(journalPath(path), 'utf8')).split('\n').filter(Boolean);

  it('partsRecord: the change between two lists of parts, found by the parts they share at each end', () => {
    const rnd = rng(23);
    const pool = Array.from({ length: 30 }, (_, k) => `{"item": ${k}, "é": "${'x'.repeat(k)}"}`);
    for (let round = 0; round < 2000; round++) {
      const from = Array.from({ length: Math.floor(rnd() * 12) }, () => pool[Math.floor(rnd() * pool.length)]!);
      const to = [...from];
      for (let e = Math.floor(rnd() * 3); e >= 0; e--) {
        const at = Math.floor(rnd() * (to.length + 1));
        const r = rnd();
        if (r < 0.4) to.splice(at, 0, pool[Math.floor(rnd() * pool.length)]!);
        else if (r < 0.7) to.splice(at, 1);
        // an equal part that is another string: compared by its text
        else if (r < 0.85 && at < to.length) to[at] = `${to[at]!.slice(0, 1)}${to[at]!.slice(1)}`;
        // a part changed inside (one part replaced by one: the line holds the change within it)
        else if (at < to.length) to[at] = `${to[at]!.slice(0, 3)}${rnd() < 0.5 ? 'ü' : ''}${to[at]!.slice(4)}`;
      }
      const before = from.join('');
      const after = to.join('');
      const record = partsRecord(from, to);
      if (record === undefined) {
        expect(after).toBe(before);
        continue;
      }
      const [at, del, ins] = JSON.parse(record) as [number, number, string];
      expect(before.slice(0, at) + ins + before.slice(at + del), `round ${round}`).toBe(after);
    }
  });

  it('writeParts: the parts that stayed make the journal line, the file reads back as their text, a whole text after parts and parts after one too', async () => {
    const item = (k: number): string => `    {"name": "app${k}", "note": "${'ü'.repeat(k % 5)}"}`;
    const partsOf = (items: string[]): string[] => ['{\n  "apps": [\n', ...items.flatMap((x, k) => (k === 0 ? [x] : [',\n', x])), '\n  ]\n}\n'];
    let items = Array.from({ length: 300 }, (_, k) => item(k));
    const f = await JournaledFile.open(path);
    await f.writeParts(partsOf(items));
    const rnd = rng(29);
    for (let round = 0; round < 60; round++) {
      items = [...items];
      const at = Math.floor(rnd() * items.length);
      if (rnd() < 0.5) items.splice(at, 0, item(1000 + round));
      else items.splice(at, 1);
      const text = partsOf(items).join('');
      // now and then a whole text (a full push), and parts again after it
      if (round % 17 === 5) await f.write(text);
      else await f.writeParts(partsOf(items));
      expect(f.text).toBe(text);
      expect(await readJournaled(path)).toBe(text);
    }
    const journal = await lines();
    expect(journal.length).toBeGreaterThan(30);
    // a +1 line holds the item and its separator, not the text around them
    expect(Math.max(...journal.slice(1).map((l) => l.length))).toBeLessThan(200);
    // the same parts again write nothing
    const before = journal.length;
    await f.writeParts(partsOf(items));
    expect(await lines()).toHaveLength(before);
    // one big part changed inside (an NI's reservations): the line holds that change, not the part
    const big = `    "lan": {${Array.from({ length: 400 }, (_, k) => `"a${k}": "10.0.${k >> 8}.${k & 255}"`).join(', ')}}`;
    await f.writeParts(['{\n', big, '\n}\n']);
    await f.writeParts(['{\n', big.replace('"a200": "10.0.0.200"', '"a200": "10.0.0.201"'), '\n}\n']);
    expect((await lines()).at(-1)!.length).toBeLessThan(40);
    expect(await readJournaled(path)).toBe(`{\n${big.replace('"a200": "10.0.0.200"', '"a200": "10.0.0.201"')}\n}\n`);
    await f.close();
    expect(await readFile(path, 'utf8')).toBe(`{\n${big.replace('"a200": "10.0.0.200"', '"a200": "10.0.0.201"')}\n}\n`);
  });

  it('the first write is a snapshot; a small change after it is one journal line; reading gives the last text', async () => {
    const f = await JournaledFile.open(path);
    expect(f.text).toBeUndefined();
    const big = `{\n  "apps": [\n${Array.from({ length: 200 }, (_, i) => `    {"name": "app${i}"}`).join(',\n')}\n  ]\n}\n`;
    await f.write(big);
    expect(await readFile(path, 'utf8')).toBe(big);
    expect(await lines()).toHaveLength(1);
    const next = big.replace('\n  ]', ',\n    {"name": "new"}\n  ]');
    await f.write(next);
    const journal = await lines();
    expect(journal).toHaveLength(2);
    expect(JSON.parse(journal[1]!)).toEqual([big.lastIndexOf('\n  ]'), 0, ',\n    {"name": "new"}']);
    // the snapshot is untouched; snapshot + journal is the new text
    expect(await readFile(path, 'utf8')).toBe(big);
    expect(await readJournaled(path)).toBe(next);
    // a change inside a surrogate pair reads back whole
    await f.write(`${next}😀\n`);
    await f.write(`${next}😁\n`);
    expect(await readJournaled(path)).toBe(`${next}😁\n`);
    await f.write(next);
    // an unchanged text writes nothing
    await f.write(next);
    expect(await lines()).toHaveLength(5);
    await f.close();
    // a clean close leaves the file whole, the journal empty
    expect(await readFile(path, 'utf8')).toBe(next);
    expect(await lines()).toHaveLength(1);
    const again = await JournaledFile.open(path);
    expect(again.text).toBe(next);
    await again.close();
    expect((await readdir(dir)).sort()).toEqual(['state.json', 'state.json.journal']);
  });

  it('random edits (insertions, deletions, replacements, unicode) read back exactly, through compactions', async () => {
    const next01 = rng(7);
    const rand = (n: number): number => Math.floor(next01() * n);
    const f = await JournaledFile.open(path);
    let text = 'x'.repeat(9000);
    const alphabet = ['a', 'b', '\n', '"', '\\', 'é', '😀', '\u0000', ' '];
    const piece = (): string => Array.from({ length: rand(30) }, () => alphabet[rand(alphabet.length)]!).join('');
    for (let step = 0; step < 400; step++) {
      // (a config's text never holds half of a surrogate pair: JSON.stringify escapes lone ones)
      let at = rand(text.length + 1);
      if (at > 0 && at < text.length && /[\udc00-\udfff]/.test(text[at]!)) at--;
      let del = rand(Math.min(40, text.length - at) + 1);
      if (at + del < text.length && /[\udc00-\udfff]/.test(text[at + del]!)) del++;
      text = text.slice(0, at) + piece() + text.slice(at + del);
      if (step % 97 === 0) text = piece() + text.slice(text.length - 500);
      await f.write(text);
      if (step % 23 === 0) expect(await readJournaled(path), `step ${step}`).toBe(text);
    }
    await f.close();
    expect(await readJournaled(path)).toBe(text);
    // at most JOURNAL_MAX_RECORDS lines after the header
    expect((await lines()).length).toBeLessThanOrEqual(JOURNAL_MAX_RECORDS + 1);
  });

  it('close() after the files were removed (a teardown, a cleanup) brings nothing back', async () => {
    const f = await JournaledFile.open(path);
    await f.write('one\n');
    await f.write('two\n');
    await rm(dir, { recursive: true, force: true });
    await f.close();
    await expect(readdir(dir)).rejects.toThrow(/ENOENT/);
  });

  it('changeRecord: the smallest span between a common prefix and a common suffix', () => {
    expect(changeRecord('abcdef', 'abXdef')).toBe(`${JSON.stringify([2, 1, 'X'])}\n`);
    expect(changeRecord('aaaa', 'aaaaa')).toBe(`${JSON.stringify([4, 0, 'a'])}\n`);
    expect(changeRecord('abc', '')).toBe(`${JSON.stringify([0, 3, ''])}\n`);
    // a change inside a surrogate pair: the line holds half of it, escaped, and the replay makes it whole again
    expect(changeRecord('x😀y', 'x😁y')).toBe(`${JSON.stringify([2, 1, '\ude01'])}\n`);
    const long = 'y'.repeat(20_000);
    expect(changeRecord(`${long}1${long}`, `${long}22${long}`)).toBe(`${JSON.stringify([20_000, 1, '22'])}\n`);
  });

  it('a crash in the middle of an append (a line cut short) loses that write alone; the next write starts a new snapshot', async () => {
    const f = await JournaledFile.open(path);
    await f.write('one two three\n');
    await f.write('one 2 three\n');
    await f.close();
    const full = (await readFile(journalPath(path), 'utf8')).length;
    await appendFile(journalPath(path), '[4,1,"TW');
    expect(await readJournaled(path)).toBe('one 2 three\n');
    const g = await JournaledFile.open(path);
    expect(g.text).toBe('one 2 three\n');
    await g.write('one 2 3\n');
    await g.close();
    expect(await readFile(path, 'utf8')).toBe('one 2 3\n');
    expect(await lines()).toHaveLength(1);
    // a complete last line that is not a record is the same crash (its bytes reached the disk, not its end)
    await truncate(journalPath(path), 0);
    await rewriteJournaled(path, 'a\n');
    await appendFile(journalPath(path), `${JSON.stringify([0, 1, 'b'])}\n[0,5`);
    expect(await readJournaled(path)).toBe('b\n');
    expect(full).toBeGreaterThan(0);
  });

  it('a bad line before the last is corruption: an error naming the journal and the line, never a guess', async () => {
    await rewriteJournaled(path, 'abc\n');
    await appendFile(journalPath(path), `${JSON.stringify([9, 1, 'x'])}\n${JSON.stringify([0, 1, 'y'])}\n`);
    const err = await readJournaled(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(JournalCorruptError);
    expect((err as Error).message).toContain(journalPath(path));
    expect((err as Error).message).toContain('line 2: offsets 9+1 outside a text of 4');
    await expect(JournaledFile.open(path)).rejects.toThrow(JournalCorruptError);
  });

  it('a journal that does not continue the snapshot is not read (a crash between snapshot and journal, or the file replaced by hand)', async () => {
    const f = await JournaledFile.open(path);
    await f.write('first\n');
    await f.write('second\n');
    await f.close();
    expect(await readJournaled(path)).toBe('second\n');
    // someone edits the file itself: their text wins, the journal is set aside
    await writeFile(path, 'by hand\n');
    expect(await readJournaled(path)).toBe('by hand\n');
    const g = await JournaledFile.open(path);
    expect(g.text).toBe('by hand\n');
    await g.write('by hand, then a push\n');
    await g.close();
    expect(await readJournaled(path)).toBe('by hand, then a push\n');
    // no snapshot: nothing, whatever a journal says
    await rm(path);
    expect(await readJournaled(path)).toBeUndefined();
  });

  it('A → B → A: a compaction back to the snapshot\'s own bytes does not let the old journal replay onto it', async () => {
    const f = await JournaledFile.open(path);
    await f.write('A\n');
    await f.write('B\n');
    // the snapshot is A's bytes, the journal turns it into B: compacting to A must only reset the journal
    await f.compact('A\n');
    await f.close();
    expect(await readJournaled(path)).toBe('A\n');
    expect(await lines()).toHaveLength(1);
  });

  it('a stale journal naming the bytes of a new snapshot is reset before that snapshot is written', async () => {
    // the journal continues snapshot A; a crash came after snapshot C was written, before C's journal
    const f = await JournaledFile.open(path);
    await f.write('A\n');
    await f.write('A then B\n');
    const staleJournal = await readFile(journalPath(path), 'utf8');
    await f.close();
    await rewriteJournaled(path, 'C\n');
    await writeFile(journalPath(path), staleJournal);
    expect(await readJournaled(path)).toBe('C\n');
    // the next write is A's bytes again: were the stale journal left, a crash after the snapshot would replay it
    const g = await JournaledFile.open(path);
    let seenWhileSnapshotIsA: string | undefined;
    const realCompact = (g as unknown as { compactNow: (t: string) => Promise<void> }).compactNow.bind(g);
    await g.write('A\n');
    seenWhileSnapshotIsA = await readJournaled(path);
    await g.close();
    expect(seenWhileSnapshotIsA).toBe('A\n');
    expect(realCompact).toBeTypeOf('function');
    expect(JSON.parse((await lines())[0]!)).toMatchObject({ journal: 1 });
  });
});
