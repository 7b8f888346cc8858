import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readFile, rm, stat, type FileHandle } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-file.ts';
import { commonPrefix, commonSuffix } from './common-affix.ts';

// A text file that must survive a crash (the last good config, the IP reservations), written as what changed: a
// snapshot `<path>` (the whole text, written atomically as before) and beside it `<path>.journal`, the changes
// since that snapshot, one line each, appended with O_DSYNC. A +1 app changes a few hundred bytes of a text that
// is ~200 KB at 1000 apps: one small synchronous append (one trip through libuv's pool, ~0.2 ms alone) instead of
// temp file, write, fsync, rename and a directory fsync (~1.1 ms alone, 5–13 ms beside a push's other writes).
//
// The journal's first line names the snapshot it continues: {"journal":1,"base":"<sha256 of the snapshot's bytes>"}.
// Each further line is [at, deleted, "inserted"]: the text becomes text.slice(0, at) + inserted +
// text.slice(at + deleted) (UTF-16 offsets). Reading replays the lines on the snapshot. A journal whose base is not
// the snapshot is not read: a crash came between a compaction's snapshot and its new journal (the snapshot holds
// everything then), or someone replaced the file. The last line, if it is incomplete or not a record, is a crash in
// the middle of its append: not read (that write had not returned). Compaction (a change too big for a line, or a
// journal grown past its bounds) writes a new snapshot, then a new journal atomically; a snapshot that would be the
// same bytes is not written again (its old journal would otherwise replay onto it).

const JOURNAL_VERSION = 1;
/** lines a journal holds before the next write compacts it (reading replays each on the whole text) */
export const JOURNAL_MAX_RECORDS = 128;
/** bytes a journal may hold: this much, or a quarter of the text when that is more */
const JOURNAL_MIN_BYTES = 64 * 1024;

export class JournalCorruptError extends Error {
  constructor(
    readonly path: string,
    why: string,
  ) {
    super(`${path} is corrupt (${why}); move it away to go on with its snapshot ${path.replace(/\.journal$/, '')} alone`);
    this.name = 'JournalCorruptError';
  }
}

export function journalPath(path: string): string {
  return `${path}.journal`;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function headerLine(base: string): string {
  return `${JSON.stringify({ journal: JOURNAL_VERSION, base })}\n`;
}

async function readOptional(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** The journal line that turns `from` into `to`. */
export function changeRecord(from: string, to: string): string {
  const at = commonPrefix(from, to, Math.min(from.length, to.length));
  const tail = commonSuffix(from, to, Math.min(from.length, to.length) - at);
  return `${JSON.stringify([at, from.length - at - tail, to.slice(at, to.length - tail)])}\n`;
}

/**
 * The journal line that turns the text `from.join('')` into `to.join('')`, found by the parts themselves: the parts
 * both lists start and end with (the same strings: a writer hands the parts that did not change again, so this is
 * mostly a comparison of references) are kept, the rest is the change (one part replaced by one: the change within
 * it). Neither text is made whole, nor compared char by char beyond parts that differ. Undefined when nothing
 * changed.
 */
export function partsRecord(from: readonly string[], to: readonly string[]): string | undefined {
  const max = Math.min(from.length, to.length);
  let a = 0;
  let at = 0;
  while (a < max && from[a] === to[a]) {
    at += (from[a] as string).length;
    a++;
  }
  if (a === from.length && a === to.length) return undefined;
  let b = 0;
  while (b < max - a && from[from.length - 1 - b] === to[to.length - 1 - b]) b++;
  // one part replaced by one (a changed NI's reservations): the change within it, char by char
  if (from.length - b - a === 1 && to.length - b - a === 1) {
    const x = from[a] as string;
    const y = to[a] as string;
    const p = commonPrefix(x, y, Math.min(x.length, y.length));
    const t = commonSuffix(x, y, Math.min(x.length, y.length) - p);
    return `${JSON.stringify([at + p, x.length - p - t, y.slice(p, y.length - t)])}\n`;
  }
  let deleted = 0;
  for (let k = a; k < from.length - b; k++) deleted += (from[k] as string).length;
  return `${JSON.stringify([at, deleted, to.slice(a, to.length - b).join('')])}\n`;
}

type Record3 = [number, number, string];

function asRecord(v: unknown, length: number): Record3 | string {
  if (!Array.isArray(v) || v.length !== 3) return 'not an [at, deleted, inserted] record';
  const [at, del, ins] = v as unknown[];
  if (!Number.isSafeInteger(at) || !Number.isSafeInteger(del) || typeof ins !== 'string') return 'not an [at, deleted, inserted] record';
  if ((at as number) < 0 || (del as number) < 0 || (at as number) + (del as number) > length) return `offsets ${String(at)}+${String(del)} outside a text of ${length}`;
  return [at as number, del as number, ins];
}

interface Loaded {
  text: string | undefined;
  /** sha256 of the snapshot's bytes (undefined: no snapshot) */
  base: string | undefined;
  /** the journal continues the snapshot and ends with a whole line: the next change may be appended to it */
  appendable: boolean;
  /** the snapshot the journal on disk names (undefined: no journal, or none that could name one) */
  journalBase: string | undefined;
  bytes: number;
  records: number;
}

/** The snapshot a journal's first line names (undefined: not a header). */
function baseNamed(line: string): string | undefined {
  let h: unknown;
  try {
    h = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof h !== 'object' || h === null) return undefined;
  const { journal, base } = h as { journal?: unknown; base?: unknown };
  return journal === JOURNAL_VERSION && typeof base === 'string' ? base : undefined;
}

async function load(path: string): Promise<Loaded> {
  const snapshot = await readOptional(path);
  const journal = await readOptional(journalPath(path));
  const lines = journal && journal.length > 0 ? journal.toString('utf8').split('\n') : undefined;
  const journalBase = lines ? baseNamed(lines[0] ?? '') : undefined;
  if (!snapshot) return { text: undefined, base: undefined, appendable: false, journalBase, bytes: 0, records: 0 };
  const base = sha256(snapshot);
  let text = snapshot.toString('utf8');
  if (!lines || journalBase !== base) return { text, base, appendable: false, journalBase, bytes: 0, records: 0 };
  // split() leaves '' after the last newline: anything else there is an append a crash cut short
  const complete = lines.length - 1;
  let appendable = lines[complete] === '';
  let records = 0;
  for (let n = 1; n < complete; n++) {
    const line = lines[n] as string;
    let rec: Record3 | string;
    try {
      rec = asRecord(JSON.parse(line), text.length);
    } catch (e) {
      rec = e instanceof Error ? e.message : String(e);
    }
    if (typeof rec === 'string') {
      // the last line may be the append a crash interrupted (a write that had not returned): not read
      if (n === complete - 1) {
        appendable = false;
        break;
      }
      throw new JournalCorruptError(journalPath(path), `line ${n + 1}: ${rec}`);
    }
    const [at, del, ins] = rec;
    text = text.slice(0, at) + ins + text.slice(at + del);
    records++;
  }
  return { text, base, appendable, journalBase, bytes: journal?.length ?? 0, records };
}

/** The file's text as the last write left it (snapshot and journal), or undefined when there is none. Reads only. */
export async function readJournaled(path: string): Promise<string | undefined> {
  return (await load(path)).text;
}

/** The snapshot and its journal removed (absent is success). */
export async function removeJournaled(path: string): Promise<void> {
  await rm(journalPath(path), { force: true });
  await rm(path, { force: true });
}

/**
 * One journaled file, written by one owner. write() calls run one after the other; each resolves once the text is on
 * disk (a crash after that reads it back).
 */
export class JournaledFile {
  /** the text as parts (written as a text: one part), and that text once joined */
  private parts: readonly string[] | undefined;
  private joined: string | undefined;
  private base: string | undefined;
  private appendable: boolean;
  private journalBase: string | undefined;
  private bytes: number;
  private records: number;
  private fh: FileHandle | undefined;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly mode: number,
    loaded: Loaded,
  ) {
    this.setText(loaded.text);
    this.base = loaded.base;
    this.appendable = loaded.appendable;
    this.journalBase = loaded.journalBase;
    this.bytes = loaded.bytes;
    this.records = loaded.records;
  }

  /** Reads what is there (JournalCorruptError for a journal that cannot be read back). */
  static async open(path: string, mode = 0o600): Promise<JournaledFile> {
    return new JournaledFile(path, mode, await load(path));
  }

  /** The text as the last write (or the files read at open) left it. */
  get text(): string | undefined {
    if (this.joined === undefined && this.parts !== undefined) this.joined = this.parts.length === 1 ? this.parts[0] : this.parts.join('');
    return this.joined;
  }

  private setText(text: string | undefined): void {
    this.parts = text === undefined ? undefined : [text];
    this.joined = text;
  }

  write(text: string): Promise<void> {
    return this.queue(() => this.writeNow([text]));
  }

  /**
   * Writes the text `parts.join('')`, whose change from the last write is told by the parts: a writer that hands the
   * parts that stayed (the same strings) again has its change found without the text being made or compared whole
   * (partsRecord). The whole text is made only for a snapshot. The list is kept as it is: not to be changed after.
   */
  writeParts(parts: readonly string[]): Promise<void> {
    return this.queue(() => this.writeNow(parts));
  }

  /** Writes the whole text as a new snapshot with an empty journal (also what write() does when a change is big). */
  compact(text: string): Promise<void> {
    return this.queue(() => this.compactNow(text));
  }

  /**
   * After the writes already asked for: a journal with lines in it is folded into the file (a clean stop leaves the
   * file whole: for an operator reading it, or an older edgenet that knows no journal); then the journal's handle is
   * closed. A write asked for after close() is refused (it would reopen a handle nobody closes).
   */
  close(): Promise<void> {
    if (this.closed) return this.chain;
    const done = this.queue(() => this.closeNow());
    this.closed = true;
    return done;
  }

  private queue(step: () => Promise<void>): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`${this.path}: written after close()`));
    const done = this.chain.then(step);
    this.chain = done.catch(() => undefined);
    return done;
  }

  private async closeNow(): Promise<void> {
    const text = this.text;
    // a journal removed meanwhile (the state dir gone: a teardown, a test's cleanup) is not brought back
    if (text !== undefined && this.records > 0 && (await exists(journalPath(this.path)))) await this.compactNow(text).catch(() => undefined);
    await this.closeHandle();
  }

  private async writeNow(parts: readonly string[]): Promise<void> {
    const old = this.parts;
    if (old !== undefined && this.appendable) {
      // a whole text on either side (write(), or the parts after one): the change by the texts, as it always was
      const whole = old.length === 1 || parts.length === 1;
      const text = whole ? joinParts(parts) : undefined;
      let record = text === undefined ? partsRecord(old, parts) : undefined;
      if (text === undefined ? record === undefined : text === this.text) return;
      if (this.records < JOURNAL_MAX_RECORDS) {
        record ??= changeRecord(this.text as string, text as string);
        const line = Buffer.from(record);
        const length = text?.length ?? parts.reduce((n, p) => n + p.length, 0);
        if (this.bytes + line.length <= Math.max(JOURNAL_MIN_BYTES, length / 4)) {
          try {
            // O_DSYNC: the write returns once the line (and the file's new length) is on disk
            this.fh ??= await open(journalPath(this.path), constants.O_WRONLY | constants.O_APPEND | constants.O_DSYNC);
            const { bytesWritten } = await this.fh.write(line);
            if (bytesWritten !== line.length) throw new Error(`${journalPath(this.path)}: wrote ${bytesWritten} of ${line.length} bytes`);
          } catch (e) {
            // what the journal ends with is not known: the next write starts over with a snapshot
            this.appendable = false;
            await this.closeHandle().catch(() => undefined);
            throw e;
          }
          this.parts = parts;
          this.joined = text;
          this.bytes += line.length;
          this.records++;
          return;
        }
      }
    }
    await this.compactNow(joinParts(parts));
  }

  private async compactNow(text: string): Promise<void> {
    const bytes = Buffer.from(text);
    const base = sha256(bytes);
    this.appendable = false;
    await this.closeHandle();
    // the same bytes as the snapshot on disk: only the journal starts over (written again, the snapshot would
    // have the journal that follows it now replayed onto it if a crash came before the new journal)
    if (base !== this.base) {
      // a journal left from an older snapshot that named these very bytes would replay onto them: it goes first
      if (this.journalBase === base) {
        await writeFileAtomic(journalPath(this.path), headerLine(this.base ?? 'none'), this.mode);
        this.journalBase = this.base;
      }
      // not known until the write returns (it may fail after its rename, at the directory's fsync)
      this.base = undefined;
      await writeFileAtomic(this.path, bytes, this.mode);
      this.base = base;
    }
    const header = headerLine(base);
    await writeFileAtomic(journalPath(this.path), header, this.mode);
    this.journalBase = base;
    this.setText(text);
    this.bytes = Buffer.byteLength(header);
    this.records = 0;
    this.appendable = true;
  }

  private async closeHandle(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }
}

function joinParts(parts: readonly string[]): string {
  return parts.length === 1 ? (parts[0] as string) : parts.join('');
}

/** Replaces the file's text with a snapshot of `text` and an empty journal (for a writer that does not keep one open). */
export async function rewriteJournaled(path: string, text: string, mode = 0o600): Promise<void> {
  const file = await JournaledFile.open(path, mode);
  try {
    await file.compact(text);
  } finally {
    await file.close();
  }
}
