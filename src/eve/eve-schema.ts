// The part of an EVE controller's EdgeDevConfig (protobuf JSON form) that edgenet reads. Objects are loose: fields
// edgenet does not read stay in the parsed value, so the converter can report the ones that matter.
import { z } from 'zod';
import { formatPath } from '../config/config-load.ts';
import { ConfigError } from '../errors.ts';
import type { ConfigIssue } from '../errors.ts';

/** ZNetworkInstType (netinst.proto). */
export const NI_TYPES = {
  ZNetInstFirst: 0,
  ZnetInstSwitch: 1,
  ZnetInstLocal: 2,
  ZnetInstCloud: 3,
  ZnetInstMesh: 4,
  ZnetInstHoneyPot: 5,
  ZnetInstTransparent: 6,
  ZNetInstLast: 255,
} as const;

/** AddressType (netinst.proto). */
export const ADDRESS_TYPES = { First: 0, IPV4: 1, IPV6: 2, CryptoIPV4: 3, CryptoIPV6: 4, Last: 255 } as const;

/** PhyIoMemberUsage (devmodelcommon.proto). */
export const PHYIO_USAGES = {
  PhyIoUsageNone: 0,
  PhyIoUsageMgmtAndApps: 1,
  PhyIoUsageShared: 2,
  PhyIoUsageDedicated: 3,
  PhyIoUsageDisabled: 4,
  PhyIoUsageMgmtOnly: 5,
} as const;

/** Name of an enum value, for messages: `ZnetInstCloud (3)`. */
export function enumName(values: Record<string, number>, n: number): string {
  const name = Object.entries(values).find(([, v]) => v === n)?.[0];
  return name ? `${name} (${n})` : String(n);
}

// Protobuf JSON writes enums as names; parsers also take the number.
function protoEnum(what: string, values: Record<string, number>) {
  return z.union([z.number().int(), z.string()], { error: `must be a ${what} name or number` }).transform((v, ctx) => {
    if (typeof v === 'number') return v;
    const n = values[v];
    if (n !== undefined) return n;
    if (/^\d+$/.test(v)) return Number(v);
    ctx.addIssue({ code: 'custom', input: v, message: `unknown ${what} ${JSON.stringify(v)}: expected one of ${Object.keys(values).join(', ')}, or a number` });
    return z.NEVER;
  });
}

// uint32 is a JSON number; protobuf parsers also take a decimal string.
const u32 = z.union([z.number().int().min(0).max(4294967295), z.string().regex(/^\d+$/).transform(Number)], {
  error: 'must be a non-negative integer',
});
const str = z.string({ error: 'must be a string' });
const strList = z.array(str).default([]);
const bool = z.boolean({ error: 'must be true or false' });

export const uuidAndVersionSchema = z.looseObject({
  uuid: str.min(1, { error: 'must not be empty' }),
  version: str.optional(),
});

export const ipSpecSchema = z.looseObject({
  subnet: str.default(''),
  gateway: str.default(''),
  domain: str.default(''),
  ntp: str.default(''),
  moreNtp: strList,
  dns: strList,
  dhcpRange: z.looseObject({ start: str.default(''), end: str.default('') }).optional(),
});

export const staticDnsEntrySchema = z.looseObject({
  HostName: str.min(1, { error: 'must not be empty' }),
  Address: strList,
});

export const ipRouteSchema = z.looseObject({
  destinationNetwork: str.default(''),
  gateway: str.default(''),
  port: str.default(''),
});

export const networkInstanceSchema = z.looseObject({
  uuidandversion: uuidAndVersionSchema,
  displayname: str.default(''),
  instType: protoEnum('ZNetworkInstType', NI_TYPES).default(0),
  // proto3 JSON leaves false out: an absent activate is false.
  activate: bool.default(false),
  port: z.looseObject({ name: str.default('') }).optional(),
  stp: z.looseObject({ portsWithBpduGuard: str.default('') }).optional(),
  cfg: z.unknown().optional(),
  ipType: protoEnum('AddressType', ADDRESS_TYPES).default(0),
  ip: ipSpecSchema.optional(),
  dns: z.array(staticDnsEntrySchema).default([]),
  propagateConnectedRoutes: bool.default(false),
  staticRoutes: z.array(ipRouteSchema).default([]),
  mtu: u32.default(0),
  vlanAccessPorts: z.array(z.looseObject({ vlanId: u32.default(0), accessPort: str.default('') })).default([]),
  forwardLldp: bool.default(false),
});

export const aceSchema = z.looseObject({
  matches: z.array(z.looseObject({ type: str.default(''), value: str.default('') })).default([]),
  actions: z
    .array(
      z.looseObject({
        drop: bool.default(false),
        limit: bool.default(false),
        limitrate: u32.default(0),
        limitunit: str.default(''),
        limitburst: u32.default(0),
        portmap: bool.default(false),
        appPort: u32.default(0),
      }),
    )
    .default([]),
  name: str.optional(),
  id: u32.default(0),
});

export const networkAdapterSchema = z.looseObject({
  name: str.default(''),
  networkId: str.default(''),
  addr: str.default(''),
  macAddress: str.default(''),
  acls: z.array(aceSchema).default([]),
  accessVlanId: u32.default(0),
  allowToDiscover: bool.default(false),
});

export const appInstanceSchema = z.looseObject({
  uuidandversion: uuidAndVersionSchema,
  displayname: str.default(''),
  interfaces: z.array(networkAdapterSchema).default([]),
  userData: str.default(''),
});

export const systemAdapterSchema = z.looseObject({
  name: str.min(1, { error: 'must not be empty' }),
  lowerLayerName: str.default(''),
  sharedLabels: strList,
  uplink: bool.default(false),
  cost: u32.default(0),
  /** the NetworkConfig (`networks[].id`) with this port's own IP configuration */
  networkUUID: str.default(''),
});

export const physicalIoSchema = z.looseObject({
  logicallabel: str.default(''),
  phylabel: str.default(''),
  phyaddrs: z.record(z.string(), str).default({}),
  usage: protoEnum('PhyIoMemberUsage', PHYIO_USAGES).default(0),
});

/** BondMode (evecommon/netcmn.proto). */
export const BOND_MODES = {
  BOND_MODE_UNSPECIFIED: 0,
  BOND_MODE_BALANCE_RR: 1,
  BOND_MODE_ACTIVE_BACKUP: 2,
  BOND_MODE_BALANCE_XOR: 3,
  BOND_MODE_BROADCAST: 4,
  BOND_MODE_802_3AD: 5,
  BOND_MODE_BALANCE_TLB: 6,
  BOND_MODE_BALANCE_ALB: 7,
} as const;

/** LacpRate (evecommon/netcmn.proto). */
export const LACP_RATES = { LACP_RATE_UNSPECIFIED: 0, LACP_RATE_SLOW: 1, LACP_RATE_FAST: 2 } as const;

/** VlanAdapter (devmodel.proto): a VLAN sub-interface of a PhysicalIO or a bond (src/eve/eve-vlans-bonds.ts). */
export const vlanAdapterSchema = z.looseObject({
  logicallabel: str.default(''),
  interfaceName: str.default(''),
  lowerLayerName: str.default(''),
  vlanId: u32.default(0),
});

/** BondAdapter (devmodel.proto): PhysicalIOs aggregated. */
export const bondAdapterSchema = z.looseObject({
  logicallabel: str.default(''),
  interfaceName: str.default(''),
  lowerLayerNames: strList,
  bondMode: protoEnum('BondMode', BOND_MODES).default(0),
  mii: z.looseObject({ interval: u32.default(0), updelay: u32.default(0), downdelay: u32.default(0) }).optional(),
  arp: z.looseObject({ interval: u32.default(0), ipTargets: strList }).optional(),
  lacpRate: protoEnum('LacpRate', LACP_RATES).default(0),
});

export const edgeDevConfigSchema = z.looseObject({
  networkInstances: z.array(networkInstanceSchema, { error: 'must be a list of NetworkInstanceConfig' }).default([]),
  apps: z.array(appInstanceSchema, { error: 'must be a list of AppInstanceConfig' }).default([]),
  systemAdapterList: z.array(systemAdapterSchema, { error: 'must be a list of SystemAdapter' }).default([]),
  deviceIoList: z.array(physicalIoSchema, { error: 'must be a list of PhysicalIO' }).default([]),
  vlans: z.array(vlanAdapterSchema, { error: 'must be a list of VlanAdapter' }).default([]),
  bonds: z.array(bondAdapterSchema, { error: 'must be a list of BondAdapter' }).default([]),
  networks: z.array(z.unknown(), { error: 'must be a list of NetworkConfig' }).default([]),
});

export type EdgeDevConfig = z.output<typeof edgeDevConfigSchema>;
export type EveNetworkInstance = z.output<typeof networkInstanceSchema>;
export type EveApp = z.output<typeof appInstanceSchema>;
export type EveAdapter = z.output<typeof networkAdapterSchema>;
export type EveAce = z.output<typeof aceSchema>;
export type EveSystemAdapter = z.output<typeof systemAdapterSchema>;
export type EveVlanAdapter = z.output<typeof vlanAdapterSchema>;
export type EveBondAdapter = z.output<typeof bondAdapterSchema>;

// Fields whose keys are data (protobuf maps), not field names.
const MAP_FIELDS = new Set(['phyaddrs', 'cbattr']);

function camel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * Protobuf JSON parsers take both a field's JSON name (`staticRoutes`) and its proto name (`static_routes`), and read
 * `null` as the default: rewrite keys to JSON names and drop nulls, so the schema sees one spelling.
 */
export function normalizeProtoJson(value: unknown, path: PropertyKey[] = [], issues: ConfigIssue[] = []): unknown {
  if (Array.isArray(value)) return value.map((v, i) => normalizeProtoJson(v, [...path, i], issues));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  const spelled = new Map<string, string>();
  for (const [key, v] of Object.entries(value)) {
    if (v === null) continue;
    const name = camel(key);
    const other = spelled.get(name);
    if (other !== undefined) {
      issues.push({ path: formatPath([...path, name]), message: `given twice, as "${other}" and "${key}"` });
      continue;
    }
    spelled.set(name, key);
    out[name] = MAP_FIELDS.has(name) ? v : normalizeProtoJson(v, [...path, name], issues);
  }
  return out;
}

type ZodIssue = z.ZodError['issues'][number];

function describeInput(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  return 'an object';
}

function toIssue(issue: ZodIssue): ConfigIssue {
  const path = formatPath(issue.path);
  const input: unknown = issue.input;
  if (issue.code === 'invalid_type' && input === undefined) return { path, message: 'is required' };
  if (issue.code === 'invalid_type' || issue.code === 'invalid_union') return { path, message: `${issue.message}, got ${describeInput(input)}` };
  return { path, message: issue.message };
}

/** Validates the subset edgenet reads; throws ConfigError with paths into the EVE document. */
export function parseEdgeDevConfig(doc: unknown, source?: string): EdgeDevConfig {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ConfigError([{ path: '', message: `an EdgeDevConfig must be a JSON object, got ${describeInput(doc)}` }], source);
  }
  const issues: ConfigIssue[] = [];
  const normalized = normalizeProtoJson(doc, [], issues);
  if (issues.length > 0) throw new ConfigError(issues, source);
  const parsed = edgeDevConfigSchema.safeParse(normalized, { reportInput: true });
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map(toIssue), source);
  return parsed.data;
}
