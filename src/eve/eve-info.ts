// What EVE reports to its controller about network instances, built from edgenet's status and kernel facts:
// ZInfoNetworkInstance (eve-api info/info.proto) and ZMetricNetworkInstance (metrics/metrics.proto), as protobuf
// JSON (the proto's JSON field names; enums and uint32 as numbers; uint64 counters as decimal strings, as the
// protobuf JSON mapping writes 64-bit integers). An NI the document had but edgenet did not build is reported in
// error (state ZNETINST_STATE_ERROR, its reason in networkErr), as EVE reports an NI it could not create.
import { distinctUntilChanged, map, type Observable, type Subscription } from 'rxjs';
import type { Status } from '../edgenet-types.ts';
import type { AddressLearner, LearnedAddress } from '../drivers/address-learner.ts';
import { createNftAddressLearner } from '../drivers/address-learner-nft.ts';
import type { LinkCounters, LinkStatsReader } from '../drivers/link-stats.ts';
import { createNetlinkLinkStats } from '../drivers/link-stats.ts';

/** eve-api config/netinst.proto ZNetworkInstType */
export const ZNET_INST_TYPE = { ZnetInstSwitch: 1, ZnetInstLocal: 2 } as const;
/** eve-api info/info.proto ZNetworkInstanceState */
export const ZNETINST_STATE = { UNSPECIFIED: 0, INIT: 1, ONLINE: 2, ERROR: 3 } as const;
/** eve-api info/common.proto Severity */
export const SEVERITY = { UNSPECIFIED: 0, NOTICE: 1, WARNING: 2, ERROR: 3 } as const;

export interface ErrorInfo {
  description: string;
  timestamp: string;
  severity: number;
}

export interface ZInfoNetworkInstance {
  networkID: string;
  networkVersion: string;
  instType: number;
  displayname: string;
  activated: boolean;
  ports: string[];
  bridgeName: string;
  bridgeIPAddr: string;
  ipAssignments: { macAddress: string; ipAddress: string[] }[];
  vifs: { vifName: string; macAddress: string; appID: string }[];
  networkErr: ErrorInfo[];
  state: number;
  mtu: number;
}

/** metrics.proto networkMetric (uint64 as decimal strings) */
export interface NetworkMetric {
  iName: string;
  localName: string;
  txBytes: string;
  rxBytes: string;
  txDrops: string;
  rxDrops: string;
  txPkts: string;
  rxPkts: string;
  txErrors: string;
  rxErrors: string;
  txAclDrops: string;
  rxAclDrops: string;
  txAclRateLimitDrops: string;
  rxAclRateLimitDrops: string;
}

export interface NetworkStats {
  totalPackets: string;
  errors: string;
  drops: string;
  totalBytes: string;
}

export interface ZMetricNetworkInstance {
  networkID: string;
  networkVersion: string;
  instType: number;
  displayname: string;
  activated: boolean;
  network: NetworkMetric[];
  networkStats: { rx: NetworkStats; tx: NetworkStats };
}

/** ACL drop counters of one vif (h16's ACL chains fill them; absent: 0). */
export interface AclDrops {
  txAclDrops: bigint;
  rxAclDrops: bigint;
  txAclRateLimitDrops: bigint;
  rxAclRateLimitDrops: bigint;
}

export interface EveReportInput {
  /** the status, with `eve` when the running config came from an EVE document */
  status: Status;
  /** addresses learned on switch NIs */
  learned: readonly LearnedAddress[];
  /** kernel counters and MACs by ifname */
  links: ReadonlyMap<string, LinkCounters>;
  /** ACL drop counters by vif ifname (the hook for ACLs) */
  aclDrops?: ReadonlyMap<string, AclDrops>;
  now?: Date;
}

const DEFAULT_MTU = 1500;

interface NiView {
  name: string;
  uuid: string;
  displayname: string;
  version: string;
  type: 'local' | 'switch';
  /** built NI in status */
  built?: Status['networks'][number];
  /** why it is in error (refused, or built with an error) */
  error?: string;
}

function niViews(status: Status): NiView[] {
  const eveNets = status.eve?.names.networks ?? [];
  const byName = new Map(eveNets.map((n) => [n.name, n]));
  const views: NiView[] = status.networks.map((n) => {
    const e = byName.get(n.name);
    return { name: n.name, uuid: e?.uuid ?? n.name, displayname: e?.displayname ?? n.name, version: '', type: n.type, built: n, ...(e?.error !== undefined && { error: e.error }) };
  });
  for (const e of eveNets) {
    if (e.state !== 'refused' || status.networks.some((n) => n.name === e.name)) continue;
    views.push({ name: e.name, uuid: e.uuid, displayname: e.displayname, version: '', type: e.type ?? 'local', error: e.reason ?? 'refused' });
  }
  return views;
}

/** `ZInfoNetworkInstance` per NI (built ones, then the EVE document's refused ones). */
export function eveNetworkInstanceInfo(input: EveReportInput): ZInfoNetworkInstance[] {
  const { status, learned, links } = input;
  const now = (input.now ?? new Date()).toISOString();
  const taps = status.eve?.names.taps ?? [];
  const appIdOf = (app: string, network: string): string => taps.find((t) => t.app === app && t.network === network)?.appUuid ?? app;
  const labelOf = (port: string): string => status.eve?.names.ports.find((p) => p.name === port)?.adapter ?? port;
  return niViews(status).map((v): ZInfoNetworkInstance => {
    const n = v.built;
    const members = status.endpoints.filter((e) => e.network === v.name);
    const ipAssignments: ZInfoNetworkInstance['ipAssignments'] = [];
    if (n?.type === 'local') {
      const leased = new Map((n.leases ?? []).map((l) => [l.mac.toLowerCase(), l.ip]));
      for (const e of members) {
        const mac = (e.mac ?? '').toLowerCase();
        const ip = leased.get(mac) ?? e.ip;
        if (mac && ip) ipAssignments.push({ macAddress: mac, ipAddress: [ip] });
      }
      // the bridge's own address, as EVE lists it
      const bridgeMac = links.get(n.bridge)?.mac;
      if (bridgeMac && n.gateway) ipAssignments.push({ macAddress: bridgeMac, ipAddress: [n.gateway] });
    } else if (n) {
      for (const e of members) {
        const mac = (e.mac ?? '').toLowerCase();
        // a DHCP reply to the MAC says what it was given; its own traffic what it uses
        const ips = [...new Set([...learned.filter((l) => l.mac === mac && l.source === 'dhcp'), ...learned.filter((l) => l.mac === mac && l.source === 'traffic')].map((l) => l.ip))];
        if (mac && ips.length > 0) ipAssignments.push({ macAddress: mac, ipAddress: ips });
      }
    }
    const errors = [v.error, n && n.state !== 'ready' ? n.reason : undefined].filter((x): x is string => x !== undefined && x !== '');
    const activated = n !== undefined && (n.state === 'ready' || n.state === 'degraded');
    const state = v.error !== undefined ? ZNETINST_STATE.ERROR : activated ? ZNETINST_STATE.ONLINE : n ? ZNETINST_STATE.INIT : ZNETINST_STATE.UNSPECIFIED;
    return {
      networkID: v.uuid,
      networkVersion: v.version,
      instType: v.type === 'switch' ? ZNET_INST_TYPE.ZnetInstSwitch : ZNET_INST_TYPE.ZnetInstLocal,
      displayname: v.displayname,
      activated,
      ports: n?.port !== undefined ? [labelOf(n.port)] : [],
      bridgeName: n?.bridge ?? '',
      bridgeIPAddr: n?.type === 'local' ? (n.gateway ?? '') : '',
      ipAssignments,
      vifs: members.map((e) => ({ vifName: e.ifname, macAddress: (e.mac ?? '').toLowerCase(), appID: appIdOf(e.app, e.network) })),
      networkErr: errors.map((description) => ({ description, timestamp: now, severity: SEVERITY.ERROR })),
      state,
      mtu: (n ? links.get(n.bridge)?.mtu || undefined : undefined) ?? DEFAULT_MTU,
    };
  });
}

const str = (n: bigint): string => n.toString();

/** `ZMetricNetworkInstance` per built NI: each vif's kernel counters (host side, as EVE reads them), and the totals. */
export function eveNetworkInstanceMetrics(input: EveReportInput): ZMetricNetworkInstance[] {
  const { status, links } = input;
  const none: AclDrops = { txAclDrops: 0n, rxAclDrops: 0n, txAclRateLimitDrops: 0n, rxAclRateLimitDrops: 0n };
  return niViews(status).flatMap((v): ZMetricNetworkInstance[] => {
    const n = v.built;
    if (!n) return [];
    const ifnames = [...status.endpoints.filter((e) => e.network === v.name).map((e) => e.ifname), n.bridge];
    const network: NetworkMetric[] = [];
    const rx = { totalPackets: 0n, errors: 0n, drops: 0n, totalBytes: 0n };
    const tx = { totalPackets: 0n, errors: 0n, drops: 0n, totalBytes: 0n };
    for (const ifname of ifnames) {
      const c = links.get(ifname);
      if (!c) continue;
      const acl = input.aclDrops?.get(ifname) ?? none;
      network.push({
        iName: ifname,
        localName: ifname,
        txBytes: str(c.txBytes),
        rxBytes: str(c.rxBytes),
        txDrops: str(c.txDropped),
        rxDrops: str(c.rxDropped),
        txPkts: str(c.txPackets),
        rxPkts: str(c.rxPackets),
        txErrors: str(c.txErrors),
        rxErrors: str(c.rxErrors),
        txAclDrops: str(acl.txAclDrops),
        rxAclDrops: str(acl.rxAclDrops),
        txAclRateLimitDrops: str(acl.txAclRateLimitDrops),
        rxAclRateLimitDrops: str(acl.rxAclRateLimitDrops),
      });
      // as pillar's protoEncodeGenericInstanceMetric: bytes and packets of the vifs only, drops and errors of all
      if (ifname !== n.bridge) {
        rx.totalBytes += c.rxBytes;
        rx.totalPackets += c.rxPackets;
        tx.totalBytes += c.txBytes;
        tx.totalPackets += c.txPackets;
      }
      rx.errors += c.rxErrors;
      tx.errors += c.txErrors;
      rx.drops += c.rxDropped + acl.rxAclDrops + acl.rxAclRateLimitDrops;
      tx.drops += c.txDropped + acl.txAclDrops + acl.txAclRateLimitDrops;
    }
    const stats = (s: typeof rx): NetworkStats => ({ totalPackets: str(s.totalPackets), errors: str(s.errors), drops: str(s.drops), totalBytes: str(s.totalBytes) });
    return [
      {
        networkID: v.uuid,
        networkVersion: v.version,
        instType: v.type === 'switch' ? ZNET_INST_TYPE.ZnetInstSwitch : ZNET_INST_TYPE.ZnetInstLocal,
        displayname: v.displayname,
        activated: n.state === 'ready' || n.state === 'degraded',
        network,
        networkStats: { rx: stats(rx), tx: stats(tx) },
      },
    ];
  });
}

export interface EveReporterOptions {
  /** the status to report (the daemon's includes `eve`) */
  status: () => Status;
  /**
   * status changes: switch NIs coming and going start and stop learning on their bridges. Each change builds a whole
   * status (every endpoint): a caller that knows when NIs can change (after an apply) calls `refresh()` instead.
   */
  status$?: Observable<Status>;
  learner?: AddressLearner;
  stats?: LinkStatsReader;
  /** ACL drop counters by vif ifname, once ACLs exist (h16's per-endpoint chains): the hook for them */
  aclDrops?: () => Promise<ReadonlyMap<string, AclDrops>>;
  /** told when learning on the switch bridges cannot be set up */
  onError?: (err: unknown) => void;
}

export interface EveReporter {
  /** `ZInfoNetworkInstance` per NI, as protobuf JSON */
  info(): Promise<ZInfoNetworkInstance[]>;
  /** `ZMetricNetworkInstance` per NI, as protobuf JSON */
  metrics(): Promise<ZMetricNetworkInstance[]>;
  /**
   * Learning follows these switch NI bridges (call it after an apply; the caller that knows its config passes them:
   * cheaper than a whole status), or those of `status()` now.
   */
  refresh(switchBridges?: readonly string[]): void;
  /** stops following status; `remove`: the learning table goes too (teardown) */
  close(opts?: { remove?: boolean }): Promise<void>;
}

/** Reports EVE's NI info and metrics from a running edgenet (library and daemon). */
export function createEveReporter(opts: EveReporterOptions): EveReporter {
  const learner = opts.learner ?? createNftAddressLearner();
  const stats = opts.stats ?? createNetlinkLinkStats();
  let learning: Promise<void> = Promise.resolve();
  const switchBridges = (s: Status): string[] => s.networks.filter((n) => n.type === 'switch').map((n) => n.bridge).sort();
  let following: string | undefined;
  const follow = (bridges: string[]): void => {
    const key = bridges.join(' ');
    if (key === following) return;
    following = key;
    learning = learning.then(() => learner.ensure(bridges)).catch((err: unknown) => {
      // tried again on the next call
      following = undefined;
      opts.onError?.(err);
    });
  };
  const sub: Subscription | undefined = opts.status$
    ?.pipe(
      map((s) => switchBridges(s).join(' ')),
      distinctUntilChanged(),
    )
    .subscribe((key) => follow(key ? key.split(' ') : []));
  const input = async (): Promise<EveReportInput> => {
    const status = opts.status();
    follow(switchBridges(status));
    await learning;
    const [learned, links, aclDrops] = await Promise.all([learner.learned().catch(() => []), stats.read(), opts.aclDrops?.()]);
    return { status, learned, links, ...(aclDrops && { aclDrops }) };
  };
  return {
    refresh: (bridges) => follow(bridges ? [...bridges].sort() : switchBridges(opts.status())),
    info: async () => eveNetworkInstanceInfo(await input()),
    metrics: async () => eveNetworkInstanceMetrics(await input()),
    async close(o = {}) {
      sub?.unsubscribe();
      await learning;
      if (o.remove) await learner.remove();
      await stats.close();
    },
  };
}
