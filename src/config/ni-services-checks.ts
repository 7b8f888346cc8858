import ipaddr from 'ipaddr.js';
import type { ConfigIssue } from '../errors.ts';
import type { Config, LocalNetworkSpec } from './config-schema.ts';
import { defaultGateway, ipToInt, subnetInfo } from './config-resolve.ts';
import { niPortNames } from './config-switch.ts';

// Rules for what a local NI offers its apps beyond addresses: static routes, DHCP options, static DNS entries.
// The schema has checked the shapes (addresses, prefixes, DNS names); this checks how they fit the NI.

type Address = { address: string; prefixlen: number };

function locals(config: Config): { ni: LocalNetworkSpec; i: number }[] {
  return config.networks.flatMap((ni, i) => (ni.type === 'local' && ipaddr.IPv4.isValidCIDRFourPartDecimal(ni.subnet) ? [{ ni, i }] : []));
}

function contains(cidr: string, ip: string): boolean {
  return ipaddr.IPv4.parse(ip).match(ipaddr.IPv4.parseCIDR(cidr));
}

function overlaps(a: string, b: string): boolean {
  const [aNet, aLen] = ipaddr.IPv4.parseCIDR(a);
  const [bNet, bLen] = ipaddr.IPv4.parseCIDR(b);
  return aLen <= bLen ? bNet.match(aNet, aLen) : aNet.match(bNet, bLen);
}

/** Without the kernel: route shapes, routes overlapping the NI's own subnet, gateways a port-less NI cannot reach, DNS entries. */
export function checkNiServices(config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const { ni, i } of locals(config)) {
    const at = `networks[${i}]`;
    const s = subnetInfo(ni.subnet);
    const gateway = ni.gateway ?? defaultGateway(s);
    const seen = new Map<string, number>();
    (ni.routes ?? []).forEach((r, k) => {
      const path = `${at}.routes[${k}]`;
      const to = subnetInfo(r.to);
      if (to.cidr !== r.to) {
        issues.push({ path: `${path}.to`, message: `route destination ${r.to} has host bits set (did you mean ${to.cidr}?)` });
        return;
      }
      const again = seen.get(to.cidr);
      if (again !== undefined) issues.push({ path: `${path}.to`, message: `a second route to ${r.to} on network "${ni.name}" (also routes[${again}])` });
      seen.set(to.cidr, k);
      if (to.prefixlen > 0 && overlaps(r.to, ni.subnet)) {
        issues.push({ path: `${path}.to`, message: `route to ${r.to} overlaps the subnet ${s.cidr} of network "${ni.name}" itself (its apps reach it directly)` });
      }
      const n = ipToInt(r.via);
      if (n >= s.network && n <= s.broadcast) {
        if (n === s.network || n === s.broadcast) {
          issues.push({ path: `${path}.via`, message: `route gateway ${r.via} is the ${n === s.network ? 'network' : 'broadcast'} address of subnet ${s.cidr}` });
        }
        return;
      }
      if (niPortNames(ni).length === 0) {
        issues.push({
          path: `${path}.via`,
          message: `route gateway ${r.via} is not on the subnet ${s.cidr} of network "${ni.name}", which has no port: a gateway is an app on the NI (an address of its subnet), the NI's gateway ${gateway}, or a router on one of its ports' subnets`,
        });
      }
    });
    (ni.dns?.hosts ?? []).forEach((h, j) => {
      if (h.ip === undefined && (h.ips ?? []).length === 0) issues.push({ path: `${at}.dns.hosts[${j}]`, message: `DNS entry "${h.name}" needs an address: ip or ips` });
    });
  }
  return issues;
}

/**
 * With the kernel's addresses of the ports: a route gateway outside the NI's subnet must be on the subnet of one of the
 * NI's ports (the device hands the route on to that router). A port with no IPv4 address yet (its DHCP client has not
 * finished) cannot be judged: its NIs' routes are accepted, and installed once their gateway is reachable.
 */
export function checkRouteGateways(config: Config, addressesOf: (ifname: string) => Address[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const ports = new Map(config.ports.map((p) => [p.name, p]));
  for (const { ni, i } of locals(config)) {
    const s = subnetInfo(ni.subnet);
    const uplinks = niPortNames(ni).flatMap((name) => {
      const p = ports.get(name);
      return p ? [{ port: p, subnets: addressesOf(p.ifname).filter((a) => ipaddr.IPv4.isValidFourPartDecimal(a.address) && a.prefixlen >= 0 && a.prefixlen <= 32) }] : [];
    });
    if (uplinks.length === 0 || uplinks.some((u) => u.subnets.length === 0)) continue;
    (ni.routes ?? []).forEach((r, k) => {
      const n = ipToInt(r.via);
      if (n >= s.network && n <= s.broadcast) return;
      const nets = uplinks.flatMap((u) => u.subnets.map((a) => ({ port: u.port, cidr: subnetInfo(`${a.address}/${a.prefixlen}`).cidr, address: a.address })));
      if (nets.some((x) => contains(x.cidr, r.via) && x.address !== r.via)) return;
      const where = nets.map((x) => `${x.cidr} on port "${x.port.name}" (${x.port.ifname})`).join(', ');
      issues.push({
        path: `networks[${i}].routes[${k}].via`,
        message: `route gateway ${r.via} is neither on the subnet ${s.cidr} of network "${ni.name}" nor on a subnet of its ports (${where})`,
      });
    });
  }
  return issues;
}
