// The netlink package's own parse of a link message, reduced to the fields src/drivers/netlink-link-parse.ts reads:
// the reference the unit test and the kernel fixture compare edgenet's reader with.
import { ifla, rt } from 'netlink';

/** The package's parse, as the fields parseLinkFields names. */
export function viaPackage(buf: Buffer): Record<string, unknown> {
  const { data, attrs } = rt.parseLinkMessage(buf);
  const out: Record<string, unknown> = { family: data.family ?? 0, index: data.index ?? 0, up: data.flags?.up === true, lowerUp: data.flags?.lowerUp === true };
  if (attrs.ifname !== undefined) out.ifname = attrs.ifname;
  if (attrs.mtu !== undefined) out.mtu = attrs.mtu;
  if (attrs.address !== undefined) out.mac = [...attrs.address].map((x) => x.toString(16).padStart(2, '0')).join(':');
  if (attrs.master !== undefined) out.master = attrs.master;
  if (attrs.operstate !== undefined) out.operstate = attrs.operstate;
  if (attrs.carrier !== undefined) out.carrier = attrs.carrier;
  if (attrs.ifalias !== undefined) out.alias = attrs.ifalias;
  if (attrs.link !== undefined) out.link = attrs.link.readUInt32LE(0);
  if (attrs.linkNetnsid !== undefined) out.linkNetnsid = attrs.linkNetnsid;
  if (attrs.linkinfo) {
    const kind = ifla.parseInfo(attrs.linkinfo).kind;
    if (kind !== undefined) out.kind = kind;
  }
  if (attrs.protinfo) {
    out.protinfo = true;
    const state = attrs.protinfo.get(1)?.readUInt8(0);
    const guard = attrs.protinfo.get(5)?.readUInt8(0);
    if (state !== undefined) out.brportState = state;
    if (guard !== undefined) out.brportGuard = guard;
  }
  return out;
}
