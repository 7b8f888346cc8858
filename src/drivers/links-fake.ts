// In-memory LinkDriver with the real driver's semantics and write counts, plus controls for tests.
import { Subject } from 'rxjs';
import type { Observable } from 'rxjs';
import { KernelError } from '../errors.ts';
import { WriteCounter } from './write-counter.ts';
import { assertUnmarkedBridgeEmpty, netnsPath, type AddressEvent, type AddressInfo, type AttachSpec, type BridgeSpec, type LinkDriver, type LinkEvent, type LinkInfo, type VethSpec } from './links.ts';
import { mayRemark } from './link-marks.ts';

/** The driver operations `failNext` can make fail. */
export type LinkOp = 'list' | 'get' | 'ensureBridge' | 'ensureVeth' | 'attach' | 'setMac' | 'detach' | 'deleteLink' | 'listAddresses' | 'ensureAddress' | 'deleteAddress';

/** The app-side end of a veth, as seen inside the app's namespace. */
export interface FakePeer {
  netns: string;
  ifname: string;
  mac: string;
  mtu: number;
  up: boolean;
}

interface FakeLink {
  info: LinkInfo;
  peer?: FakePeer;
}


function operstate(up: boolean, carrier: boolean): string {
  if (!up) return 'down';
  return carrier ? 'up' : 'lowerlayerdown';
}

export class FakeLinkDriver implements LinkDriver {
  readonly writes = new WriteCounter();
  /** set by overflow(): the real driver's count of event-socket overflows */
  overflows?: number;
  private readonly subject = new Subject<LinkEvent>();
  readonly events$: Observable<LinkEvent> = this.subject.asObservable();
  private readonly addressSubject = new Subject<AddressEvent>();
  readonly addressEvents$: Observable<AddressEvent> = this.addressSubject.asObservable();

  private readonly links = new Map<string, FakeLink>();
  /** the same links by ifindex (which a rename keeps) */
  private readonly byIndex = new Map<number, FakeLink>();
  private readonly addresses = new Map<number, AddressInfo[]>();
  private readonly namespaces = new Set<string>();
  private readonly failures = new Map<LinkOp, Error[]>();
  private nextIfindex = 2;
  private macCounter = 0;

  /** As the real driver counts an event-socket overflow (ENOBUFS: events were lost, it resynchronises). */
  overflow(): void {
    this.overflows = (this.overflows ?? 0) + 1;
  }

  // ---- test controls -----------------------------------------------------------------------------------

  /** A NIC or a hypervisor's tap appears (down, carrier as given; default true): emits NEWLINK. */
  addExternal(ifname: string, opts: { carrier?: boolean; kind?: string; mtu?: number; mac?: string } = {}): LinkInfo {
    if (this.links.has(ifname)) throw new Error(`fake: ${ifname} already exists`);
    const carrier = opts.carrier ?? true;
    const info: LinkInfo = { ifindex: this.nextIfindex++, ifname, up: false, carrier, operstate: operstate(false, carrier), mtu: opts.mtu ?? 1500, mac: opts.mac ?? this.newMac() };
    if (opts.kind !== undefined) info.kind = opts.kind;
    const link: FakeLink = { info };
    this.links.set(ifname, link);
    this.byIndex.set(info.ifindex, link);
    this.emit('new', info);
    return { ...info };
  }

  /** The interface disappears (VM stopped, NIC unplugged): emits DELLINK. */
  removeExternal(ifname: string): void {
    if (!this.links.has(ifname)) throw new Error(`fake: no ${ifname}`);
    this.remove(ifname);
  }

  /** Cable plugged/unplugged: emits NEWLINK when it changes. */
  setCarrier(ifname: string, carrier: boolean): void {
    const link = this.links.get(ifname);
    if (!link) throw new Error(`fake: no ${ifname}`);
    if (link.info.carrier === carrier) return;
    this.update(link, { carrier });
  }

  /** Someone changes one of the link's attributes behind edgenet's back (down, MTU, alias, rename, master): emits NEWLINK. */
  tamper(ifname: string, patch: { up?: boolean; mtu?: number; alias?: string | null; ifname?: string; master?: number }): void {
    const link = this.links.get(ifname);
    if (!link) throw new Error(`fake: no ${ifname}`);
    const { alias, ...rest } = patch;
    const next: Partial<LinkInfo> = { ...rest };
    if (alias !== undefined) next.alias = alias ?? undefined;
    if (patch.ifname !== undefined && patch.ifname !== ifname) {
      this.links.delete(ifname);
      this.links.set(patch.ifname, link);
    }
    this.update(link, next);
    if (alias === null) delete link.info.alias;
  }

  /** Someone adds or removes an address behind edgenet's back. */
  tamperAddress(ifname: string, op: 'add' | 'del', address: string, prefixlen: number): void {
    const link = this.links.get(ifname);
    if (!link) throw new Error(`fake: no ${ifname}`);
    const list = (this.addresses.get(link.info.ifindex) ?? []).filter((a) => !(a.address === address && a.prefixlen === prefixlen));
    if (op === 'add') list.push({ ifindex: link.info.ifindex, address, prefixlen });
    this.addresses.set(link.info.ifindex, list);
    this.addressSubject.next({ type: op === 'add' ? 'new' : 'del', address: { ifindex: link.info.ifindex, address, prefixlen } });
  }

  /** An app's namespace appears (a path, or `/proc/<pid>/ns/net` for a pid). */
  async hasNetns(netns: string | number): Promise<boolean> {
    return this.namespaces.has(netnsPath(netns));
  }

  addNetns(netns: string | number): void {
    this.namespaces.add(netnsPath(netns));
  }

  /** The namespace goes away, and with it every veth whose peer lived there (as in the kernel): emits DELLINK. */
  removeNetns(netns: string | number): void {
    const path = netnsPath(netns);
    this.namespaces.delete(path);
    for (const [ifname, link] of [...this.links]) if (link.peer?.netns === path) this.remove(ifname);
  }

  /** The interfaces edgenet put into an app's namespace. */
  appLinks(netns: string | number): FakePeer[] {
    const path = netnsPath(netns);
    return [...this.links.values()].flatMap((l) => (l.peer?.netns === path ? [{ ...l.peer }] : []));
  }

  /** The next call of `op` rejects with `err` (default: a KernelError EIO) before touching anything. */
  failNext(op: LinkOp, err?: Error): void {
    const queue = this.failures.get(op) ?? [];
    queue.push(err ?? new KernelError(op, 'fake', 'EIO', 'injected'));
    this.failures.set(op, queue);
  }

  // ---- LinkDriver --------------------------------------------------------------------------------------

  async list(): Promise<LinkInfo[]> {
    this.maybeFail('list');
    return [...this.links.values()].map((l) => ({ ...l.info })).sort((a, b) => a.ifindex - b.ifindex);
  }

  async get(ifname: string): Promise<LinkInfo | undefined> {
    this.maybeFail('get');
    const link = this.links.get(ifname);
    return link ? { ...link.info } : undefined;
  }

  async cached(ifname: string): Promise<LinkInfo | undefined> {
    return this.get(ifname);
  }

  async getByIndex(ifindex: number): Promise<LinkInfo | undefined> {
    this.maybeFail('get');
    const link = this.byIndex.get(ifindex);
    return link ? { ...link.info } : undefined;
  }

  async ensureBridge(spec: BridgeSpec, signal?: AbortSignal): Promise<LinkInfo> {
    this.maybeFail('ensureBridge');
    signal?.throwIfAborted();
    let link = this.links.get(spec.name);
    let ours = link !== undefined && link.info.ifindex === spec.ifindex;
    if (!link && spec.ifindex !== undefined) {
      // renamed behind our back: renamed back (down first, as Linux wants)
      const renamed = [...this.links.entries()].find(([, l]) => l.info.ifindex === spec.ifindex && l.info.kind === 'bridge' && (l.info.alias ?? spec.alias) === spec.alias);
      if (renamed) {
        const [old, l] = renamed;
        this.links.delete(old);
        this.links.set(spec.name, l);
        this.writes.inc('link');
        this.update(l, { ifname: spec.name, up: false });
        link = l;
        ours = true;
      }
    }
    if (!link) {
      this.writes.inc('link');
      link = this.create({ ifname: spec.name, kind: 'bridge', up: true, carrier: true, mtu: spec.mtu ?? 1500 });
      ours = true;
    }
    if (!ours) {
      this.assertAdoptable('ensureBridge', link.info, 'bridge', spec.alias);
      const ifindex = link.info.ifindex;
      if (link.info.alias === undefined) {
        const members = [...this.links.values()].filter((l) => l.info.master === ifindex).map((l) => l.info.ifname);
        assertUnmarkedBridgeEmpty(link.info, members, (this.addresses.get(ifindex) ?? []).map((a) => `${a.address}/${a.prefixlen}`));
      }
    }
    this.converge(link, { alias: spec.alias, mtu: spec.mtu, up: true, master: 0 });
    return { ...link.info };
  }

  async ensureVeth(spec: VethSpec, signal?: AbortSignal): Promise<LinkInfo> {
    this.maybeFail('ensureVeth');
    signal?.throwIfAborted();
    let link = this.links.get(spec.name);
    if (link) {
      this.assertAdoptable('ensureVeth', link.info, 'veth', spec.alias);
    } else {
      const path = netnsPath(spec.netns);
      if (!this.namespaces.has(path)) throw new KernelError('ensureVeth', spec.name, 'ENOENT', `netns ${path} does not exist or cannot be opened`);
      if (spec.master !== undefined) this.masterOf('ensureVeth', spec.master);
      if (spec.peerMac !== undefined && !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(spec.peerMac)) {
        throw new KernelError('ensureVeth', spec.name, 'EINVAL', `bad MAC ${spec.peerMac}`);
      }
      const mtu = spec.mtu ?? 1500;
      // the real driver: create (1), alias (2), move peer (3); a failed move deletes the pair (4). Only made (no
      // master): the last of them is the call with the master's
      this.writes.inc('link', spec.master === undefined ? 2 : 3);
      if (this.appLinks(path).some((p) => p.ifname === spec.peerName)) {
        this.writes.inc('link');
        throw new KernelError('ensureVeth', spec.name, 'EEXIST');
      }
      // only made (no master): down, unmarked, in no bridge; the call with the master finishes it
      link = this.create({ ifname: spec.name, kind: 'veth', up: spec.master !== undefined, carrier: true, mtu, ...(spec.master !== undefined && { master: spec.master, alias: spec.alias }) });
      link.peer = { netns: path, ifname: spec.peerName, mac: spec.peerMac?.toLowerCase() ?? this.newMac(), mtu, up: true };
    }
    if (spec.master === undefined) return { ...link.info };
    this.converge(link, { alias: spec.alias, master: spec.master, mtu: spec.mtu, up: true });
    return { ...link.info };
  }

  async attach(spec: AttachSpec, signal?: AbortSignal): Promise<LinkInfo> {
    this.maybeFail('attach');
    signal?.throwIfAborted();
    const link = this.links.get(spec.ifname);
    if (!link) throw new KernelError('attach', spec.ifname, 'ENODEV', 'no such interface');
    this.converge(link, { master: spec.master, mtu: spec.mtu, up: true });
    return { ...link.info };
  }

  async setMac(ifname: string, mac: string, signal?: AbortSignal): Promise<void> {
    this.maybeFail('setMac');
    signal?.throwIfAborted();
    const link = this.links.get(ifname);
    if (!link) throw new KernelError('setMac', ifname, 'ENODEV', 'no such interface');
    if (link.info.mac === mac.toLowerCase()) return;
    this.writes.inc('link');
    this.update(link, { mac: mac.toLowerCase() });
  }

  async detach(ifname: string, signal?: AbortSignal): Promise<void> {
    this.maybeFail('detach');
    signal?.throwIfAborted();
    const link = this.links.get(ifname);
    if (!link || link.info.master === undefined) return;
    this.writes.inc('link');
    this.update(link, { master: undefined });
  }

  async deleteLink(ifname: string, signal?: AbortSignal): Promise<void> {
    this.maybeFail('deleteLink');
    signal?.throwIfAborted();
    if (!this.links.has(ifname)) return;
    this.writes.inc('link');
    this.remove(ifname);
  }

  async listAddresses(ifname?: string): Promise<AddressInfo[]> {
    this.maybeFail('listAddresses');
    if (ifname === undefined) return [...this.addresses.values()].flat().map((a) => ({ ...a }));
    const link = this.links.get(ifname);
    return link ? (this.addresses.get(link.info.ifindex) ?? []).map((a) => ({ ...a })) : [];
  }

  async ensureAddress(ifname: string, address: string, prefixlen: number, signal?: AbortSignal): Promise<void> {
    this.maybeFail('ensureAddress');
    signal?.throwIfAborted();
    const link = this.links.get(ifname);
    if (!link) throw new KernelError('ensureAddress', `${address}/${prefixlen} on ${ifname}`, 'ENODEV', 'no such interface');
    const list = this.addresses.get(link.info.ifindex) ?? [];
    if (list.some((a) => a.address === address && a.prefixlen === prefixlen)) return;
    this.writes.inc('address');
    list.push({ ifindex: link.info.ifindex, address, prefixlen });
    this.addresses.set(link.info.ifindex, list);
    this.addressSubject.next({ type: 'new', address: { ifindex: link.info.ifindex, address, prefixlen } });
  }

  async deleteAddress(ifname: string, address: string, prefixlen: number, signal?: AbortSignal): Promise<void> {
    this.maybeFail('deleteAddress');
    signal?.throwIfAborted();
    const link = this.links.get(ifname);
    if (!link) return;
    const list = this.addresses.get(link.info.ifindex) ?? [];
    const kept = list.filter((a) => !(a.address === address && a.prefixlen === prefixlen));
    if (kept.length === list.length) return;
    this.writes.inc('address');
    this.addresses.set(link.info.ifindex, kept);
    this.addressSubject.next({ type: 'del', address: { ifindex: link.info.ifindex, address, prefixlen } });
  }

  async close(): Promise<void> {
    this.subject.complete();
    this.addressSubject.complete();
  }

  // ---- internals ---------------------------------------------------------------------------------------

  private maybeFail(op: LinkOp): void {
    const err = this.failures.get(op)?.shift();
    if (err) throw err;
  }

  private newMac(): string {
    const n = ++this.macCounter;
    return `02:fa:00:00:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`;
  }

  private masterOf(operation: string, master: number): void {
    const bridge = this.byIndex.get(master);
    if (!bridge) throw new KernelError(operation, `master ${master}`, 'ENODEV', 'no such bridge');
    if (bridge.info.kind !== 'bridge') throw new KernelError(operation, bridge.info.ifname, 'EOPNOTSUPP', 'not a bridge');
  }

  private assertAdoptable(operation: string, link: LinkInfo, kind: string, alias: string): void {
    if (link.kind !== kind) throw new KernelError(operation, link.ifname, 'EEXIST', `exists as ${link.kind ?? 'a device'}, not a ${kind}`);
    // a bridge edgenet did not make (no mark) may hold members that are not ours: never adopted
    if (kind === 'bridge' && link.alias === undefined) throw new KernelError(operation, link.ifname, 'EEXIST', 'exists without edgenet\'s mark: not created by edgenet (delete or rename it)');
    if (link.alias !== undefined && !mayRemark(link.alias, alias)) {
      throw new KernelError(operation, link.ifname, 'EEXIST', `exists with foreign alias "${link.alias}"`);
    }
  }

  private create(o: { ifname: string; kind: string; up: boolean; carrier: boolean; mtu: number; master?: number; alias?: string }): FakeLink {
    const info: LinkInfo = { ifindex: this.nextIfindex++, ifname: o.ifname, kind: o.kind, up: o.up, carrier: o.carrier, operstate: operstate(o.up, o.carrier), mtu: o.mtu, mac: this.newMac() };
    if (o.master !== undefined) info.master = o.master;
    if (o.alias !== undefined) info.alias = o.alias;
    const link: FakeLink = { info };
    this.links.set(o.ifname, link);
    this.byIndex.set(info.ifindex, link);
    this.emit('new', info);
    return link;
  }

  /** One write with every difference, as the real driver's single setLink. */
  private converge(link: FakeLink, want: { alias?: string; master?: number; mtu?: number | undefined; up?: boolean }): void {
    const patch: Partial<LinkInfo> = {};
    if (want.alias !== undefined && link.info.alias !== want.alias) patch.alias = want.alias;
    if (want.master === 0 && link.info.master !== undefined) patch.master = undefined;
    else if (want.master !== undefined && want.master !== 0 && link.info.master !== want.master) {
      this.masterOf('converge', want.master);
      patch.master = want.master;
    }
    if (want.mtu !== undefined && link.info.mtu !== want.mtu) patch.mtu = want.mtu;
    if (want.up === true && !link.info.up) patch.up = true;
    if (Object.keys(patch).length === 0) return;
    this.writes.inc('link');
    if ('master' in patch && patch.master === undefined) {
      this.update(link, patch);
      return;
    }
    this.update(link, patch);
  }

  private update(link: FakeLink, patch: Partial<LinkInfo>): void {
    const info: LinkInfo = { ...link.info, ...patch };
    if ('master' in patch && patch.master === undefined) delete info.master;
    info.operstate = operstate(info.up, info.carrier);
    link.info = info;
    this.emit('new', info);
  }

  private remove(ifname: string): void {
    const link = this.links.get(ifname);
    if (!link) return;
    this.links.delete(ifname);
    this.byIndex.delete(link.info.ifindex);
    this.addresses.delete(link.info.ifindex);
    // a deleted bridge releases its ports first (only a bridge has ports)
    if (link.info.kind === 'bridge') for (const port of this.links.values()) if (port.info.master === link.info.ifindex) this.update(port, { master: undefined });
    this.emit('del', link.info);
  }

  private emit(type: 'new' | 'del', info: LinkInfo): void {
    this.subject.next({ type, link: { ...info } });
  }
}

export function createFakeLinkDriver(): FakeLinkDriver {
  return new FakeLinkDriver();
}
