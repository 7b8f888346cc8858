import ipaddr from 'ipaddr.js';
import { deriveMac } from '../util/names.ts';
import type { ConfigIssue } from '../errors.ts';
import type { Config, LocalNetworkSpec } from './config-schema.ts';
import { checkAcls } from './acl-checks.ts';
import { appIfnames, defaultDhcpRange, defaultGateway, intToIp, ipToInt, isVeth, subnetInfo } from './config-resolve.ts';
import type { SubnetInfo } from './config-resolve.ts';
import { firstEarlierOverlap } from './subnet-overlaps.ts';
import { checkNiServices } from './ni-services-checks.ts';
import { checkSwitchPorts } from './config-checks-switch.ts';
import { niPortNames } from './config-switch.ts';
import { checkPortLinks } from './port-links-checks.ts';

// Rules the schema cannot express: references, uniqueness, address arithmetic. Nothing here needs the kernel.

/**
 * Interface names edgenet derives for its own links (names.ts: bridges `enbr…`, veth host ends `env` + 12 hex).
 * Only these shapes are reserved, not all of `en*`: systemd names real NICs `enp3s0`, `eno1`, `ens18`, and those
 * are exactly the ports a user configures.
 */
const RESERVED_IFNAME = /^(enbr|env[0-9a-f]{12}$)/;

export function isReservedIfname(ifname: string): boolean {
  return RESERVED_IFNAME.test(ifname);
}

export function crossCheck(config: Config): ConfigIssue[] {
  return [...checkPorts(config), ...checkNetworks(config), ...checkSwitchPorts(config), ...checkApps(config), ...checkNiServices(config), ...checkAcls(config), ...checkPortLinks(config)];
}

/**
 * A local NI whose subnet overlaps an address already on a configured port would take that port's route: the device
 * would lose its uplink. `addressesOf` answers with the kernel's addresses of an interface (non-IPv4 are ignored).
 */
export function checkPortAddresses(
  config: Config,
  addressesOf: (ifname: string) => { address: string; prefixlen: number }[],
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const addresses = config.ports.map((port) => ({ port, addresses: addressesOf(port.ifname).filter((a) => ipaddr.IPv4.isValidFourPartDecimal(a.address)) }));
  config.networks.forEach((ni, i) => {
    if (ni.type !== 'local' || !validSubnet(ni.subnet)) return;
    for (const { port, addresses: list } of addresses) {
      for (const a of list) {
        if (a.prefixlen < 0 || a.prefixlen > 32) continue;
        if (!overlaps(ni.subnet, `${a.address}/${a.prefixlen}`)) continue;
        const whose = niPortNames(ni).includes(port.name) ? 'its port' : 'port';
        issues.push({
          path: `networks[${i}].subnet`,
          message: `subnet ${ni.subnet} overlaps address ${a.address}/${a.prefixlen} already on ${whose} "${port.name}" (${port.ifname}): the device would lose its uplink`,
        });
      }
    }
  });
  return issues;
}

function checkPorts(config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  issues.push(...duplicates(config.ports.map((p) => p.name), (i, first, name) => ({
    path: `ports[${i}].name`,
    message: `duplicate port name "${name}" (also ports[${first}])`,
  })));
  issues.push(...duplicates(config.ports.map((p) => p.ifname), (i, first, ifname) => ({
    path: `ports[${i}].ifname`,
    message: `interface "${ifname}" is already port "${config.ports[first]?.name}" (ports[${first}])`,
  })));
  config.ports.forEach((p, i) => {
    if (isReservedIfname(p.ifname)) {
      issues.push({ path: `ports[${i}].ifname`, message: reservedMessage(p.ifname) });
    }
  });
  return issues;
}

function checkNetworks(config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  issues.push(...duplicates(config.networks.map((n) => n.name), (i, first, name) => ({
    path: `networks[${i}].name`,
    message: `duplicate network name "${name}" (also networks[${first}])`,
  })));
  const portNames = new Set(config.ports.map((p) => p.name));
  // Ports are shared as EVE shares them: as many local NIs as wanted, and at most one switch NI, per port.
  const switchUser = new Map<string, string>();
  // a single-port switch NI shares its port with local NIs (its addresses move onto the bridge, which they NAT out
  // of); a port of a switch NI with several ports serves nothing else (as EVE: such ports are L2 only)
  const multiSwitchPorts = new Map(config.networks.flatMap((n) => (n.type === 'switch' && niPortNames(n).length > 1 ? niPortNames(n).map((p) => [p, n.name] as const) : [])));
  config.networks.forEach((ni, i) => {
    niPortNames(ni).forEach((port, k) => {
      const sw = multiSwitchPorts.get(port);
      if (ni.type === 'local' && sw !== undefined && portNames.has(port)) {
        const path = ni.ports ? `networks[${i}].ports[${k}]` : `networks[${i}].port`;
        issues.push({ path, message: `port "${port}" is one of several ports of switch network "${sw}": a local network cannot share it (only a single-port switch network's port carries the device's addresses)` });
      }
    });
  });
  config.networks.forEach((ni, i) => {
    niPortNames(ni).forEach((port, k) => {
      const path = ni.ports ? `networks[${i}].ports[${k}]` : `networks[${i}].port`;
      const user = switchUser.get(port);
      if (!portNames.has(port)) {
        issues.push({ path, message: `unknown port "${port}" (not in ports)` });
      } else if (ni.type === 'switch' && user !== undefined && user !== ni.name) {
        issues.push({ path, message: `port "${port}" is already bridged by switch network "${user}": two switch networks cannot share a port` });
      } else if (ni.type === 'switch') {
        switchUser.set(port, ni.name);
      }
    });
    if (ni.type === 'local') issues.push(...checkLocal(ni, i));
  });
  issues.push(...checkOverlaps(config));
  return issues;
}

function validSubnet(cidr: string): boolean {
  return ipaddr.IPv4.isValidCIDRFourPartDecimal(cidr);
}

function checkLocal(ni: LocalNetworkSpec, i: number): ConfigIssue[] {
  const at = `networks[${i}]`;
  if (!validSubnet(ni.subnet)) return [{ path: `${at}.subnet`, message: `subnet "${ni.subnet}" is not an IPv4 prefix` }];
  const s = subnetOf(ni);
  if (s.cidr !== ni.subnet) {
    return [{ path: `${at}.subnet`, message: `subnet ${ni.subnet} has host bits set (did you mean ${s.cidr}?)` }];
  }
  if (s.prefixlen > 30) {
    return [{ path: `${at}.subnet`, message: `subnet ${ni.subnet} is too small: a local network needs at least a /30 (a gateway and one host)` }];
  }
  const kind = unusableRange(s);
  if (kind) return [{ path: `${at}.subnet`, message: `subnet ${ni.subnet} is ${kind} address space` }];

  const issues: ConfigIssue[] = [];
  const gatewayOk = ni.gateway === undefined || checkHost(s, ni.gateway, `${at}.gateway`, 'gateway', issues);
  const gateway = gatewayOk ? (ni.gateway ?? defaultGateway(s)) : undefined;
  const gatewayWords = ni.gateway === undefined ? `the gateway ${gateway} (default: first host)` : `the gateway ${gateway}`;

  if (ni.dhcpRange) {
    const startOk = checkHost(s, ni.dhcpRange.start, `${at}.dhcpRange.start`, 'DHCP range start', issues);
    const endOk = checkHost(s, ni.dhcpRange.end, `${at}.dhcpRange.end`, 'DHCP range end', issues);
    if (startOk && endOk) {
      const start = ipToInt(ni.dhcpRange.start);
      const end = ipToInt(ni.dhcpRange.end);
      if (start > end) {
        issues.push({ path: `${at}.dhcpRange`, message: `DHCP range start ${ni.dhcpRange.start} is after its end ${ni.dhcpRange.end}` });
      } else if (gateway !== undefined && ipToInt(gateway) >= start && ipToInt(gateway) <= end) {
        issues.push({ path: `${at}.dhcpRange`, message: `DHCP range ${ni.dhcpRange.start}-${ni.dhcpRange.end} contains ${gatewayWords}` });
      }
    }
  } else if (gateway !== undefined && defaultDhcpRange(s, gateway) === undefined) {
    issues.push({ path: `${at}.subnet`, message: `subnet ${ni.subnet} leaves no address for a DHCP range besides the gateway` });
  }

  issues.push(...duplicates(ni.dns?.hosts.map((h) => h.name) ?? [], (j, first, name) => ({
    path: `${at}.dns.hosts[${j}].name`,
    message: `duplicate DNS host name "${name}" on network "${ni.name}" (also dns.hosts[${first}])`,
  })));
  return issues;
}

/** A host address of the subnet: inside it, and neither its network nor its broadcast address. */
function checkHost(s: SubnetInfo, ip: string, path: string, what: string, issues: ConfigIssue[], ni?: string): boolean {
  const of = ni === undefined ? '' : ` of network "${ni}"`;
  const n = ipToInt(ip);
  if (n < s.network || n > s.broadcast) {
    issues.push({ path, message: `${what} ${ip} is outside subnet ${s.cidr}${of}` });
    return false;
  }
  if (n === s.network || n === s.broadcast) {
    const which = n === s.network ? 'network' : 'broadcast';
    issues.push({ path, message: `${what} ${ip} is the ${which} address of subnet ${s.cidr}${of}` });
    return false;
  }
  return true;
}

function unusableRange(s: SubnetInfo): string | undefined {
  for (const edge of [s.network, s.broadcast]) {
    const range = ipaddr.IPv4.parse(intToIp(edge)).range();
    if (range === 'loopback' || range === 'multicast' || range === 'unspecified' || range === 'broadcast') return range;
  }
  return undefined;
}

function overlaps(a: string, b: string): boolean {
  const [aNet, aLen] = ipaddr.IPv4.parseCIDR(a);
  const [bNet, bLen] = ipaddr.IPv4.parseCIDR(b);
  // Two prefixes overlap exactly when the shorter one contains the longer one's address.
  return aLen <= bLen ? bNet.match(aNet, aLen) : aNet.match(bNet, bLen);
}

/** Each CIDR parsed once per check, however many interfaces refer to it. */
const subnets = new WeakMap<LocalNetworkSpec, SubnetInfo>();
function subnetOf(ni: LocalNetworkSpec): SubnetInfo {
  let s = subnets.get(ni);
  if (!s) {
    s = subnetInfo(ni.subnet);
    subnets.set(ni, s);
  }
  return s;
}

/** Sorted, not pairwise (subnet-overlaps.ts): 10 000 networks are checked in milliseconds. */
function checkOverlaps(config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const locals = config.networks
    .map((ni, i) => ({ ni, i }))
    .filter((x): x is { ni: LocalNetworkSpec; i: number } => x.ni.type === 'local' && validSubnet(x.ni.subnet));
  const earlier = firstEarlierOverlap(locals.map(({ ni }) => subnetOf(ni)));
  locals.forEach(({ ni, i }, k) => {
    const e = earlier[k];
    const other = e === undefined ? undefined : locals[e]?.ni;
    if (other) {
      issues.push({
        path: `networks[${i}].subnet`,
        message: `subnet ${ni.subnet} overlaps subnet ${other.subnet} of network "${other.name}"`,
      });
    }
  });
  return issues;
}

/** Per app interface, and across apps (names, taps, names inside namespaces, addresses, MACs): exported for the O(change) push (push-cache.ts). */
export function checkApps(config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  issues.push(...duplicates(config.apps.map((a) => a.name), (i, first, name) => ({
    path: `apps[${i}].name`,
    message: `duplicate app name "${name}" (also apps[${first}])`,
  })));
  const networks = new Map(config.networks.map((ni) => [ni.name, ni]));
  const portIfnames = new Map(config.ports.map((p) => [p.ifname, p.name]));
  const taps = new Map<string, string>();
  const inside = new Map<string, string>();
  // Per NI: addresses, MACs and DNS names already taken, with who took them.
  const ips = new Map<string, string>();
  const macs = new Map<string, string>();

  config.apps.forEach((app, a) => {
    const joined = new Map<string, number>();
    const names = appIfnames(app);
    app.interfaces.forEach((itf, k) => {
      const at = `apps[${a}].interfaces[${k}]`;
      const who = `app "${app.name}"`;
      const ni = networks.get(itf.network);
      if (!ni) issues.push({ path: `${at}.network`, message: `unknown network "${itf.network}"` });
      const again = joined.get(itf.network);
      if (again !== undefined) {
        issues.push({ path: `${at}.network`, message: `${who} already joins network "${itf.network}" (interfaces[${again}]): an app joins a network once` });
      } else {
        joined.set(itf.network, k);
      }

      if (itf.tap !== undefined && itf.netns !== undefined) {
        issues.push({ path: at, message: 'an interface has either tap (a hypervisor\'s interface) or netns (a veth into a namespace), not both' });
      } else if (itf.tap === undefined && itf.netns === undefined) {
        issues.push({ path: at, message: 'an interface needs netns (a veth into the app\'s namespace) or tap (a hypervisor\'s interface)' });
      }
      if (itf.tap !== undefined) {
        if (itf.ifname !== undefined) {
          issues.push({ path: `${at}.ifname`, message: `ifname names a veth inside the app's namespace; tap interface "${itf.tap}" is named by tap` });
        }
        const tapUser = taps.get(itf.tap);
        const port = portIfnames.get(itf.tap);
        if (tapUser !== undefined) issues.push({ path: `${at}.tap`, message: `tap "${itf.tap}" is already used by ${tapUser}` });
        else taps.set(itf.tap, `${who} on network "${itf.network}"`);
        if (port !== undefined) issues.push({ path: `${at}.tap`, message: `tap "${itf.tap}" is the interface of port "${port}"` });
        if (isReservedIfname(itf.tap)) issues.push({ path: `${at}.tap`, message: reservedMessage(itf.tap) });
      } else if (itf.netns !== undefined && isVeth(itf)) {
        const name = names[k] ?? 'eth0';
        const slot = `${String(itf.netns)}\u0000${name}`;
        const user = inside.get(slot);
        if (user !== undefined) {
          issues.push({
            path: `${at}.ifname`,
            message: `interface name "${name}" in namespace ${String(itf.netns)} is already used by ${user}${itf.ifname === undefined ? ' (default names are eth<n>, counting the app\'s veths)' : ''}`,
          });
        } else {
          inside.set(slot, `${who} on network "${itf.network}"`);
        }
      }

      if (!ni) return;
      if (itf.ip !== undefined) {
        if (ni.type === 'switch') {
          issues.push({ path: `${at}.ip`, message: `switch network "${ni.name}" has no IP services: ip is only for local networks` });
        } else if (validSubnet(ni.subnet)) {
          const s = subnetOf(ni);
          const gateway = ni.gateway ?? defaultGateway(s);
          const ipKey = `${ni.name}\u0000${itf.ip}`;
          const user = ips.get(ipKey);
          if (checkHost(s, itf.ip, `${at}.ip`, 'ip', issues, ni.name)) {
            if (itf.ip === gateway) issues.push({ path: `${at}.ip`, message: `ip ${itf.ip} is the gateway of network "${ni.name}"` });
            else if (user !== undefined) issues.push({ path: `${at}.ip`, message: `ip ${itf.ip} is already used by ${user} on network "${ni.name}"` });
            else ips.set(ipKey, who);
          }
        }
      }
      const mac = itf.mac ?? deriveMac(app.name, itf.network);
      const macKey = `${ni.name}\u0000${mac}`;
      const macUser = macs.get(macKey);
      if (macUser !== undefined) issues.push({ path: `${at}.mac`, message: `mac ${mac} is already used by ${macUser} on network "${ni.name}"` });
      else macs.set(macKey, who);
      if (ni.type === 'local') {
        const host = ni.dns?.hosts.findIndex((h) => h.name === app.name) ?? -1;
        if (host >= 0) {
          issues.push({ path: `${at}.network`, message: `app "${app.name}" gets the DNS name "${app.name}" on network "${ni.name}", which dns.hosts[${host}] also defines` });
        }
      }
    });
  });
  return issues;
}

function reservedMessage(ifname: string): string {
  return `interface name "${ifname}" is reserved: names starting "enbr" or "env" + 12 hex digits are edgenet's own links`;
}

/** Reports every occurrence after the first of a repeated value. */
function duplicates(values: readonly string[], report: (index: number, first: number, value: string) => ConfigIssue): ConfigIssue[] {
  const first = new Map<string, number>();
  const issues: ConfigIssue[] = [];
  values.forEach((v, i) => {
    const f = first.get(v);
    if (f === undefined) first.set(v, i);
    else issues.push(report(i, f, v));
  });
  return issues;
}
