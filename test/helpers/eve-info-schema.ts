// Hand-written zod schemas of the eve-api messages edgenet reports, built from the .proto files (lf-edge/eve-api
// proto/info/info.proto ZInfoNetworkInstance, ZmetIPAssignmentEntry, ZmetVifInfo; info/common.proto ErrorInfo,
// Severity; metrics/metrics.proto ZMetricNetworkInstance, networkMetric, ZMetricNetworkStats, NetworkStats;
// config/netinst.proto ZNetworkInstType), in their protobuf JSON form: every field optional (proto3 omits
// defaults), no field the proto does not have (strict), uint32 and enums as numbers, uint64 as decimal strings
// (or numbers), Timestamp as RFC 3339 text.
import { z } from 'zod';

const uint32 = z.number().int().min(0).max(0xffffffff);
const uint64 = z.union([z.string().regex(/^\d+$/), z.number().int().min(0)]);
const timestamp = z.string().refine((t) => !Number.isNaN(Date.parse(t)), 'an RFC 3339 timestamp');
/** config/netinst.proto ZNetworkInstType */
const zNetworkInstType = z.number().int().refine((n) => [0, 1, 2, 3, 4, 5, 6, 255].includes(n), 'a ZNetworkInstType value');
/** info/info.proto ZNetworkInstanceState */
const zNetworkInstanceState = z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]);
/** info/common.proto Severity */
const severity = z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]);

const deviceEntity = z.strictObject({ entity: z.number().int().optional(), entityId: z.string().optional(), entityName: z.string().optional() });
export const errorInfo = z.strictObject({
  description: z.string().optional(),
  timestamp: timestamp.optional(),
  severity: severity.optional(),
  entities: z.array(deviceEntity).optional(),
  retryCondition: z.string().optional(),
});
const ipAssignment = z.strictObject({ macAddress: z.string().optional(), ipAddress: z.array(z.string()).optional() });
const vifInfo = z.strictObject({ vifName: z.string().optional(), macAddress: z.string().optional(), appID: z.string().optional() });
const ipRoute = z.strictObject({ destinationNetwork: z.string().optional(), gateway: z.string().optional(), port: z.string().optional(), gatewayApp: z.string().optional() });

export const zInfoNetworkInstance = z.strictObject({
  networkID: z.string().optional(),
  networkVersion: z.string().optional(),
  instType: zNetworkInstType.optional(),
  displayname: z.string().optional(),
  activated: z.boolean().optional(),
  upTimeStamp: timestamp.optional(),
  CurrentUplinkIntf: z.string().optional(),
  CurrentUplinkAlias: z.string().optional(),
  ports: z.array(z.string()).optional(),
  bridgeNum: uint32.optional(),
  bridgeName: z.string().optional(),
  bridgeIPAddr: z.string().optional(),
  ipAssignments: z.array(ipAssignment).optional(),
  vifs: z.array(vifInfo).optional(),
  ipv4Eid: z.boolean().optional(),
  networkErr: z.array(errorInfo).optional(),
  state: zNetworkInstanceState.optional(),
  mtu: uint32.optional(),
  ipRoutes: z.array(ipRoute).optional(),
});

const networkMetric = z.strictObject({
  iName: z.string().optional(),
  alias: z.string().optional(),
  txBytes: uint64.optional(),
  rxBytes: uint64.optional(),
  txDrops: uint64.optional(),
  rxDrops: uint64.optional(),
  txPkts: uint64.optional(),
  rxPkts: uint64.optional(),
  txErrors: uint64.optional(),
  rxErrors: uint64.optional(),
  txAclDrops: uint64.optional(),
  rxAclDrops: uint64.optional(),
  txAclRateLimitDrops: uint64.optional(),
  rxAclRateLimitDrops: uint64.optional(),
  localName: z.string().optional(),
});
const networkStats = z.strictObject({ totalPackets: uint64.optional(), errors: uint64.optional(), drops: uint64.optional(), totalBytes: uint64.optional() });

export const zMetricNetworkInstance = z.strictObject({
  networkID: z.string().optional(),
  networkVersion: z.string().optional(),
  instType: zNetworkInstType.optional(),
  displayname: z.string().optional(),
  activated: z.boolean().optional(),
  network: z.array(networkMetric).optional(),
  networkStats: z.strictObject({ rx: networkStats.optional(), tx: networkStats.optional() }).optional(),
});

export const eveInfoDocument = z.array(zInfoNetworkInstance);
export const eveMetricsDocument = z.array(zMetricNetworkInstance);
