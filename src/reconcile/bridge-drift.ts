import type { AddressInfo, LinkInfo } from '../drivers/links.ts';

// What an NI's bridge must look like once the NI is ready, and the words for how it differs: used on link events
// (a NEWLINK of the bridge) and by the periodic audit (addresses, renames). Pure.

export interface BridgeWant {
  ni: string;
  /** the name and ifindex edgenet made it with */
  name: string;
  ifindex: number;
  alias: string;
  /** only when the config sets one (otherwise the kernel's own choice is not drift) */
  mtu?: number;
  /** local NIs: exactly this address (the gateway); switch NIs: undefined (their addresses are not edgenet's) */
  address?: { address: string; prefixlen: number };
}

/** How the link differs from what it must be (undefined: it is right). `addrs`: the link's IPv4 addresses, when read. */
export function bridgeDrift(want: BridgeWant, link: LinkInfo | undefined, addrs?: readonly AddressInfo[]): string | undefined {
  if (!link) return `bridge ${want.name} deleted behind edgenet's back`;
  const problems: string[] = [];
  if (link.ifname !== want.name) problems.push(`bridge ${want.name} renamed to ${link.ifname}`);
  if (!link.up) problems.push(`bridge ${want.name} set down`);
  if (want.mtu !== undefined && link.mtu !== want.mtu) problems.push(`bridge ${want.name} MTU ${link.mtu}, want ${want.mtu}`);
  if (link.alias !== want.alias) problems.push(`bridge ${want.name} alias ${link.alias === undefined ? 'removed' : `changed to "${link.alias}"`}`);
  if (link.master !== undefined) problems.push(`bridge ${want.name} enslaved to ifindex ${link.master}`);
  if (want.address && addrs) {
    const gw = want.address;
    const own = addrs.filter((a) => a.ifindex === link.ifindex);
    if (!own.some((a) => a.address === gw.address && a.prefixlen === gw.prefixlen)) problems.push(`gateway ${gw.address}/${gw.prefixlen} missing on ${want.name}`);
    for (const a of own) if (a.address !== gw.address || a.prefixlen !== gw.prefixlen) problems.push(`foreign address ${a.address}/${a.prefixlen} on ${want.name}`);
  }
  return problems.length ? `${problems.join('; ')} (behind edgenet's back)` : undefined;
}
