// Link messages (RTM_NEWLINK / RTM_DELLINK: an ifinfomsg and its attributes) read for the few fields edgenet keeps,
// straight from the bytes. The netlink package's parser builds an object for every attribute of a message (the
// stats as 23 BigInts twice over, the IPv6 devconf, a Buffer per attribute): in a cold converge of 1000 taps that
// was ~40 % of what the daemon allocated (bench/memory.ts with BENCH_MEMORY_ALLOCATIONS), most of it for the link
// events, two per change per event socket. `quietEventSocket` drops the package's own parse of every event.
import type { RtNetlinkSocket } from 'netlink';

/** sizeof(struct ifinfomsg) */
const IFINFOMSG_LEN = 16;
const NLA_HDRLEN = 4;
/** the attribute type without NLA_F_NESTED / NLA_F_NET_BYTEORDER */
const NLA_TYPE_MASK = 0x3fff;
const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_LINK = 5;
const IFLA_MASTER = 10;
const IFLA_PROTINFO = 12;
const IFLA_OPERSTATE = 16;
const IFLA_LINKINFO = 18;
const IFLA_IFALIAS = 20;
const IFLA_CARRIER = 33;
const IFLA_LINK_NETNSID = 37;
/** inside IFLA_LINKINFO */
const IFLA_INFO_KIND = 1;
/** inside IFLA_PROTINFO (AF_BRIDGE messages) */
const IFLA_BRPORT_STATE = 1;
const IFLA_BRPORT_GUARD = 5;
const IFF_UP = 0x1;
const IFF_LOWER_UP = 0x10000;

/** What edgenet reads of a link message; absent: the attribute was not in it. */
export interface LinkMessageFields {
  /** ifi_family: AF_UNSPEC (0) for a link, AF_BRIDGE (7) for bridge-port state */
  family: number;
  index: number;
  /** IFF_UP */
  up: boolean;
  /** IFF_LOWER_UP */
  lowerUp: boolean;
  ifname?: string;
  mtu?: number;
  /** IFLA_ADDRESS as aa:bb:..., lower case */
  mac?: string;
  master?: number;
  operstate?: number;
  carrier?: number;
  /** IFLA_INFO_KIND */
  kind?: string;
  alias?: string;
  /** IFLA_LINK (a veth's peer ifindex) */
  link?: number;
  linkNetnsid?: number;
  /** IFLA_PROTINFO was there (AF_BRIDGE: the port's state), with its IFLA_BRPORT_STATE / IFLA_BRPORT_GUARD */
  protinfo?: true;
  brportState?: number;
  brportGuard?: number;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function macOf(buf: Buffer, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += i === from ? HEX[buf[i]!] : `:${HEX[buf[i]!]}`;
  return s;
}

/** A NUL-terminated attribute string (the terminator is not part of it). */
function stringOf(buf: Buffer, from: number, to: number): string {
  const end = to > from && buf[to - 1] === 0 ? to - 1 : to;
  return buf.toString('utf8', from, end);
}

/** Walks the attributes in [from, to): `fn(type, dataStart, dataEnd)`; throws on a malformed length. */
function eachAttr(buf: Buffer, from: number, to: number, fn: (type: number, start: number, end: number) => void): void {
  let at = from;
  while (at + NLA_HDRLEN <= to) {
    const len = buf.readUInt16LE(at);
    if (len < NLA_HDRLEN || at + len > to) throw new Error(`invalid attribute length ${len} at ${at}`);
    fn(buf.readUInt16LE(at + 2) & NLA_TYPE_MASK, at + NLA_HDRLEN, at + len);
    at += (len + 3) & ~3;
  }
}

/** The fields of one link message's payload (ifinfomsg + attributes); throws on a malformed one. */
export function parseLinkFields(data: Buffer): LinkMessageFields {
  if (data.length < IFINFOMSG_LEN) throw new Error(`link message of ${data.length} bytes`);
  const flags = data.readUInt32LE(8);
  const out: LinkMessageFields = { family: data[0]!, index: data.readInt32LE(4), up: (flags & IFF_UP) !== 0, lowerUp: (flags & IFF_LOWER_UP) !== 0 };
  eachAttr(data, IFINFOMSG_LEN, data.length, (type, start, end) => {
    const len = end - start;
    switch (type) {
      case IFLA_IFNAME:
        out.ifname = stringOf(data, start, end);
        break;
      case IFLA_ADDRESS:
        out.mac = macOf(data, start, end);
        break;
      case IFLA_MTU:
        if (len >= 4) out.mtu = data.readUInt32LE(start);
        break;
      case IFLA_LINK:
        if (len >= 4) out.link = data.readUInt32LE(start);
        break;
      case IFLA_MASTER:
        if (len >= 4) out.master = data.readUInt32LE(start);
        break;
      case IFLA_OPERSTATE:
        if (len >= 1) out.operstate = data[start]!;
        break;
      case IFLA_CARRIER:
        if (len >= 1) out.carrier = data[start]!;
        break;
      case IFLA_IFALIAS:
        out.alias = stringOf(data, start, end);
        break;
      case IFLA_LINK_NETNSID:
        if (len >= 4) out.linkNetnsid = data.readInt32LE(start);
        break;
      case IFLA_LINKINFO:
        eachAttr(data, start, end, (t, s, e) => {
          if (t === IFLA_INFO_KIND) out.kind = stringOf(data, s, e);
        });
        break;
      case IFLA_PROTINFO:
        out.protinfo = true;
        eachAttr(data, start, end, (t, s, e) => {
          if (e <= s) return;
          if (t === IFLA_BRPORT_STATE) out.brportState = data[s]!;
          else if (t === IFLA_BRPORT_GUARD) out.brportGuard = data[s]!;
        });
        break;
    }
  });
  return out;
}

/**
 * An event socket without the package's own parse: RtNetlinkSocket parses every unsolicited message in full to
 * emit its own 'message' event, whether or not anyone listens (edgenet listens on `.socket`, the raw messages).
 * Replies to requests do not go through it (they go to the request's callback).
 */
export function quietEventSocket<T extends RtNetlinkSocket>(nl: T): T {
  nl.socket.removeAllListeners('message');
  return nl;
}
