// EVE's own corrections of a local NI's DHCP range (pillar cmd/zedagent/parseconfig.go parseIpspec), applied to an
// EVE document before edgenet validates it, each with a finding: a start on the network or gateway address moves to
// the next address, an end on the broadcast address to the previous one, an absent end is the last host, and a range
// of more than 256 addresses is capped (EVE allocates at most ByteAllocatorMaxNum = 255 past the start).
import ipaddr from 'ipaddr.js';

/** objtonum.ByteAllocatorMaxNum */
const EVE_RANGE_MAX = 255;

function toInt(ip: string): number {
  const b = ipaddr.IPv4.parse(ip).toByteArray();
  return (((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0;
}

function toIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface RangeCorrection {
  range: { start: string; end: string };
  /** what was corrected, in words; empty when nothing was */
  notes: string[];
}

/**
 * The range EVE would serve for `start`..`end` (`end` may be empty) on `subnet` with `gateway` (default: first
 * host). Undefined when the input is not something EVE corrects (not IPv4, outside the subnet…): validation then
 * names the problem as it is.
 */
export function correctDhcpRange(subnet: string, gateway: string | undefined, start: string, end: string): RangeCorrection | undefined {
  if (!ipaddr.IPv4.isValidCIDRFourPartDecimal(subnet) || !ipaddr.IPv4.isValidFourPartDecimal(start)) return undefined;
  if (end !== '' && !ipaddr.IPv4.isValidFourPartDecimal(end)) return undefined;
  if (gateway !== undefined && gateway !== '' && !ipaddr.IPv4.isValidFourPartDecimal(gateway)) return undefined;
  const [base, bits] = ipaddr.IPv4.parseCIDR(subnet);
  const size = 2 ** (32 - bits);
  const network = toInt(base.toString()) - (toInt(base.toString()) % size);
  const broadcast = network + size - 1;
  const inside = (n: number): boolean => n >= network && n <= broadcast;
  let s = toInt(start);
  let e = end === '' ? broadcast - 1 : toInt(end);
  if (!inside(s) || !inside(e) || s > e) return undefined;
  const gw = gateway ? toInt(gateway) : network + 1;
  const notes: string[] = [];
  if (end === '') notes.push(`no DHCP range end: the last host ${toIp(e)} (as EVE does)`);
  if (s === network) {
    s += 1;
    notes.push(`DHCP range start ${start} is the network address: starts at ${toIp(s)} (as EVE corrects it)`);
  }
  if (s === gw) {
    s = gw + 1;
    notes.push(`DHCP range start ${toIp(gw)} is the gateway: starts at ${toIp(s)} (as EVE corrects it)`);
  }
  if (e === broadcast) {
    e -= 1;
    notes.push(`DHCP range end ${toIp(broadcast)} is the broadcast address: ends at ${toIp(e)} (as EVE corrects it)`);
  }
  if (e >= s && e - s + 1 > EVE_RANGE_MAX + 1) {
    e = s + EVE_RANGE_MAX;
    notes.push(`DHCP range ${toIp(s)}-${end || toIp(broadcast - 1)} is larger than EVE allocates from: capped at ${toIp(e)}`);
  }
  return { range: { start: toIp(s), end: toIp(e) }, notes };
}
