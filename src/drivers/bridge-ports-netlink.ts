// BridgePortDriver over rtnetlink (npm `netlink`): bridge and bridge-port options as IFLA_INFO_DATA /
// IFLA_INFO_SLAVE_DATA of an RTM_NEWLINK on the existing link (what `ip link set … type bridge[_slave]` sends),
// port STP states from AF_BRIDGE RTM_NEWLINK notifications (IFLA_PROTINFO).
// first: points the netlink package at edgenet's patched addon build before it loads its binding
import './netlink-addon.ts';
import { AttrStream, createRtNetlink, ifla, rt } from 'netlink';
import type { RtNetlinkSocket, StreamData } from 'netlink';
import { silentLogger, type EdgenetLogger as Logger } from '../util/logger.ts';
import { defer, Subject, type Observable } from 'rxjs';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { KernelError } from '../errors.ts';
import { WriteCounter } from './write-counter.ts';
import { eventRecvBufferFromEnv } from './links-netlink.ts';
import { parseLinkFields, quietEventSocket, type LinkMessageFields } from './netlink-link-parse.ts';
import { DEFAULT_FORWARD_DELAY_S, STP_PORT_STATES, vlanEntriesOf, type BridgeOptions, type BridgePortDriver, type BridgePortOptions, type BridgePortView, type KernelFeatures, type MemberVlans, type StpPortState, type VlanEntry } from './bridge-ports.ts';

const RTM_NEWLINK = 16;
const AF_BRIDGE = 7;
const RTM_GETLINK = 18;
const NLM_F_DUMP = 0x300;
/** USER_HZ: bridge timers are given to and read from netlink in 1/100 s */
const USER_HZ = 100;
/** the event socket's receive buffer asked for (as the link driver's; the kernel caps it at net.core.rmem_max) */
const EVENT_RCVBUF = 1 << 22;
/** an overrun is said at most this often (a converge's storm overruns it many times a second) */
const OVERFLOW_WARN_MS = 10_000;

function encode(data: StreamData): Buffer {
  const s = new AttrStream();
  s.emit(data);
  return Buffer.concat(s.bufs);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

function readU32(b: Buffer | undefined): number | undefined {
  return b && b.length >= 4 ? b.readUInt32LE(0) : undefined;
}

function errnoOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return /Request rejected: (\w+)/.exec(err instanceof Error ? err.message : String(err))?.[1];
}

function stateWord(n: number | undefined): StpPortState {
  return STP_PORT_STATES[n ?? 0] ?? 'disabled';
}

function viewOf(msg: rt.LinkMessage, state: number | undefined, guard: number | undefined): BridgePortView | undefined {
  const { data, attrs } = msg;
  if (attrs.master === undefined || attrs.master === 0) return undefined;
  const flags = data.flags ?? {};
  return {
    ifindex: data.index ?? 0,
    ifname: attrs.ifname ?? '',
    master: attrs.master,
    state: stateWord(state),
    bpduGuard: guard === 1,
    up: flags.up === true,
    carrier: attrs.carrier !== undefined ? attrs.carrier !== 0 : flags.lowerUp === true,
  };
}

/** The same from an event's fields (netlink-link-parse.ts: read from the bytes, not parsed whole). */
function viewOfFields(f: LinkMessageFields): BridgePortView | undefined {
  if (f.master === undefined || f.master === 0) return undefined;
  return {
    ifindex: f.index,
    ifname: f.ifname ?? '',
    master: f.master,
    state: stateWord(f.brportState),
    bpduGuard: f.brportGuard === 1,
    up: f.up,
    carrier: f.carrier !== undefined ? f.carrier !== 0 : f.lowerUp,
  };
}

export interface NetlinkBridgePortDriverOptions {
  logger?: Logger;
}

export class NetlinkBridgePortDriver implements BridgePortDriver {
  readonly writes = new WriteCounter();
  readonly events$: Observable<BridgePortView>;
  private readonly log: Logger;
  private readonly nl: RtNetlinkSocket;
  private ev: RtNetlinkSocket | undefined;
  private readonly subject = new Subject<BridgePortView>();
  private closed = false;
  /** times the event socket overran (the kernel dropped port events: a resync re-reads every port) */
  overflows = 0;
  private warnedAt = 0;
  private resync: 'idle' | 'running' | 'again' = 'idle';
  private resyncDone: Promise<void> = Promise.resolve();
  private dumpNl: RtNetlinkSocket | undefined;

  constructor(opts: NetlinkBridgePortDriverOptions = {}) {
    this.log = opts.logger ?? silentLogger;
    this.nl = createRtNetlink();
    this.nl.socket.on('error', (err) => this.log.error({ err }, 'netlink bridge-port socket error'));
    this.events$ = defer(() => {
      this.startEvents();
      return this.subject.asObservable();
    });
  }

  private async getLink(operation: string, ifname: string): Promise<rt.LinkMessage | undefined> {
    try {
      const [msg] = await this.nl.getLink({}, { ifname });
      return msg;
    } catch (err) {
      if (errnoOf(err) === 'ENODEV') return undefined;
      throw new KernelError(operation, ifname, errnoOf(err));
    }
  }

  private async write(operation: string, object: string, fn: () => Promise<unknown>): Promise<void> {
    this.writes.inc('link');
    try {
      await fn();
    } catch (err) {
      throw new KernelError(operation, object, errnoOf(err));
    }
  }

  async ensureBridgeOptions(bridge: string, opts: BridgeOptions, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const msg = await this.getLink('ensureBridgeOptions', bridge);
    if (!msg) throw new KernelError('ensureBridgeOptions', bridge, 'ENODEV', 'no such bridge');
    const info = msg.attrs.linkinfo ? ifla.parseInfo(msg.attrs.linkinfo) : undefined;
    if (info?.kind !== 'bridge') throw new KernelError('ensureBridgeOptions', bridge, 'EINVAL', 'not a bridge');
    const now = info.data ? ifla.parseBridge(info.data) : {};
    const want: ifla.Bridge = {};
    const stp = opts.stp ? 1 : 0;
    // STP first in its own attribute order: the kernel checks the forward delay's range only while STP runs
    if (readU32(now.stpState) !== stp) want.stpState = u32(stp);
    const filtering = opts.vlanFiltering === true ? 1 : 0;
    const nowFiltering = now.vlanFiltering && now.vlanFiltering.length > 0 ? now.vlanFiltering.readUInt8(0) : 0;
    if (nowFiltering !== filtering) want.vlanFiltering = Buffer.from([filtering]);
    if (opts.stp) {
      const delay = (opts.forwardDelayS ?? DEFAULT_FORWARD_DELAY_S) * USER_HZ;
      if (readU32(now.forwardDelay) !== delay) want.forwardDelay = u32(delay);
    }
    if (Object.keys(want).length === 0) return;
    signal?.throwIfAborted();
    const linkinfo = encode(ifla.formatInfo({ kind: 'bridge', data: encode(ifla.formatBridge(want)) }));
    await this.write('ensureBridgeOptions', bridge, () => this.nl.newLink({ index: msg.data.index ?? 0 }, { linkinfo }));
    this.log.info({ bridge, stp: opts.stp, forwardDelayS: opts.stp ? (opts.forwardDelayS ?? DEFAULT_FORWARD_DELAY_S) : undefined }, 'bridge STP options set');
  }

  private portOf(msg: rt.LinkMessage): { view: BridgePortView | undefined } {
    const info = msg.attrs.linkinfo ? ifla.parseInfo(msg.attrs.linkinfo) : undefined;
    if (info?.slaveKind !== 'bridge' || !info.slaveData) return { view: undefined };
    const port = ifla.parseBridgePort(info.slaveData);
    return { view: viewOf(msg, port.state, port.guard) };
  }

  async ensurePortOptions(ifname: string, opts: BridgePortOptions, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const msg = await this.getLink('ensurePortOptions', ifname);
    if (!msg) throw new KernelError('ensurePortOptions', ifname, 'ENODEV', 'no such interface');
    const { view } = this.portOf(msg);
    if (!view) throw new KernelError('ensurePortOptions', ifname, 'EINVAL', 'not a bridge port');
    if (view.bpduGuard === opts.bpduGuard) return;
    signal?.throwIfAborted();
    const linkinfo = encode(ifla.formatInfo({ slaveKind: 'bridge', slaveData: encode(ifla.formatBridgePort({ guard: opts.bpduGuard ? 1 : 0 })) }));
    await this.write('ensurePortOptions', ifname, () => this.nl.newLink({ index: view.ifindex }, { linkinfo }));
  }

  async portView(ifname: string): Promise<BridgePortView | undefined> {
    const msg = await this.getLink('portView', ifname);
    return msg ? this.portOf(msg).view : undefined;
  }

  // ---- VLANs: the `bridge` tool (iproute2). The netlink package holds IFLA_AF_SPEC as a Map keyed by attribute
  // type, so it can neither send nor read the repeated IFLA_BRIDGE_VLAN_INFO entries a port's VLAN list is made of.

  async vlanEntries(ifname: string): Promise<VlanEntry[]> {
    const out = await bridgeTool('vlanEntries', ifname, ['-j', 'vlan', 'show', 'dev', ifname]);
    const parsed = JSON.parse(out || '[]') as { ifname: string; vlans?: { vlan: number; vlanEnd?: number; flags?: string[] }[] }[];
    const entries: VlanEntry[] = [];
    for (const v of parsed.find((p) => p.ifname === ifname)?.vlans ?? []) {
      const flags = v.flags ?? [];
      for (let vid = v.vlan; vid <= (v.vlanEnd ?? v.vlan); vid++) entries.push({ vid, pvid: flags.includes('PVID'), untagged: flags.includes('Egress Untagged') });
    }
    return entries;
  }

  async ensureVlans(ifname: string, vlans: MemberVlans, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const want = vlanEntriesOf(vlans);
    const now = await this.vlanEntries(ifname);
    const same = (a: VlanEntry, b: VlanEntry): boolean => a.vid === b.vid && a.pvid === b.pvid && a.untagged === b.untagged;
    // adds first (the new PVID takes over before the old one goes), then what is no longer wanted
    for (const e of want.filter((w) => !now.some((n) => same(n, w)))) {
      signal?.throwIfAborted();
      this.writes.inc('link');
      await bridgeTool('ensureVlans', ifname, ['vlan', 'add', 'dev', ifname, 'vid', String(e.vid), ...(e.pvid ? ['pvid'] : []), ...(e.untagged ? ['untagged'] : [])]);
    }
    for (const e of now.filter((n) => !want.some((w) => w.vid === n.vid))) {
      this.writes.inc('link');
      await bridgeTool('ensureVlans', ifname, ['vlan', 'del', 'dev', ifname, 'vid', String(e.vid)]);
    }
  }

  private features: Promise<KernelFeatures> | undefined;

  kernelFeatures(): Promise<KernelFeatures> {
    this.features ??= this.probeFeatures();
    return this.features;
  }

  /** Creates throw-away links (unmarked, deleted at once): what the kernel refuses with EOPNOTSUPP it lacks. */
  private async probeFeatures(): Promise<KernelFeatures> {
    const tag = randomBytes(3).toString('hex');
    const made: number[] = [];
    const tryCreate = async (ifname: string, info: ifla.Info, extra: ifla.LinkAttrs = {}): Promise<number | undefined> => {
      try {
        await this.nl.newLink({}, { ifname, linkinfo: encode(ifla.formatInfo(info)), ...extra }, { flags: 0x400 | 0x200 });
        const [msg] = await this.nl.getLink({}, { ifname });
        const index = msg?.data.index;
        if (index !== undefined) made.push(index);
        return index;
      } catch (err) {
        const errno = errnoOf(err);
        if (errno === 'EOPNOTSUPP' || errno === 'ENOTSUP') return undefined;
        throw new KernelError('kernelFeatures', ifname, errno);
      }
    };
    try {
      const bridge = await tryCreate(`enprb${tag}`, { kind: 'bridge', data: encode(ifla.formatBridge({ vlanFiltering: Buffer.from([1]) })) });
      const plain = bridge ?? (await tryCreate(`enprp${tag}`, { kind: 'bridge' }));
      const vlan = plain === undefined ? undefined : await tryCreate(`enprv${tag}`, { kind: 'vlan', data: encode(ifla.formatVlan({ id: 2 })) }, { link: u32(plain) });
      const bond = await tryCreate(`enpro${tag}`, { kind: 'bond' });
      const features = { vlanFiltering: bridge !== undefined, vlan8021q: vlan !== undefined, bonding: bond !== undefined };
      this.log.info(features, 'kernel features probed');
      return features;
    } finally {
      for (const index of made.reverse()) await this.nl.delLink({ index }).catch(() => undefined);
    }
  }

  private startEvents(): void {
    if (this.ev || this.closed) return;
    // the package would parse every event in full for an rt-level 'message' nobody listens to
    const ev = quietEventSocket(createRtNetlink());
    this.ev = ev;
    try {
      // $EDGENET_NETLINK_RCVBUF as for the link events (the storm tests give both a stock kernel's buffer)
      const size = eventRecvBufferFromEnv();
      ev.socket.setRecvBufferSize(size !== undefined ? Math.ceil(size / 2) : EVENT_RCVBUF);
    } catch (err) {
      this.log.debug({ err }, 'could not size the bridge-port event socket buffer');
    }
    ev.socket.on('error', (err) => {
      if (errnoOf(err) !== 'ENOBUFS') return this.log.warn({ err }, 'netlink bridge-port event socket error');
      // the kernel dropped port events (a storm while the loop was busy): re-read every port's state
      this.overflows++;
      const now = Date.now();
      if (now - this.warnedAt >= OVERFLOW_WARN_MS) {
        this.warnedAt = now;
        this.log.warn({ overflows: this.overflows }, 'bridge-port event overflow: port events were lost, re-reading the ports');
      }
      void this.resyncPorts();
    });
    ev.socket.on('message', (msgs) => {
      for (const m of msgs) {
        if (m.type !== RTM_NEWLINK) continue;
        // the family is the ifinfomsg's first byte: the other half of a converge's link events is dropped unparsed
        if (m.data.length < 1 || m.data[0] !== AF_BRIDGE) continue;
        this.publishPort(m.data);
      }
    });
    ev.addMembership('LINK');
  }

  private publishPort(data: Buffer): void {
    let f: LinkMessageFields;
    try {
      f = parseLinkFields(data);
    } catch (err) {
      this.log.debug({ err }, 'unparsable link event');
      return;
    }
    if (f.family !== AF_BRIDGE || !f.protinfo) return;
    const view = viewOfFields(f);
    if (view) this.subject.next(view);
  }

  /**
   * Every bridge port's state again on events$ (one AF_BRIDGE dump), as after an overrun of the event socket. One
   * dump at a time; asked again meanwhile: one more after it. Resolves when the dump that covers this call is done.
   */
  resyncPorts(): Promise<void> {
    if (this.resync !== 'idle') {
      this.resync = 'again';
      return this.resyncDone;
    }
    this.resync = 'running';
    this.resyncDone = (async () => {
      while (!this.closed) {
        try {
          this.dumpNl ??= createRtNetlink();
          const [msgs] = await this.dumpNl.socket.request(RTM_GETLINK, rt.formatLink({ family: AF_BRIDGE }), { flags: NLM_F_DUMP });
          for (const m of msgs) if (m.type === RTM_NEWLINK) this.publishPort(m.data);
        } catch (err) {
          this.log.warn({ err }, 'bridge-port resync failed');
        }
        if (this.resync !== 'again') break;
        this.resync = 'running';
      }
      this.resync = 'idle';
    })();
    return this.resyncDone;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ev?.socket.close();
    this.ev = undefined;
    this.dumpNl?.socket.close();
    this.dumpNl = undefined;
    this.nl.socket.close();
    this.subject.complete();
  }
}

export function createNetlinkBridgePortDriver(opts: NetlinkBridgePortDriverOptions = {}): NetlinkBridgePortDriver {
  return new NetlinkBridgePortDriver(opts);
}

function bridgeTool(operation: string, object: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bridge', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new KernelError(operation, object, undefined, `bridge ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    });
  });
}
