import type { EndpointSpec, NiSpec } from '../machines/specs.ts';
import type { DhcpDns, DhcpDnsSpec, Reservation } from './drivers/dhcpdns.ts';
import type { Ipam } from './ipam.ts';

// IP services of local NIs: each app interface's reservation (IPAM) and the dnsmasq that serves them.
// NI actors register their spec here; endpoint actors add and remove their reservations.

export class LocalServices {
  private readonly nis = new Map<string, NiSpec>();
  private readonly members = new Map<string, Map<string, Reservation>>();

  constructor(
    private readonly ipam: Ipam,
    private readonly dhcpdns: DhcpDns,
  ) {}

  /** The NI's dnsmasq spec with every reservation known now. */
  specOf(ni: NiSpec): DhcpDnsSpec {
    const reservations = [...(this.members.get(ni.name)?.values() ?? [])].sort((a, b) => a.name.localeCompare(b.name));
    return {
      ni: ni.name,
      bridge: ni.bridge,
      subnet: ni.subnet ?? '',
      gateway: ni.gateway ?? '',
      prefixlen: ni.prefixlen ?? 24,
      range: ni.dhcpRange ?? { start: '', end: '' },
      ...(ni.mtu !== undefined && { mtu: ni.mtu }),
      forwarders: ni.dns?.forwarders ?? [],
      staticHosts: ni.dns?.hosts ?? [],
      reservations,
    };
  }

  /** Create or converge the NI's dnsmasq (called by the NI actor). */
  async ensureNi(ni: NiSpec, signal?: AbortSignal): Promise<number> {
    this.nis.set(ni.name, ni);
    const { pid } = await this.dhcpdns.ensure(this.specOf(ni), signal);
    return pid;
  }

  async removeNi(name: string): Promise<void> {
    this.nis.delete(name);
    await this.dhcpdns.remove(name);
  }

  /**
   * Reserve the endpoint's address (static, or kept from before, or allocated from the range) and make dnsmasq
   * serve it — before the interface exists, so the first DHCP request gets it and its name resolves.
   */
  async addEndpoint(ep: EndpointSpec, signal?: AbortSignal): Promise<string | undefined> {
    const ni = this.nis.get(ep.network);
    if (!ni?.dhcpRange || !ni.gateway) return undefined;
    const ip = this.ipam.reserve(ni.name, ep.key, {
      range: ni.dhcpRange,
      ...(ep.ip !== undefined && { static: ep.ip }),
      taken: [ni.gateway, ...(ni.dns?.hosts.map((h) => h.ip) ?? [])],
    });
    await this.ipam.save();
    let byKey = this.members.get(ni.name);
    if (!byKey) this.members.set(ni.name, (byKey = new Map()));
    byKey.set(ep.key, { name: ep.app, mac: ep.mac, ip });
    await this.dhcpdns.ensure(this.specOf(ni), signal);
    return ip;
  }

  /** Free the endpoint's reservation and evict its lease, so a redeployed app gets its address back. */
  async removeEndpoint(ep: EndpointSpec): Promise<void> {
    const byKey = this.members.get(ep.network);
    const had = byKey?.get(ep.key);
    byKey?.delete(ep.key);
    this.ipam.release(ep.network, ep.key);
    await this.ipam.save();
    const ni = this.nis.get(ep.network);
    if (!ni || !had) return;
    await this.dhcpdns.ensure(this.specOf(ni));
    await this.dhcpdns.evictLease(ni.name, had.mac);
  }

  addressOf(ep: { network: string; key: string }): string | undefined {
    return this.members.get(ep.network)?.get(ep.key)?.ip;
  }
}
