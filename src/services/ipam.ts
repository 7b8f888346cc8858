// IP reservations of app interfaces on local network instances, persisted in `<stateDir>/reservations.json` and
// its journal (util/journaled-file.ts: a save appends what changed, one small synchronous write).
//
// A key (`<app>/<ni>`) holds its address while the app exists. release() keeps the address as a hint for that key:
// a redeployed app gets the same address back, because new allocations take the lowest free address that is
// nobody's hint first and reuse a hinted address only when the range has nothing else left (its hint is then
// dropped). So hints never block allocation, and there are never more of them than addresses in the ranges.
import { join } from 'node:path';
import { JournalCorruptError, JournaledFile } from '../util/journaled-file.ts';
import ipaddr from 'ipaddr.js';

export const RESERVATIONS_FILE = 'reservations.json';

const IPAM_OPEN = '{\n  "version": 1,\n  "networks": {\n';
const IPAM_SEPARATOR = ',\n';
const IPAM_CLOSE_LINE = '\n  }\n}\n';

export class IpamError extends Error {
  readonly kind = 'IpamError' as const;
  constructor(message: string) {
    super(message);
    this.name = 'IpamError';
  }
}

interface Entry {
  ip: string;
  /** the address came from the config, not from the range */
  static: boolean;
  /** the key's app is gone: the address is only a hint for its return */
  released: boolean;
}

interface FileShape {
  version: 1;
  networks: Record<string, Record<string, Entry>>;
}

export interface ReserveOptions {
  range: { start: string; end: string };
  /** the interface's static address from the config */
  static?: string;
  /** addresses that are not the range's to give: the gateway, other apps' static addresses, static DNS hosts */
  taken: string[];
}

/** addresses parsed so far (a reservation looks at every address of its NI) */
const ints = new Map<string, number>();

function toInt(ip: string, what: string): number {
  const known = ints.get(ip);
  if (known !== undefined) return known;
  if (!ipaddr.IPv4.isValidFourPartDecimal(ip)) throw new IpamError(`${what}: not an IPv4 address: ${JSON.stringify(ip)}`);
  const b = ipaddr.IPv4.parse(ip).toByteArray();
  const n = (((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0;
  // bounded: at most the addresses of the NIs' ranges and their statics, plus what a corrupt input brought
  if (ints.size < 1 << 20) ints.set(ip, n);
  return n;
}

function toIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function parseFile(text: string, path: string): FileShape {
  const corrupt = (why: string): IpamError =>
    new IpamError(`reservations file ${path} is corrupt (${why}); move it away to start over with new addresses`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw corrupt(e instanceof Error ? e.message : String(e));
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw corrupt('not a JSON object');
  const doc = v as Record<string, unknown>;
  if (doc['version'] !== 1) throw corrupt(`unknown version ${JSON.stringify(doc['version'])}`);
  const nets = doc['networks'];
  if (typeof nets !== 'object' || nets === null || Array.isArray(nets)) throw corrupt('"networks" is not an object');
  const out: FileShape = { version: 1, networks: {} };
  for (const [ni, keys] of Object.entries(nets as Record<string, unknown>)) {
    if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) throw corrupt(`networks.${ni} is not an object`);
    const entries: Record<string, Entry> = {};
    const seen = new Map<string, string>();
    for (const [key, e] of Object.entries(keys as Record<string, unknown>)) {
      const at = `networks.${ni}[${JSON.stringify(key)}]`;
      if (typeof e !== 'object' || e === null) throw corrupt(`${at} is not an object`);
      const { ip, static: isStatic, released } = e as Record<string, unknown>;
      if (typeof ip !== 'string' || !ipaddr.IPv4.isValidFourPartDecimal(ip)) throw corrupt(`${at}.ip is not an IPv4 address`);
      if (typeof isStatic !== 'boolean' || typeof released !== 'boolean') throw corrupt(`${at}: "static" and "released" must be booleans`);
      const other = seen.get(ip);
      if (other !== undefined && !released) throw corrupt(`${ip} is reserved for both ${JSON.stringify(other)} and ${JSON.stringify(key)}`);
      if (!released) seen.set(ip, key);
      entries[key] = { ip, static: isStatic, released };
    }
    out.networks[ni] = entries;
  }
  return out;
}

export class Ipam {
  private dirty = false;
  /** per NI: its reservations as they sit in the file's text (JSON.stringify(doc, null, 2)), until the NI changes */
  private readonly niText = new Map<string, string>();
  /** the write under way */
  private writing: Promise<void> | undefined;
  /** the one write after it, shared by the saves asked for meanwhile */
  private queued: Promise<void> | undefined;

  private constructor(
    readonly path: string,
    private readonly doc: FileShape,
    private readonly file: JournaledFile,
  ) {}

  /** Loads `<stateDir>/reservations.json` and its journal (absent: empty). A corrupt file is an error naming it, never trusted. */
  static async open(stateDir: string): Promise<Ipam> {
    const path = join(stateDir, RESERVATIONS_FILE);
    let file: JournaledFile;
    try {
      file = await JournaledFile.open(path, 0o600);
    } catch (e) {
      if (e instanceof JournalCorruptError) throw new IpamError(`reservations ${e.message}`);
      throw e;
    }
    const text = file.text;
    return new Ipam(path, text === undefined ? { version: 1, networks: {} } : parseFile(text, path), file);
  }

  /** Closes the journal (after the last save). */
  close(): Promise<void> {
    return this.file.close();
  }

  /**
   * The key's address: the static one if given, else its current (or released) address when that is still in the
   * range and free, else the lowest free address of the range. A static address wins over another key's
   * reservation of it (that key is moved on its next reserve()). Throws IpamError when the range is full.
   */
  reserve(ni: string, key: string, opts: ReserveOptions): string {
    const net = (this.doc.networks[ni] ??= {});
    this.niText.delete(ni);
    const start = toInt(opts.range.start, `${ni} range start`);
    const end = toInt(opts.range.end, `${ni} range end`);
    if (end < start) throw new IpamError(`${ni}: range ${opts.range.start}-${opts.range.end} is empty`);
    const taken = new Set(opts.taken.map((t) => toInt(t, `${ni} taken address`)));
    const mine = net[key];

    if (opts.static !== undefined) {
      const ip = toIp(toInt(opts.static, `${key} static address`));
      for (const [k, e] of Object.entries(net)) if (k !== key && e.ip === ip) delete net[k];
      this.set(net, key, { ip, static: true, released: false });
      return ip;
    }

    const usedByOthers = new Set<number>();
    const hintedByOthers = new Set<number>();
    for (const [k, e] of Object.entries(net)) {
      if (k === key) continue;
      (e.released ? hintedByOthers : usedByOthers).add(toInt(e.ip, k));
    }
    const free = (n: number): boolean => n >= start && n <= end && !taken.has(n) && !usedByOthers.has(n);

    if (mine && free(toInt(mine.ip, key))) {
      this.dropHintsOf(net, key, mine.ip);
      this.set(net, key, { ip: mine.ip, static: false, released: false });
      return mine.ip;
    }
    let fallback: number | undefined;
    for (let n = start; n <= end; n++) {
      if (!free(n)) continue;
      if (!hintedByOthers.has(n)) {
        fallback = n;
        break;
      }
      fallback ??= n;
    }
    if (fallback === undefined) {
      throw new IpamError(`${ni}: no free address in ${opts.range.start}-${opts.range.end} for ${key}`);
    }
    const ip = toIp(fallback);
    this.dropHintsOf(net, key, ip);
    this.set(net, key, { ip, static: false, released: false });
    return ip;
  }

  /** The app is gone: its address is free, and kept as a hint for the key's return. Absent is success. */
  release(ni: string, key: string): void {
    const e = this.doc.networks[ni]?.[key];
    if (!e || e.released) return;
    e.released = true;
    this.niText.delete(ni);
    this.dirty = true;
  }

  /** The key's reserved address (undefined when released or unknown). */
  get(ni: string, key: string): string | undefined {
    const e = this.doc.networks[ni]?.[key];
    return e && !e.released ? e.ip : undefined;
  }

  /** Active reservations of an NI, by key. */
  reservations(ni: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, e] of Object.entries(this.doc.networks[ni] ?? {})) if (!e.released) out[k] = e.ip;
    return out;
  }

  /** NIs that hold reservations or hints. */
  networks(): string[] {
    return Object.keys(this.doc.networks).sort();
  }

  /** The NI is gone: forget its reservations and hints. */
  forgetNetwork(ni: string): void {
    if (this.doc.networks[ni] === undefined) return;
    delete this.doc.networks[ni];
    this.niText.delete(ni);
    this.dirty = true;
  }

  /**
   * Writes what changed to disk (a line appended to the journal, synchronously; now and then the whole file,
   * atomically); nothing when nothing changed. Resolves once a write holding every change made before the call is
   * done. Saves asked for while one is under way share one write after it (removing N apps at once writes a few
   * times, not N times).
   */
  save(): Promise<void> {
    if (this.queued) return this.queued;
    // unchanged since the write under way began: that write holds everything
    if (!this.dirty) return this.writing ?? Promise.resolve();
    if (this.writing) {
      const queued = this.writing
        .catch(() => undefined)
        .then(() => {
          this.queued = undefined;
          return this.save();
        });
      this.queued = queued;
      return queued;
    }
    this.dirty = false;
    const writing: Promise<void> = this.file
      .writeParts(this.parts('\n'))
      .catch((err: unknown) => {
        // what it held is written by the next save
        this.dirty = true;
        throw err;
      })
      .finally(() => {
        if (this.writing === writing) this.writing = undefined;
      });
    this.writing = writing;
    return writing;
  }

  /**
   * JSON.stringify(doc, null, 2) and then `end`, as parts: the opening, each NI's line (`"ni": {…}`, serialised only
   * when the NI changed since the last save, else the same string as then) between separators, the closing. The
   * journal finds a save's change by the parts that stayed (JournaledFile.writeParts): no text of the whole file is
   * made per save (1 MB at 10 000 apps).
   */
  parts(end = ''): string[] {
    const nis = Object.keys(this.doc.networks);
    if (nis.length === 0) return [`{\n  "version": 1,\n  "networks": {}\n}${end}`];
    const out: string[] = [IPAM_OPEN];
    for (let k = 0; k < nis.length; k++) {
      const ni = nis[k] as string;
      let line = this.niText.get(ni);
      if (line === undefined) {
        line = `    ${JSON.stringify(ni)}: ${JSON.stringify(this.doc.networks[ni], null, 2).replace(/\n/g, '\n    ')}`;
        this.niText.set(ni, line);
      }
      if (k > 0) out.push(IPAM_SEPARATOR);
      out.push(line);
    }
    out.push(end === '\n' ? IPAM_CLOSE_LINE : `\n  }\n}${end}`);
    return out;
  }

  /** The parts joined: the file's text. */
  text(end = ''): string {
    return this.parts(end).join('');
  }

  private set(net: Record<string, Entry>, key: string, e: Entry): void {
    const cur = net[key];
    if (cur && cur.ip === e.ip && cur.static === e.static && cur.released === e.released) return;
    net[key] = e;
    this.dirty = true;
  }

  /** An address given to `key` is no longer a hint for anyone else. */
  private dropHintsOf(net: Record<string, Entry>, key: string, ip: string): void {
    for (const [k, e] of Object.entries(net)) {
      if (k !== key && e.released && e.ip === ip) {
        delete net[k];
        this.dirty = true;
      }
    }
  }
}
