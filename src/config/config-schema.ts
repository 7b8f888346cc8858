import { z } from 'zod';
import { accessVlanIdSchema, niPortsSchema, stpSchema, vlanPortSchema } from './config-switch.ts';
import { aclRuleSchema } from './acl-schema.ts';
import { portBondSchema, portVlanSchema } from './port-links-schema.ts';

// Names end up in kernel object names and dnsmasq files: keep them short and shell/DNS safe.
const name = z
  .string({ error: 'must be a string' })
  .regex(/^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/, { error: 'must match [a-z0-9-]{1,15}, not starting or ending with "-"' });

const appName = z
  .string({ error: 'must be a string' })
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, { error: 'must be a DNS label: [a-z0-9-]{1,63}, not starting or ending with "-"' });

// Linux interface names: 1..15 bytes, no '/', ':' or white space, not "." or ".." (dev_valid_name refuses them).
const ifname = z
  .string({ error: 'must be a string' })
  .regex(/^[A-Za-z0-9_.-]{1,15}$/, { error: 'must be an interface name: [A-Za-z0-9_.-]{1,15}' })
  .refine((n) => n !== '.' && n !== '..', { error: 'must not be "." or "..": Linux refuses them as interface names' });

const ipv4 = z.ipv4({ error: 'must be an IPv4 address' });
const cidr4 = z.cidrv4({ error: 'must be an IPv4 prefix such as 10.0.0.0/24' });
const mac = z
  .string({ error: 'must be a string' })
  .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, { error: 'must be a MAC address such as 02:00:00:00:00:01' })
  .transform((m) => m.toLowerCase())
  // A multicast or all-zero MAC cannot be set on an interface.
  .refine((m) => (Number.parseInt(m.slice(0, 2), 16) & 1) === 0 && m !== '00:00:00:00:00:00', {
    error: 'must be a unicast MAC address (lowest bit of the first octet clear, not all zeros)',
  });
const mtu = z.number({ error: 'must be a number' }).int({ error: 'must be an integer' }).min(576, { error: 'must be at least 576' }).max(9216, { error: 'must be at most 9216' });

const int = (what: string, min: number, max: number) =>
  z.number({ error: 'must be a number' }).int({ error: 'must be an integer' }).min(min, { error: `${what} must be at least ${min}` }).max(max, { error: `${what} must be at most ${max}` });

// A reachability check of the path behind a port: a port whose carrier is up but whose probe fails is not selected.
const probeTiming = { intervalMs: int('intervalMs', 100, 600_000).optional(), timeoutMs: int('timeoutMs', 50, 60_000).optional() };
export const portProbeSchema = z.discriminatedUnion(
  'kind',
  [
    // ping of the port's gateway (ports[].gateway, else the default route's gateway on that port)
    z.strictObject({ kind: z.literal('ping'), ...probeTiming }),
    z.strictObject({ kind: z.literal('tcp'), host: ipv4, port: int('port', 1, 65535), ...probeTiming }),
  ],
  { error: 'must be { kind: ping } or { kind: tcp, host, port }' },
);

// A DNS name: dot-separated labels (an FQDN such as printer.plant.example), at most 253 characters.
const dnsName = z
  .string({ error: 'must be a string' })
  .max(253, { error: 'must be a DNS name of at most 253 characters' })
  .regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/, {
    error: 'must be a DNS name: labels of [a-z0-9-]{1,63} separated by dots, not starting or ending with "-"',
  })
  .transform((n) => n.toLowerCase().replace(/\.$/, ''));

export const portSchema = z.strictObject({
  name,
  ifname,
  // Facts the data plane needs, learned from the kernel when absent (the gateway from the main table's default route).
  gateway: ipv4.optional(),
  /** lower wins when a local NI with several ports selects one (default 0) */
  cost: int('cost', 0, 255).optional(),
  probe: portProbeSchema.optional(),
  /** upstream resolvers reached through this port (what the NIs on it forward to, pinned to it) */
  dns: z.array(ipv4).optional(),
  /** a resolv.conf that this port's DHCP client writes: its nameservers are learned for this port alone (watched) */
  resolvConf: z.string({ error: 'must be a string' }).regex(/^\/\S+$/, { error: 'must be an absolute file path' }).optional(),
  /** edgenet creates `ifname` as a VLAN sub-interface (src/config/port-links-schema.ts) */
  vlan: portVlanSchema.optional(),
  /** edgenet creates `ifname` as a bond of member links */
  bond: portBondSchema.optional(),
});

export const dnsHostSchema = z.strictObject({ name: dnsName, ip: ipv4.optional(), ips: z.array(ipv4).optional() });

export const dnsSchema = z.strictObject({
  forwarders: z.array(ipv4).default([]),
  hosts: z.array(dnsHostSchema).default([]),
  // names apps ask for in DHCP are published in DNS only when this is true (and never over app names, dns.hosts, router)
  dhcpHostnames: z.boolean({ error: 'must be true or false' }).optional(),
});

/** What apps are told by DHCP (options 6, 42, 15 + 119). */
export const dhcpSchema = z.strictObject({
  dns: z.array(ipv4).optional(),
  ntp: z.array(ipv4).optional(),
  domain: dnsName.optional(),
});

/** A static route offered to apps (options 121 + 249) and installed on the device side as its gateway calls for. */
export const routeSchema = z.strictObject({ to: cidr4, via: ipv4 });

// `port` names one port; several go in `ports` (a switch NI only with `stp`: two ports on one segment are a loop).
const niPort = z
  .string({
    error: (iss) =>
      Array.isArray(iss.input) ? `${iss.input.length} ports given: port names one port; several go in ports: [...]` : 'must be a string',
  })
  .regex(/^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/, { error: 'must be a port name from ports' });

const niCommon = { name, port: niPort.optional(), ports: niPortsSchema.optional(), mtu: mtu.optional() };


export const switchNetworkSchema = z.strictObject({
  ...niCommon,
  type: z.literal('switch'),
  stp: stpSchema.optional(),
  vlanPorts: z.array(vlanPortSchema).optional(),
});

export const localNetworkSchema = z.strictObject({
  ...niCommon,
  type: z.literal('local'),
  /** how long a recovered better port must stay up before a multi-port NI takes it back (default 2000) */
  holdDownMs: int('holdDownMs', 0, 600_000).optional(),
  subnet: cidr4,
  gateway: ipv4.optional(),
  dhcpRange: z.strictObject({ start: ipv4, end: ipv4 }).optional(),
  dns: dnsSchema.optional(),
  dhcp: dhcpSchema.optional(),
  routes: z.array(routeSchema).optional(),
});

export const networkSchema = z.discriminatedUnion('type', [switchNetworkSchema, localNetworkSchema], {
  error: (issue) => {
    if (issue.code !== 'invalid_union') return undefined;
    const type: unknown = isRecord(issue.input) ? issue.input['type'] : undefined;
    return type === undefined ? 'type is required: "local" or "switch"' : `type must be "local" or "switch", got ${JSON.stringify(type)}`;
  },
});

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const netnsRule = 'must be a namespace path such as /run/netns/web, or a pid';

export const interfaceSchema = z.strictObject({
  network: name,
  // veth: edgenet creates the pair and moves one end into this namespace (a path such as /run/netns/web, or a pid).
  netns: z
    .union([z.string().regex(/^\/\S*$/, { error: netnsRule }), z.number().int({ error: netnsRule }).positive({ error: netnsRule })], {
      error: netnsRule,
    })
    .optional(),
  ifname: ifname.optional(),
  // tap: the hypervisor creates the interface; edgenet waits for it and enslaves it.
  tap: ifname.optional(),
  ip: ipv4.optional(),
  mac: mac.optional(),
  accessVlanId: accessVlanIdSchema.optional(),
  // ACLs (src/config/acl-schema.ts): present, the interface gets only what they allow; absent, what its NI allows
  acls: z.array(aclRuleSchema).optional(),
});

export const appSchema = z.strictObject({
  name: appName,
  interfaces: z.array(interfaceSchema).default([]),
  /** cloud-init user data (base64), served to the app by the metadata service at 169.254.169.254 on local NIs */
  userData: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, { error: 'must be base64 (plain, not encrypted)' }).optional(),
});

export const configSchema = z.strictObject({
  ports: z.array(portSchema).default([]),
  networks: z.array(networkSchema).default([]),
  apps: z.array(appSchema).default([]),
});

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type PortSpec = z.output<typeof portSchema>;
export type PortProbe = z.output<typeof portProbeSchema>;
export type NetworkSpec = z.output<typeof networkSchema>;
export type SwitchNetworkSpec = z.output<typeof switchNetworkSchema>;
export type LocalNetworkSpec = z.output<typeof localNetworkSchema>;
export type AppSpec = z.output<typeof appSchema>;
export type InterfaceSpec = z.output<typeof interfaceSchema>;
export type RouteSpec = z.output<typeof routeSchema>;
