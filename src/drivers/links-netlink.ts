// LinkDriver over rtnetlink (npm `netlink`): one request socket for reads/writes, one lazily opened event socket.
import { closeSync, existsSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
// first: points the netlink package at edgenet's patched addon build before it loads its binding
import './netlink-addon.ts';
import { AttrStream, createRtNetlink, ifla, rt } from 'netlink';
import type { RtNetlinkSocket, StreamData } from 'netlink';
import { silentLogger } from '../util/logger.ts';
import type { EdgenetLogger as Logger } from '../util/logger.ts';
import { defer, Subject } from 'rxjs';
import type { Observable } from 'rxjs';
import { KernelError } from '../errors.ts';
import { serialQueue } from '../runtime/serial-queue.ts';
import { WriteCounter } from './write-counter.ts';
import { assertUnmarkedBridgeEmpty, netnsPath, type AddressEvent, type AddressInfo, type AttachSpec, type BridgeSpec, type LinkDriver, type LinkEvent, type LinkInfo, type VethSpec } from './links.ts';
import { mayRemark } from './link-marks.ts';
import { parseLinkFields, quietEventSocket, type LinkMessageFields } from './netlink-link-parse.ts';

const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const RTM_NEWLINK = 16;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const NLM_F_DUMP = 0x300;
const AF_UNSPEC = 0;
const AF_INET = 2;
const UP = { flags: { up: true as const }, change: { up: true as const } };

/** IF_OPER_* (RFC 2863) */
const OPERSTATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'] as const;

function encode(data: StreamData): Buffer {
  const s = new AttrStream();
  s.emit(data);
  return Buffer.concat(s.bufs);
}

/** The errno name of a failed request: the package throws `Error('Request rejected: EEXIST')`, sockets throw ErrnoException. */
function errnoOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  const m = /Request rejected: (\w+)/.exec(err instanceof Error ? err.message : String(err));
  return m?.[1];
}

function formatMac(b: Buffer | undefined): string {
  return b ? [...b].map((x) => x.toString(16).padStart(2, '0')).join(':') : '';
}

function parseMac(mac: string, object: string): Buffer {
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(mac)) throw new KernelError('ensureVeth', object, 'EINVAL', `bad MAC ${mac}`);
  return Buffer.from(mac.replaceAll(':', ''), 'hex');
}

function parseIPv4(address: string, object: string): Buffer {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new KernelError('ensureAddress', object, 'EINVAL', `bad IPv4 address ${address}`);
  }
  return Buffer.from(parts);
}

function broadcastOf(local: Buffer, prefixlen: number): Buffer {
  const host = prefixlen === 0 ? 0xffffffff : (0xffffffff >>> prefixlen) >>> 0;
  const out = Buffer.alloc(4);
  out.writeUInt32BE((local.readUInt32BE(0) | host) >>> 0);
  return out;
}

/** The raw message plus what the driver needs beyond LinkInfo (where a veth's peer lives). */
interface RawLink {
  info: LinkInfo;
  /** IFLA_LINK: the peer's ifindex (in `peerNetnsid`'s namespace, or ours when that is undefined) */
  peerIndex?: number;
  /** IFLA_LINK_NETNSID: set when the peer is in another namespace */
  peerNetnsid?: number;
}

/** A link message's fields (netlink-link-parse.ts: only what edgenet keeps is read) as the driver holds them. */
function toRawLink(f: LinkMessageFields): RawLink {
  const info: LinkInfo = {
    ifindex: f.index,
    ifname: f.ifname ?? '',
    up: f.up,
    // IFLA_CARRIER when the kernel sends it; IFF_LOWER_UP otherwise
    carrier: f.carrier !== undefined ? f.carrier !== 0 : f.lowerUp,
    operstate: OPERSTATES[f.operstate ?? 0] ?? String(f.operstate),
    mtu: f.mtu ?? 0,
    mac: f.mac ?? '',
  };
  if (f.kind !== undefined) info.kind = f.kind;
  if (f.master !== undefined && f.master !== 0) info.master = f.master;
  if (f.alias !== undefined && f.alias !== '') info.alias = f.alias;
  const raw: RawLink = { info };
  if (f.link !== undefined) raw.peerIndex = f.link;
  if (f.linkNetnsid !== undefined) raw.peerNetnsid = f.linkNetnsid;
  return raw;
}

/** The RTM_NEWLINK replies of a request, read with parseLinkFields (the package's parse of them is skipped). */
function linksOf(msgs: readonly { type: number; data: Buffer }[]): RawLink[] {
  return msgs.filter((m) => m.type === RTM_NEWLINK).map((m) => toRawLink(parseLinkFields(m.data)));
}

/** RTM_GETLINK's payload: an ifinfomsg for `index` (0: by name), and IFLA_IFNAME when by name. */
function getLinkPayload(query: { index?: number; ifname?: string }): Buffer {
  const head = rt.formatLink(query.index !== undefined ? { index: query.index } : {});
  return query.ifname === undefined ? head : Buffer.concat([head, encode(ifla.formatLinkAttrs({ ifname: query.ifname }))]);
}

/** Refuses to adopt an object that carries somebody else's alias, or an unmarked bridge (an unmarked veth is adopted: a crash between creating and marking it). */
function assertAdoptable(operation: string, link: LinkInfo, kind: string, alias: string): void {
  if (link.kind !== kind) throw new KernelError(operation, link.ifname, 'EEXIST', `exists as ${link.kind ?? 'a device'}, not a ${kind}`);
  // a bridge without a mark is adopted only when empty (ensureBridge checks it: assertUnmarkedBridgeEmpty): the kernel
  // ignores IFLA_IFALIAS on creation, so a SIGKILL between creating and marking leaves our own bridge unmarked
  if (link.alias !== undefined && !mayRemark(link.alias, alias)) {
    throw new KernelError(operation, link.ifname, 'EEXIST', `exists with foreign alias "${link.alias}"`);
  }
}

/**
 * Requests in flight on the request socket. Their replies wait in its receive buffer (208 KiB by default); an
 * overflow (ENOBUFS) drops replies, and the requests waiting for them would never settle (the unpatched addon
 * even aborted the process on it). 50 concurrent bridge creations were enough to do it.
 */
const MAX_IN_FLIGHT = 16;

/**
 * Queues requests beyond `max` in flight (every typed request of the package goes through `request`); the others
 * are pipelined: sent without waiting for the replies of the ones before. `count` is told of each request.
 */
function limitInFlight(nl: RtNetlinkSocket, max: number, count: () => void = () => undefined): void {
  // on the NetlinkSocket: the package's typed requests call it, and so do the driver's raw link reads
  const sock = nl.socket;
  const request = sock.request.bind(sock);
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  sock.request = async (...args: Parameters<typeof sock.request>) => {
    count();
    if (inFlight < max) inFlight++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await request(...args);
    } finally {
      // hand the slot straight to the next request in line
      const next = waiting.shift();
      if (next) next();
      else inFlight--;
    }
  };
}

/** Default size asked for the event socket's receive buffer (the kernel caps it at net.core.rmem_max). */
const EVENT_RCVBUF = 1 << 22;

/**
 * The netlink addon's poll-error path aborted the process when the event socket overran (see
 * scripts/build-netlink.sh): refuse to run on the package's unpatched prebuild rather than die at the first storm.
 */
function assertPatchedAddon(): void {
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve('netlink/package.json'));
  const load = createRequire(`${dir}/package.json`)('node-gyp-build') as ((dir: string) => { edgenetPatch?: number }) & { resolve(dir: string): string };
  // the build node-gyp-build picks: edgenet's shipped one when netlink-addon.ts found it ($NETLINK_PREBUILD)
  if (load(dir).edgenetPatch !== 1) {
    throw new Error(
      `the netlink addon ${load.resolve(dir)} is the unpatched build (it aborts the process when link events overflow): in a checkout run scripts/setup.sh; an installed edgenet ships its patched build in native/netlink (for ${process.platform}-${process.arch}: build it with scripts/build-netlink.sh)`,
    );
  }
}

/** EDGENET_LINK_CHECK_MS: how often the link cache is compared with the kernel (ms; 0: never; default 10 000). */
export function linkCheckMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.EDGENET_LINK_CHECK_MS;
  if (raw === undefined || raw === '') return 10_000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`EDGENET_LINK_CHECK_MS: must be a whole number of milliseconds (0: never), got "${raw}"`);
  return n;
}

/** EDGENET_NETLINK_RCVBUF: the event socket's receive buffer in bytes, as the kernel reports it (SO_RCVBUF). */
export function eventRecvBufferFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.EDGENET_NETLINK_RCVBUF;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 4096) throw new Error(`EDGENET_NETLINK_RCVBUF: must be an integer of at least 4096 bytes, got "${raw}"`);
  return n;
}

export interface NetlinkLinkDriverOptions {
  logger?: Logger;
  /**
   * The event socket's receive buffer in bytes as the kernel reports it (it doubles what is asked, up to
   * net.core.rmem_max): e.g. 212992 for a stock kernel's default. Default: $EDGENET_NETLINK_RCVBUF, else as much
   * as rmem_max allows up to 8 MiB.
   */
  eventRecvBuffer?: number;
  /** how often the link cache is compared with the kernel, in ms (0: never); default $EDGENET_LINK_CHECK_MS, else 10 000 */
  linkCheckMs?: number;
}

export class NetlinkLinkDriver implements LinkDriver {
  readonly writes = new WriteCounter();
  readonly events$: Observable<LinkEvent>;
  readonly addressEvents$: Observable<AddressEvent>;

  private readonly log: Logger;
  private readonly nl: RtNetlinkSocket;
  /**
   * Dumps get a socket of their own: the package groups a multi-datagram dump by arrival, so a reply to another
   * request landing between two parts of a dump would cut it short ("Multipart message not terminated properly").
   */
  private dumpNl: RtNetlinkSocket | undefined;
  private ev: RtNetlinkSocket | undefined;
  private readonly subject = new Subject<LinkEvent>();
  private readonly addressSubject = new Subject<AddressEvent>();
  /** last state seen per ifindex: fills DELLINK's master (released just before deletion) and drives resyncs */
  private readonly known = new Map<number, LinkInfo>();
  /**
   * The same links by name: the link cache that answers probes and attach. Current only while `cacheLive`: seeded by
   * a dump after the event socket subscribed, and not while an overflow (lost events) is being resynchronised.
   */
  private readonly byName = new Map<string, LinkInfo>();
  private cacheLive = false;
  /**
   * Veths this driver made without a master, by name, as read back then: the call with the master (an app's veth
   * is made beside its rules and reservation, then joins in a second call) takes it instead of asking the kernel
   * again, while the cache holds the same link (same ifindex). Taken once; dropped when the link is deleted.
   */
  private readonly madeVeths = new Map<string, RawLink>();
  private closed = false;
  private readonly dumps = serialQueue();
  private readonly eventRecvBuffer: number | undefined;
  /** times the event socket overran (the kernel dropped link events) */
  overflows = 0;
  /** messages the event socket could not read (dropped by the package as 'invalid'; each is a resync) */
  invalid = 0;
  /** links the periodic check found different from what the events said (events lost without a trace) */
  lostFound = 0;
  private readonly linkCheckMs: number;
  private checkTimer: NodeJS.Timeout | undefined;
  private lastDumpMs = 0;
  /** requests sent to the kernel, reads and writes (dumps included): for tests and the bench */
  requests = 0;

  /** The link cache answers probes now (the event socket is subscribed, seeded and not resynchronising). */
  get cacheCurrent(): boolean {
    return this.cacheLive;
  }
  private resyncing: Promise<void> | undefined;
  private resyncAgain = false;
  /** ifindexes announced by an event while a resync runs: the event is at least as new as the dump */
  private touched: Set<number> | undefined;

  constructor(opts: NetlinkLinkDriverOptions = {}) {
    assertPatchedAddon();
    this.log = opts.logger ?? silentLogger;
    this.eventRecvBuffer = opts.eventRecvBuffer ?? eventRecvBufferFromEnv();
    this.linkCheckMs = opts.linkCheckMs ?? linkCheckMsFromEnv();
    this.nl = createRtNetlink();
    // an 'error' without a listener would crash the process
    this.nl.socket.on('error', (err) => this.log.error({ err }, 'netlink request socket error'));
    limitInFlight(this.nl, MAX_IN_FLIGHT, () => this.requests++);
    this.events$ = defer(() => {
      this.startEvents();
      return this.subject.asObservable();
    });
    this.addressEvents$ = defer(() => {
      this.startEvents();
      return this.addressSubject.asObservable();
    });
  }

  // ---- reads -------------------------------------------------------------------------------------------

  async list(): Promise<LinkInfo[]> {
    const [msgs] = await this.dump('list', 'links', (nl) => nl.socket.request(RTM_GETLINK, getLinkPayload({}), { flags: NLM_F_DUMP }));
    return linksOf(msgs).map((l) => l.info);
  }

  async get(ifname: string): Promise<LinkInfo | undefined> {
    return (await this.getRaw(ifname))?.info;
  }

  async cached(ifname: string): Promise<LinkInfo | undefined> {
    if (this.cacheLive) return this.byName.get(ifname);
    return this.get(ifname);
  }

  async getByIndex(ifindex: number): Promise<LinkInfo | undefined> {
    if (this.cacheLive) return this.known.get(ifindex);
    try {
      const [msgs] = await this.nl.socket.request(RTM_GETLINK, getLinkPayload({ index: ifindex }));
      return linksOf(msgs)[0]?.info;
    } catch (err) {
      if (errnoOf(err) === 'ENODEV') return undefined;
      throw new KernelError('get', `ifindex ${ifindex}`, errnoOf(err), err instanceof Error ? err.message : undefined);
    }
  }

  private async getRaw(ifname: string): Promise<RawLink | undefined> {
    try {
      const [msgs] = await this.nl.socket.request(RTM_GETLINK, getLinkPayload({ ifname }));
      return linksOf(msgs)[0];
    } catch (err) {
      if (errnoOf(err) === 'ENODEV') return undefined;
      throw new KernelError('get', ifname, errnoOf(err), err instanceof Error ? err.message : undefined);
    }
  }

  private async readBack(operation: string, ifname: string): Promise<LinkInfo> {
    const link = await this.get(ifname);
    if (!link) throw new KernelError(operation, ifname, 'ENODEV', 'vanished right after being written');
    return link;
  }

  // ---- writes ------------------------------------------------------------------------------------------

  async ensureBridge(spec: BridgeSpec, signal?: AbortSignal): Promise<LinkInfo> {
    signal?.throwIfAborted();
    let link = await this.get(spec.name);
    if (!link && spec.ifindex !== undefined) link = await this.renameBack(spec, spec.ifindex, signal);
    if (!link) {
      const attrs: ifla.LinkAttrs = { ifname: spec.name, linkinfo: encode(ifla.formatInfo({ kind: 'bridge' })) };
      if (spec.mtu !== undefined) attrs.mtu = spec.mtu;
      const created = await this.linkWrite('ensureBridge', spec.name, () => this.nl.newLink(UP, attrs, { flags: NLM_F_CREATE | NLM_F_EXCL }), ['EEXIST']);
      link = await this.readBack('ensureBridge', spec.name);
      if (created) this.log.info({ bridge: spec.name, ifindex: link.ifindex }, 'bridge created');
      // ours from birth: the mark follows at once (the kernel ignores IFLA_IFALIAS on creation)
      if (created) spec = { ...spec, ifindex: link.ifindex };
    }
    if (link.ifindex !== spec.ifindex) {
      assertAdoptable('ensureBridge', link, 'bridge', spec.alias);
      if (link.alias === undefined) {
        const members = (await this.list()).filter((l) => l.master === link?.ifindex).map((l) => l.ifname);
        const addrs = (await this.listAddresses(spec.name)).map((a) => `${a.address}/${a.prefixlen}`);
        assertUnmarkedBridgeEmpty(link, members, addrs);
      }
    }
    // the kernel ignores IFLA_IFALIAS on creation: the alias is always a second request; a bridge is nobody's port
    await this.converge('ensureBridge', link, { alias: spec.alias, mtu: spec.mtu, up: true, master: 0 }, signal);
    return this.readBack('ensureBridge', spec.name);
  }

  /** Our bridge (by the ifindex we made it with) under another name: down, renamed back, then converged up. */
  private async renameBack(spec: BridgeSpec, ifindex: number, signal?: AbortSignal): Promise<LinkInfo | undefined> {
    let link: LinkInfo | undefined;
    try {
      const [msgs] = await this.nl.socket.request(RTM_GETLINK, getLinkPayload({ index: ifindex }));
      link = linksOf(msgs)[0]?.info;
    } catch (err) {
      if (errnoOf(err) === 'ENODEV') return undefined;
      throw new KernelError('ensureBridge', spec.name, errnoOf(err), err instanceof Error ? err.message : undefined);
    }
    if (!link || link.kind !== 'bridge' || (link.alias !== undefined && link.alias !== spec.alias)) return undefined;
    signal?.throwIfAborted();
    // Linux renames only a link that is down
    await this.linkWrite('ensureBridge', spec.name, () => this.nl.setLink({ index: ifindex, flags: {}, change: { up: true } }, { ifname: spec.name }));
    this.log.warn({ bridge: spec.name, was: link.ifname, ifindex }, 'bridge renamed back');
    return this.readBack('ensureBridge', spec.name);
  }

  async ensureVeth(spec: VethSpec, signal?: AbortSignal): Promise<LinkInfo> {
    signal?.throwIfAborted();
    let host = this.takeMadeVeth(spec) ?? (await this.getRaw(spec.name));
    if (host) assertAdoptable('ensureVeth', host.info, 'veth', spec.alias);
    if (!host || host.peerNetnsid === undefined) {
      // open the app's namespace before writing anything: a missing namespace costs no write
      const nsPath = netnsPath(spec.netns);
      let fd: number;
      try {
        fd = openSync(nsPath, 'r');
      } catch (err) {
        throw new KernelError('ensureVeth', spec.name, errnoOf(err), `netns ${nsPath} does not exist or cannot be opened`);
      }
      try {
        // created with its peer in the app's namespace: no move (a move waits for an RCU grace period, 14–27 ms)
        if (!host) return await this.createVeth(spec, fd, nsPath, signal);
        if (spec.master === undefined) return host.info;
        // a pair with its peer still here (left by a crash of an older version between create and move)
        await this.movePeer(spec, host, fd, nsPath, signal);
      } finally {
        closeSync(fd);
      }
      host = await this.getRaw(spec.name);
      if (!host) throw new KernelError('ensureVeth', spec.name, 'ENODEV', 'vanished right after being written');
    }
    // only made: the call with the master finishes it
    if (spec.master === undefined) return host.info;
    const want = { alias: spec.alias, master: spec.master, mtu: spec.mtu, up: true };
    await this.converge('ensureVeth', host.info, want, signal);
    return { ...host.info, alias: spec.alias, master: spec.master, up: true, ...(spec.mtu !== undefined && { mtu: spec.mtu }) };
  }

  /** The pair made by the first call, as the cache shows it now (its peer as read back then); else undefined: ask. */
  private takeMadeVeth(spec: VethSpec): RawLink | undefined {
    const made = this.madeVeths.get(spec.name);
    if (!made || spec.master === undefined) return undefined;
    this.madeVeths.delete(spec.name);
    const now = this.cacheLive ? this.byName.get(spec.name) : undefined;
    return now?.ifindex === made.info.ifindex && now.kind === 'veth' ? { ...made, info: now } : undefined;
  }

  /**
   * Creates the pair from the app's side: the app-side end is the device made (in the app's namespace, named, with
   * its MAC and MTU, up), the host side its peer here — a veth's peer cannot be brought up at creation (ENOTCONN),
   * and only the host side's namespace is one edgenet has a socket in. Then one request by name marks the host side,
   * enslaves it and brings it up. 2 writes, one read; no move into the namespace (a move waits for an RCU grace
   * period: 14–27 ms). A failure after creation deletes the pair.
   */
  private async createVeth(spec: VethSpec, fd: number, nsPath: string, signal?: AbortSignal): Promise<LinkInfo> {
    signal?.throwIfAborted();
    const hostAttrs: ifla.LinkAttrs = { ifname: spec.name };
    if (spec.mtu !== undefined) hostAttrs.mtu = spec.mtu;
    const peer = Buffer.concat([rt.formatLink({}), encode(ifla.formatLinkAttrs(hostAttrs))]);
    const attrs: ifla.LinkAttrs = {
      ifname: spec.peerName,
      netNsFd: fd,
      linkinfo: encode(ifla.formatInfo({ kind: 'veth', data: encode(ifla.formatVethInfo({ peer })) })),
    };
    if (spec.peerMac !== undefined) attrs.address = parseMac(spec.peerMac, spec.name);
    if (spec.mtu !== undefined) attrs.mtu = spec.mtu;
    try {
      await this.linkWrite('ensureVeth', spec.name, () => this.nl.newLink(UP, attrs, { flags: NLM_F_CREATE | NLM_F_EXCL }));
    } catch (err) {
      // the host name was free a moment ago: the name taken is the app side's, inside the app's namespace
      if (err instanceof KernelError && err.errno === 'EEXIST' && !(await this.getRaw(spec.name))) {
        this.log.info({ veth: spec.name, netns: nsPath, peer: spec.peerName }, 'veth not created: the app side\'s name is taken');
        throw new KernelError('ensureVeth', spec.name, 'EEXIST', `${spec.peerName} already exists in ${nsPath}`);
      }
      throw err;
    }
    if (spec.master === undefined) {
      // only made: marked, enslaved and brought up by the call with the master (one write)
      const made = await this.getRaw(spec.name);
      if (!made) throw new KernelError('ensureVeth', spec.name, 'ENODEV', 'vanished right after being created');
      this.madeVeths.set(spec.name, made);
      this.log.info({ veth: spec.name, ifindex: made.info.ifindex, netns: nsPath, peer: spec.peerName }, 'veth created (not yet attached)');
      return made.info;
    }
    let host: RawLink | undefined;
    await this.undoOnFailure(spec.name, async () => {
      signal?.throwIfAborted();
      // marked at once, so a crash from here on leaves an object edgenet recognises as its own
      await this.linkWrite('ensureVeth', spec.name, () => this.nl.setLink({ index: 0, ...UP }, { ifname: spec.name, ifalias: spec.alias, master: spec.master }));
      host = await this.getRaw(spec.name);
      if (!host) throw new KernelError('ensureVeth', spec.name, 'ENODEV', 'vanished right after being created');
    });
    const info = (host as RawLink | undefined)?.info;
    if (!info) throw new KernelError('ensureVeth', spec.name, 'ENODEV', 'vanished right after being created');
    this.log.info({ veth: spec.name, ifindex: info.ifindex, netns: nsPath, peer: spec.peerName }, 'veth created');
    return info;
  }

  private async movePeer(spec: VethSpec, host: RawLink, fd: number, nsPath: string, signal?: AbortSignal): Promise<void> {
    const peerIndex = host.peerIndex;
    if (peerIndex === undefined) throw new KernelError('ensureVeth', spec.name, 'ENODEV', 'veth has no peer');
    await this.undoOnFailure(spec.name, async () => {
      signal?.throwIfAborted();
      try {
        await this.linkWrite('ensureVeth', spec.name, () => this.nl.setLink({ index: peerIndex, ...UP }, { netNsFd: fd, ifname: spec.peerName }));
      } catch (err) {
        // the name is taken inside the app's namespace (the app made its own eth0): say which and where
        if (err instanceof KernelError && err.errno === 'EEXIST') throw new KernelError('ensureVeth', spec.name, 'EEXIST', `${spec.peerName} already exists in ${nsPath}`);
        throw err;
      }
    });
    this.log.info({ veth: spec.name, netns: nsPath, peer: spec.peerName }, 'veth peer moved into app namespace');
  }

  /** A half-built pair (e.g. the peer's name is taken in the app's namespace) is deleted, not left behind. */
  private async undoOnFailure(ifname: string, step: () => Promise<unknown>): Promise<void> {
    try {
      await step();
    } catch (err) {
      await this.deleteLink(ifname).catch((e: unknown) => this.log.warn({ err: e, ifname }, 'could not remove half-built veth'));
      throw err;
    }
  }

  async attach(spec: AttachSpec, signal?: AbortSignal): Promise<LinkInfo> {
    signal?.throwIfAborted();
    const link = await this.cached(spec.ifname);
    if (!link) throw new KernelError('attach', spec.ifname, 'ENODEV', 'no such interface');
    const attrs: ifla.LinkAttrs = {};
    if ((link.master ?? 0) !== spec.master) attrs.master = spec.master;
    if (spec.mtu !== undefined && link.mtu !== spec.mtu) attrs.mtu = spec.mtu;
    if (Object.keys(attrs).length === 0 && link.up) return link;
    signal?.throwIfAborted();
    // by name (ifindex 0): a tap re-created since the cache last saw it is still the one written; no read-back —
    // the ack says it is done, the link event that follows updates the cache
    await this.linkWrite('attach', spec.ifname, () => this.nl.setLink({ index: 0, ...UP }, { ...attrs, ifname: spec.ifname }));
    return { ...link, master: spec.master, up: true, ...(spec.mtu !== undefined && { mtu: spec.mtu }) };
  }

  async setMac(ifname: string, mac: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const address = parseMac(mac, ifname);
    // asked of the kernel: a bridge's MAC also changes when its ports do (until one is set), unseen by the cache
    const link = await this.get(ifname);
    if (!link) throw new KernelError('setMac', ifname, 'ENODEV', 'no such interface');
    if (link.mac === formatMac(address)) return;
    await this.linkWrite('setMac', ifname, () => this.nl.setLink({ index: link.ifindex }, { address }));
    this.log.info({ ifname, mac: formatMac(address), was: link.mac }, 'MAC set');
  }

  async detach(ifname: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const link = await this.cached(ifname);
    if (!link || link.master === undefined) return;
    await this.linkWrite('detach', ifname, () => this.nl.setLink({ index: 0 }, { ifname, master: 0 }), ['ENODEV']);
  }

  async deleteLink(ifname: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.madeVeths.delete(ifname);
    const link = await this.cached(ifname);
    if (!link) return;
    // by name: one request, and a link re-created under this name since the cache saw it is the one meant
    await this.linkWrite('deleteLink', ifname, () => this.nl.delLink({ index: 0 }, { ifname }), ['ENODEV']);
    this.log.info({ ifname, ifindex: link.ifindex }, 'link deleted');
  }

  /** One setLink with every difference (alias, master, MTU, up); nothing when already converged. */
  private async converge(operation: string, link: LinkInfo, want: { alias?: string; master?: number; mtu?: number | undefined; up?: boolean }, signal?: AbortSignal): Promise<void> {
    const attrs: ifla.LinkAttrs = {};
    if (want.alias !== undefined && link.alias !== want.alias) attrs.ifalias = want.alias;
    // master 0: no master (a bridge)
    if (want.master !== undefined && (link.master ?? 0) !== want.master) attrs.master = want.master;
    if (want.mtu !== undefined && link.mtu !== want.mtu) attrs.mtu = want.mtu;
    const bringUp = want.up === true && !link.up;
    if (Object.keys(attrs).length === 0 && !bringUp) return;
    signal?.throwIfAborted();
    await this.linkWrite(operation, link.ifname, () => this.nl.setLink({ index: link.ifindex, ...(bringUp ? UP : {}) }, attrs));
  }

  /** Counts and performs one link write; errnos in `okErrnos` are success (returns false then). */
  private async linkWrite(operation: string, object: string, fn: () => Promise<unknown>, okErrnos: string[] = []): Promise<boolean> {
    this.writes.inc('link');
    try {
      await fn();
      return true;
    } catch (err) {
      const errno = errnoOf(err);
      if (errno !== undefined && okErrnos.includes(errno)) return false;
      throw new KernelError(operation, object, errno);
    }
  }

  /** The kernel runs one dump at a time per netlink socket (a second one gets EBUSY): dumps take turns. */
  private dump<T>(operation: string, object: string, fn: (nl: RtNetlinkSocket) => Promise<T>): Promise<T> {
    this.requests++;
    return this.dumps(() => this.request(operation, object, () => fn(this.dumpSocket())));
  }

  private dumpSocket(): RtNetlinkSocket {
    if (!this.dumpNl) {
      const nl = createRtNetlink();
      nl.socket.on('error', (err) => this.log.error({ err }, 'netlink dump socket error'));
      this.dumpNl = nl;
    }
    return this.dumpNl;
  }

  private async request<T>(operation: string, object: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const errno = errnoOf(err);
      throw new KernelError(operation, object, errno, errno === undefined && err instanceof Error ? err.message : undefined);
    }
  }

  // ---- addresses ---------------------------------------------------------------------------------------

  async hasNetns(netns: string | number): Promise<boolean> {
    return existsSync(netnsPath(netns));
  }

  async listAddresses(ifname?: string): Promise<AddressInfo[]> {
    let index: number | undefined;
    if (ifname !== undefined) {
      const link = await this.get(ifname);
      if (!link) return [];
      index = link.ifindex;
    }
    const msgs = await this.dump('listAddresses', ifname ?? 'all', (nl) => nl.getAddresses({ family: AF_INET }));
    const out: AddressInfo[] = [];
    for (const m of msgs) {
      const bytes = m.attrs.local ?? m.attrs.address;
      if (m.data.family !== AF_INET || !bytes || bytes.length !== 4) continue;
      if (index !== undefined && m.data.index !== index) continue;
      out.push({ ifindex: m.data.index ?? 0, address: [...bytes].join('.'), prefixlen: m.data.prefixlen ?? 32 });
    }
    return out;
  }

  async ensureAddress(ifname: string, address: string, prefixlen: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const object = `${address}/${prefixlen} on ${ifname}`;
    const local = parseIPv4(address, object);
    const link = await this.get(ifname);
    if (!link) throw new KernelError('ensureAddress', object, 'ENODEV', 'no such interface');
    const present = await this.listAddresses(ifname);
    if (present.some((a) => a.address === address && a.prefixlen === prefixlen)) return;
    signal?.throwIfAborted();
    const attrs: rt.AddressAttrs = { local, address: local };
    if (prefixlen < 31) attrs.broadcast = broadcastOf(local, prefixlen);
    this.writes.inc('address');
    try {
      await this.nl.newAddress({ family: AF_INET, prefixlen, index: link.ifindex }, attrs, { flags: NLM_F_CREATE | NLM_F_EXCL });
    } catch (err) {
      if (errnoOf(err) !== 'EEXIST') throw new KernelError('ensureAddress', object, errnoOf(err));
    }
  }

  async deleteAddress(ifname: string, address: string, prefixlen: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const object = `${address}/${prefixlen} on ${ifname}`;
    const local = parseIPv4(address, object);
    const link = await this.get(ifname);
    if (!link) return;
    const present = await this.listAddresses(ifname);
    if (!present.some((a) => a.address === address && a.prefixlen === prefixlen)) return;
    signal?.throwIfAborted();
    this.writes.inc('address');
    try {
      await this.nl.delAddress({ family: AF_INET, prefixlen, index: link.ifindex }, { local, address: local });
    } catch (err) {
      if (errnoOf(err) !== 'EADDRNOTAVAIL' && errnoOf(err) !== 'ENODEV') throw new KernelError('deleteAddress', object, errnoOf(err));
    }
    this.log.info({ ifname, address: `${address}/${prefixlen}` }, 'address removed');
  }

  // ---- events ------------------------------------------------------------------------------------------

  private startEvents(): void {
    if (this.ev || this.closed) return;
    // the package would parse every event in full for an rt-level 'message' nobody listens to
    const ev = quietEventSocket(createRtNetlink());
    this.ev = ev;
    try {
      // A storm overruns any buffer while the loop is busy (an overrun is survived: resync below); a big one makes
      // it rarer. The kernel doubles what is asked and caps it at net.core.rmem_max.
      ev.socket.setRecvBufferSize(this.eventRecvBuffer !== undefined ? Math.ceil(this.eventRecvBuffer / 2) : EVENT_RCVBUF);
      this.log.info({ rcvbuf: ev.socket.getRecvBufferSize() }, 'link event socket opened');
    } catch (err) {
      this.log.debug({ err }, 'could not size the event socket buffer');
    }
    ev.socket.on('error', (err) => {
      if (errnoOf(err) === 'ENOBUFS') {
        // the kernel dropped events (a storm): re-read everything so no owner misses a change
        this.overflows++;
        this.log.warn({ overflows: this.overflows }, 'netlink event overflow: link events were lost, resynchronising links');
        void this.requestResync();
      } else {
        // the addon closed the socket: open another one and re-read what was missed meanwhile
        this.log.error({ err }, 'netlink event socket error: reopening it');
        this.cacheLive = false;
        if (this.ev === ev) this.ev = undefined;
        ev.socket.close();
        setTimeout(() => {
          this.startEvents();
          void this.requestResync();
        }, 100).unref();
      }
    });
    // the package drops what it cannot parse (or a multipart group it cannot close) as 'invalid': an event may be
    // in it, so nothing is assumed about what changed meanwhile
    ev.socket.on('invalid', (err: unknown) => {
      this.invalid++;
      this.log.warn({ err: err instanceof Error ? err.message : String(err), invalid: this.invalid }, 'netlink event socket dropped an unreadable message: resynchronising links');
      void this.requestResync();
    });
    ev.socket.on('message', (msgs) => {
      for (const m of msgs) {
        if (m.type === RTM_NEWADDR || m.type === RTM_DELADDR) {
          this.publishAddress(m.type === RTM_NEWADDR ? 'new' : 'del', m.data);
          continue;
        }
        if (m.type !== RTM_NEWLINK && m.type !== RTM_DELLINK) continue;
        // AF_BRIDGE messages describe bridge-port state (their DELLINK only means "left the bridge"): the family is
        // the first byte of the ifinfomsg, checked before parsing the rest (one in two link events of a converge)
        if (m.data.length < 1 || m.data[0] !== AF_UNSPEC) continue;
        let link: RawLink;
        try {
          link = toRawLink(parseLinkFields(m.data));
        } catch (err) {
          this.log.warn({ err }, 'unparsable link event');
          continue;
        }
        this.publish(m.type === RTM_NEWLINK ? 'new' : 'del', link.info);
      }
    });
    ev.addMembership('LINK');
    ev.addMembership('IPV4_IFADDR');
    void this.seedKnown();
    this.scheduleCheck();
  }

  private publishAddress(type: 'new' | 'del', data: Buffer): void {
    let msg: rt.AddressMessage;
    try {
      msg = rt.parseAddressMessage(data);
    } catch (err) {
      this.log.warn({ err }, 'unparsable address event');
      return;
    }
    const bytes = msg.attrs.local ?? msg.attrs.address;
    if (msg.data.family !== AF_INET || !bytes || bytes.length !== 4) return;
    this.addressSubject.next({ type, address: { ifindex: msg.data.index ?? 0, address: [...bytes].join('.'), prefixlen: msg.data.prefixlen ?? 32 } });
  }

  private publish(type: 'new' | 'del', link: LinkInfo, fromResync = false): void {
    if (!fromResync) this.touched?.add(link.ifindex);
    const last = this.known.get(link.ifindex);
    if (type === 'del') {
      // the kernel releases a port from its bridge before deleting it: report the master it had
      if (link.master === undefined && last?.master !== undefined) link = { ...link, master: last.master };
      this.known.delete(link.ifindex);
      if (this.byName.get(link.ifname)?.ifindex === link.ifindex) this.byName.delete(link.ifname);
    } else {
      this.known.set(link.ifindex, link);
      // renamed: the old name is free
      if (last && last.ifname !== link.ifname && this.byName.get(last.ifname)?.ifindex === link.ifindex) this.byName.delete(last.ifname);
      this.byName.set(link.ifname, link);
    }
    this.subject.next({ type, link });
  }

  /** After subscribing: one dump fills the cache (what an event has told meanwhile is newer, and kept). */
  private async seedKnown(): Promise<void> {
    const touched = new Set<number>();
    this.touched = touched;
    try {
      for (const link of await this.list()) {
        if (touched.has(link.ifindex) || this.known.has(link.ifindex)) continue;
        this.known.set(link.ifindex, link);
        if (!this.byName.has(link.ifname)) this.byName.set(link.ifname, link);
      }
      if (!this.resyncing && !this.closed) this.cacheLive = true;
    } catch (err) {
      this.log.warn({ err }, 'could not read links for the event cache');
    } finally {
      if (this.touched === touched) this.touched = undefined;
    }
  }

  /**
   * One resync at a time; overflows during one ask for one more after it. `overflow` (events were lost: an overrun,
   * an unreadable message): the cache answers nothing until every link is re-read. `check`: the periodic look at
   * the kernel that finds events lost without a trace (the cache keeps answering meanwhile).
   */
  private requestResync(why: 'overflow' | 'check' = 'overflow'): Promise<void> {
    if (why === 'overflow') this.cacheLive = false;
    if (this.resyncing) {
      if (why === 'overflow') this.resyncAgain = true;
      return this.resyncing;
    }
    this.resyncing = (async () => {
      let reason = why;
      do {
        this.resyncAgain = false;
        await this.resync(reason);
        reason = 'overflow';
      } while (this.resyncAgain && !this.closed);
    })().finally(() => {
      this.resyncing = undefined;
      if (!this.closed && this.ev) this.cacheLive = true;
    });
    return this.resyncing;
  }

  /**
   * Compares every link with what the events said (one dump) and publishes what differs, as after an overflow. A
   * lost event leaves no trace (the link cache, which the audit reads, is fed by the same events): this runs every
   * `linkCheckMs` (default 10 s, at least 50 times the last dump's time) while the events are followed.
   */
  checkLinks(): Promise<void> {
    return this.requestResync('check');
  }

  private scheduleCheck(): void {
    if (this.closed || this.checkTimer || this.linkCheckMs <= 0) return;
    this.checkTimer = setTimeout(() => {
      this.checkTimer = undefined;
      if (this.closed || !this.ev) return;
      void this.checkLinks().finally(() => this.scheduleCheck());
    }, Math.max(this.linkCheckMs, 50 * this.lastDumpMs));
    this.checkTimer.unref();
  }

  /** Publishes what changed since the last event seen: links gone, new or different (not the unchanged ones). */
  private async resync(why: 'overflow' | 'check'): Promise<void> {
    if (this.closed) return;
    const touched = new Set<number>();
    this.touched = touched;
    try {
      const t0 = Date.now();
      const now = await this.list();
      const present = new Set(now.map((l) => l.ifindex));
      let deleted = 0;
      let changed = 0;
      for (const [ifindex, link] of [...this.known]) {
        if (present.has(ifindex) || touched.has(ifindex)) continue;
        this.publish('del', link, true);
        deleted++;
      }
      for (const link of now) {
        if (touched.has(link.ifindex) || sameLink(this.known.get(link.ifindex), link)) continue;
        this.publish('new', link, true);
        changed++;
      }
      this.lastDumpMs = Date.now() - t0;
      if (why === 'overflow') this.log.info({ links: now.length, changed, deleted, ms: this.lastDumpMs }, 'links resynchronised');
      else if (changed + deleted > 0) {
        this.lostFound += changed + deleted;
        this.log.warn({ links: now.length, changed, deleted, ms: this.lastDumpMs }, 'link check: events were lost (the kernel differs from what they said): published what differs');
      }
    } catch (err) {
      this.log.error({ err }, 'link resync failed');
    } finally {
      if (this.touched === touched) this.touched = undefined;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cacheLive = false;
    if (this.checkTimer) clearTimeout(this.checkTimer);
    this.ev?.socket.close();
    this.ev = undefined;
    this.nl.socket.close();
    this.dumpNl?.socket.close();
    this.subject.complete();
    this.addressSubject.complete();
  }
}

/** Same state (LinkInfo is flat: every field compared, whatever fields it grows). */
function sameLink(a: LinkInfo | undefined, b: LinkInfo): boolean {
  if (!a) return false;
  const x = a as unknown as Record<string, unknown>;
  const y = b as unknown as Record<string, unknown>;
  const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
  for (const k of keys) if (x[k] !== y[k]) return false;
  return true;
}

export function createNetlinkLinkDriver(opts: NetlinkLinkDriverOptions = {}): NetlinkLinkDriver {
  return new NetlinkLinkDriver(opts);
}
