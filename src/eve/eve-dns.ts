// EVE's names and routes for apps → edgenet: what a local NI tells its apps (ip.dns, ip.ntp + moreNtp, ip.domain),
// its static routes (staticRoutes, propagateConnectedRoutes) and static DNS entries (dns[]), and a port's upstream
// DNS servers (ip.dns of the NetworkConfig its SystemAdapter references). Findings name what stays unsupported.
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { defaultGateway, subnetInfo } from '../config/config-resolve.ts';
import type { ConfigInput } from '../config/config-schema.ts';
import type { EdgeDevConfig, EveNetworkInstance, EveSystemAdapter } from './eve-schema.ts';
import type { EveFinding } from './eve-types.ts';

type NetworkInput = ConfigInput['networks'] extends (infer N)[] | undefined ? N : never;
type LocalInput = Extract<NetworkInput, { type: 'local' }>;

/** What the converter lends: findings, and the map from edgenet config paths to EVE paths. */
export interface EveDnsContext {
  find(level: EveFinding['level'], path: string, subject: string, field: string, message: string): void;
  sources: Record<string, string>;
}

// NetworkConfig (netconfig.proto), only what edgenet reads: the port's own static IP configuration.
const str = z.string().catch('');
const networkConfigSchema = z.looseObject({
  id: str.default(''),
  ip: z.looseObject({ dhcp: z.union([z.number(), z.string()]).catch(0).default(0), subnet: str.default(''), gateway: str.default(''), dns: z.array(z.string()).catch([]).default([]) }).optional(),
});
type NetworkConfig = z.output<typeof networkConfigSchema>;

const isV4 = (a: string): boolean => ipaddr.IPv4.isValidFourPartDecimal(a);
// IPv6 is not served: dropped with a finding; anything else that is not an address goes on to validation, which
// refuses it with its EVE path
const isV6 = (a: string): boolean => a.includes(':');

/** The NetworkConfig a SystemAdapter references (`networkUUID`), with its index in `networks`. */
export function portNetworkOf(eve: EdgeDevConfig, adapter: EveSystemAdapter): { net: NetworkConfig; index: number } | undefined {
  if (!adapter.networkUUID) return undefined;
  for (const [index, raw] of eve.networks.entries()) {
    const parsed = networkConfigSchema.safeParse(raw);
    if (parsed.success && parsed.data.id === adapter.networkUUID) return { net: parsed.data, index };
  }
  return undefined;
}

/**
 * A port's upstream DNS servers: `ip.dns` of the NetworkConfig its SystemAdapter references (IPv4 only). A port
 * whose servers come from its DHCP client has none here: its resolv file can be given as `ports[].resolvConf`.
 */
export function evePortDns(eve: EdgeDevConfig, adapter: EveSystemAdapter, adapterIndex: number, portPath: string, ctx: EveDnsContext): string[] | undefined {
  const found = portNetworkOf(eve, adapter);
  const subject = `port ${adapter.name}`;
  if (!found) {
    if (adapter.networkUUID) {
      ctx.find('info', `systemAdapterList[${adapterIndex}].networkUUID`, subject, 'networkUUID', `no networks[] entry with id "${adapter.networkUUID}": the port has no static DNS servers`);
    }
    return undefined;
  }
  const at = `networks[${found.index}].ip.dns`;
  const dns: string[] = [];
  (found.net.ip?.dns ?? []).forEach((a, k) => {
    if (isV6(a)) {
      ctx.find('warning', `${at}[${k}]`, subject, 'ip.dns', `${JSON.stringify(a)} is not an IPv4 address: not used as an upstream resolver`);
      return;
    }
    ctx.sources[`${portPath}.dns[${dns.length}]`] = `${at}[${k}]`;
    dns.push(a);
  });
  if (dns.length > 0) {
    ctx.sources[`${portPath}.dns`] = at;
    ctx.find('info', at, subject, 'ip.dns', `the local NIs on port ${adapter.name} forward to ${dns.join(', ')}, pinned to the port`);
    return dns;
  }
  ctx.find('info', `networks[${found.index}].ip`, subject, 'ip.dns',
    'no static DNS servers for this port: the NIs on it have no upstream unless ports[].resolvConf names the resolv file of its DHCP client');
  return undefined;
}

/** dhcp (ip.dns, ip.ntp + moreNtp, ip.domain), routes (staticRoutes, propagateConnectedRoutes) and dns.hosts (dns[]). */
export function eveNiServices(
  ni: EveNetworkInstance,
  at: string,
  to: string,
  subject: string,
  ctx: EveDnsContext,
  portNetwork: { net: NetworkConfig; index: number } | undefined,
): Pick<Partial<LocalInput>, 'dhcp' | 'routes' | 'dns'> {
  const out: Pick<Partial<LocalInput>, 'dhcp' | 'routes' | 'dns'> = {};
  const ip = ni.ip;
  const dhcp: NonNullable<LocalInput['dhcp']> = {};

  // ip.dns is what apps are told (option 6); the upstream is the port's servers (EVE: the port's DNS, not ip.dns)
  const dns: string[] = [];
  (ip?.dns ?? []).forEach((a, k) => {
    if (isV6(a)) {
      ctx.find('warning', `${at}.ip.dns[${k}]`, subject, 'ip.dns', `IPv6 DNS server ${a} is not supported: not told to apps`);
      return;
    }
    ctx.sources[`${to}.dhcp.dns[${dns.length}]`] = `${at}.ip.dns[${k}]`;
    dns.push(a);
  });
  if (dns.length > 0) {
    dhcp.dns = dns;
    ctx.sources[`${to}.dhcp.dns`] = `${at}.ip.dns`;
  }

  const ntp: string[] = [];
  const ntpIn = [
    ...(ip?.ntp ? [{ a: ip.ntp, path: `${at}.ip.ntp`, field: 'ip.ntp' }] : []),
    ...(ip?.moreNtp ?? []).map((a, k) => ({ a, path: `${at}.ip.moreNtp[${k}]`, field: 'ip.moreNtp' })),
  ];
  for (const { a, path, field } of ntpIn) {
    if (isV6(a) || (!isV4(a) && /[a-z]/i.test(a))) {
      ctx.find('warning', path, subject, field, `NTP server ${JSON.stringify(a)} is not an IPv4 address (a name is not resolved for DHCP option 42): not told to apps`);
      continue;
    }
    if (ntp.includes(a)) continue;
    ctx.sources[`${to}.dhcp.ntp[${ntp.length}]`] = path;
    ntp.push(a);
  }
  if (ntp.length > 0) dhcp.ntp = ntp;

  if (ip?.domain) {
    dhcp.domain = ip.domain;
    ctx.sources[`${to}.dhcp.domain`] = `${at}.ip.domain`;
  }
  if (Object.keys(dhcp).length > 0) out.dhcp = dhcp;

  const routes: { to: string; via: string }[] = [];
  ni.staticRoutes.forEach((r, k) => {
    const where = `${at}.staticRoutes[${k}]`;
    if (r.destinationNetwork.includes(':') || r.gateway.includes(':')) {
      ctx.find('warning', where, subject, 'staticRoutes', `IPv6 route ${r.destinationNetwork} via ${r.gateway} is not supported: ignored`);
      return;
    }
    if (r.port) {
      ctx.find('warning', `${where}.port`, subject, 'staticRoutes', `a route pinned to port "${r.port}" is not supported: offered and installed as its gateway calls for`);
    }
    const n = routes.length;
    ctx.sources[`${to}.routes[${n}]`] = where;
    ctx.sources[`${to}.routes[${n}].to`] = `${where}.destinationNetwork`;
    ctx.sources[`${to}.routes[${n}].via`] = `${where}.gateway`;
    routes.push({ to: r.destinationNetwork, via: r.gateway });
  });
  if (ni.propagateConnectedRoutes) {
    const subnet = portNetwork?.net.ip?.subnet ?? '';
    if (ipaddr.IPv4.isValidCIDRFourPartDecimal(subnet) && ip?.subnet && ipaddr.IPv4.isValidCIDRFourPartDecimal(ip.subnet)) {
      // the port's connected subnet, offered to apps via the NI's gateway (EVE propagates the port's connected routes)
      const cidr = subnetInfo(subnet).cidr;
      const via = ip.gateway || defaultGateway(subnetInfo(ip.subnet));
      if (!routes.some((r) => r.to === cidr)) {
        ctx.sources[`${to}.routes[${routes.length}]`] = `${at}.propagateConnectedRoutes`;
        routes.push({ to: cidr, via });
        ctx.find('info', `${at}.propagateConnectedRoutes`, subject, 'propagateConnectedRoutes', `the port's connected subnet ${cidr} (networks[${portNetwork?.index ?? '?'}].ip.subnet) is offered to apps via the gateway ${via}`);
      }
    } else {
      ctx.find('warning', `${at}.propagateConnectedRoutes`, subject, 'propagateConnectedRoutes',
        "the port's connected subnet is known only for a port with a static subnet in its NetworkConfig: nothing propagated");
    }
  }
  if (routes.length > 0) out.routes = routes;

  // dns[]: every DNS name, every IPv4 address
  const hosts: { name: string; ips: string[] }[] = [];
  ni.dns.forEach((e, k) => {
    const where = `${at}.dns[${k}]`;
    const v4 = e.Address.map((a, m) => ({ a, m })).filter(({ a }) => !isV6(a));
    if (v4.length > 0 && v4.length < e.Address.length) ctx.find('warning', `${where}.Address`, subject, 'dns', `IPv6 addresses of ${e.HostName} are not served: ignored`);
    if (v4.length === 0) {
      ctx.find('warning', `${where}.Address`, subject, 'dns', `${e.HostName} has no IPv4 address: entry ignored`);
      return;
    }
    const h = hosts.length;
    ctx.sources[`${to}.dns.hosts[${h}]`] = where;
    ctx.sources[`${to}.dns.hosts[${h}].name`] = `${where}.HostName`;
    v4.forEach(({ m }, i) => {
      ctx.sources[`${to}.dns.hosts[${h}].ips[${i}]`] = `${where}.Address[${m}]`;
    });
    hosts.push({ name: e.HostName, ips: v4.map(({ a }) => a) });
  });
  if (hosts.length > 0) {
    ctx.sources[`${to}.dns.hosts`] = `${at}.dns`;
    out.dns = { hosts };
  }
  return out;
}
